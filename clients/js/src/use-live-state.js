// useLiveState: a React hook over phx-live-state's LiveState (none is published on npm).
//
//   const { state, version, error, pushEvent } = useLiveState({
//     url: "ws://" + location.host + "/socket",
//     topic: "todo:1",
//     params: { list: "groceries" },          // optional join params
//   });
//
// - Connects (socket and channel join) when the component mounts, disconnects when it
//   unmounts, and reconnects when url, topic or params change (params are compared by value,
//   so an object literal per render is fine). `socketOptions` is read when it connects.
// - `state` and `version` are those of the last `livestate-change` (undefined until the
//   first one). `state` is a new object after every change, even one that changed nothing
//   (phx-live-state copies it on each patch), so `state !== before` means "a change came".
// - `error` is the detail of the last `livestate-error` ({type, message}) since the last
//   change, or null.
// - `pushEvent(name, payload)` sends the event `lvs_evt:<name>` (a no-op before mounting).

import { useCallback, useEffect, useRef, useState } from 'react';
import { LiveState } from 'phx-live-state';

const NOTHING_YET = { state: undefined, version: undefined };

export function useLiveState({ url, topic, params, socketOptions }) {
  const [change, setChange] = useState(NOTHING_YET);
  const [error, setError] = useState(null);
  const live = useRef(null);
  const options = useRef(socketOptions);
  options.current = socketOptions;
  const key = JSON.stringify([url, topic, params ?? {}]);

  useEffect(() => {
    const [url, topic, params] = JSON.parse(key);
    const ls = new LiveState({ url, topic, params, socketOptions: options.current });
    const onChange = ({ detail: { state, version } }) => {
      setChange({ state, version });
      setError(null);
    };
    const onError = ({ detail }) => setError(detail);
    ls.addEventListener('livestate-change', onChange);
    ls.addEventListener('livestate-error', onError);
    live.current = ls;
    setChange(NOTHING_YET);
    setError(null);
    ls.connect();
    return () => {
      live.current = null;
      ls.removeEventListener('livestate-change', onChange);
      ls.removeEventListener('livestate-error', onError);
      ls.disconnect();
    };
  }, [key]);

  const pushEvent = useCallback((name, payload = {}) => live.current?.pushEvent(name, payload), []);

  return { state: change.state, version: change.version, error, pushEvent };
}
