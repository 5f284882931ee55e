// The React page of the todo example, on the useLiveState hook of clients/js.
// Built into react-todo.js (committed) by clients/js/build.mjs: `node build.mjs --react`.
// `phx-live-state` is not bundled: the hook's import of it is pointed at /livestate.js,
// the client the server already serves.

import { useState } from "react";
import { createRoot } from "react-dom/client";
import { useLiveState } from "../../../clients/js/src/use-live-state.js";

function TodoList() {
  const { state, error, pushEvent } = useLiveState({
    url: location.origin.replace(/^http/, "ws") + "/socket",
    topic: "todo:1",
  });
  const [todo, setTodo] = useState("");
  // `state` is a new object after every change: the button stays disabled from a submit
  // until the next change, as on the plain page.
  const [sentFrom, setSentFrom] = useState(null);

  const submit = (e) => {
    e.preventDefault();
    setSentFrom(state);
    pushEvent("add_todo", { todo });
    setTodo("");
  };

  return (
    <>
      <h1>todo list (React)</h1>
      <form onSubmit={submit}>
        <input
          name="todo"
          placeholder="something to do"
          autoComplete="off"
          required
          value={todo}
          onChange={(e) => setTodo(e.target.value)}
        />
        <button disabled={state === undefined || state === sentFrom}>Add</button>
      </form>
      <ul>
        {(state?.todos ?? []).map((t, i) => (
          <li key={i}>{t}</li>
        ))}
      </ul>
      {error && <p role="alert">{error.message}</p>}
    </>
  );
}

createRoot(document.getElementById("root")).render(<TodoList />);
