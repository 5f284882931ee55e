//! Channels whose state is a plain Rust type (serde), and messages from Rust code, driven
//! in-process with the testing helpers.

use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{
    Channel, ChannelError, EventContext, Hub, JoinContext, MessageContext, Reply,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Todos {
    todos: Vec<Todo>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Todo {
    text: String,
    done: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum TodoEvent {
    AddTodo { text: String },
    Toggle { index: usize },
    ClearThenFail,
    ClearThenPanic,
}

struct TodoChannel;

impl Channel for TodoChannel {
    type State = Todos;
    type Event = TodoEvent;
    type Params = IgnoredAny;

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Todos, ChannelError> {
        Ok(Todos::default())
    }

    async fn handle_event(
        &self,
        event: TodoEvent,
        state: &mut Todos,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            TodoEvent::AddTodo { text } => state.todos.push(Todo { text, done: false }),
            TodoEvent::Toggle { index } => {
                let todo = state
                    .todos
                    .get_mut(index)
                    .ok_or_else(|| ChannelError::refused(format!("no todo {index}")))?;
                todo.done = !todo.done;
            }
            TodoEvent::ClearThenFail => {
                state.todos.clear();
                return Err(ChannelError::refused("changed my mind"));
            }
            TodoEvent::ClearThenPanic => {
                state.todos.clear();
                panic!("on purpose");
            }
        }
        Ok(Reply::none())
    }

    async fn handle_message(
        &self,
        message: Value,
        state: &mut Todos,
        ctx: &MessageContext,
    ) -> Result<(), ChannelError> {
        let text = message["remind"].as_str().ok_or_else(|| {
            ChannelError::refused(format!("{}: a reminder needs \"remind\"", ctx.topic))
        })?;
        state.todos.push(Todo {
            text: text.to_owned(),
            done: false,
        });
        Ok(())
    }
}

fn hub() -> Hub {
    Hub::builder().channel("todo:*", TodoChannel).build()
}

#[tokio::test]
async fn a_serde_state_is_diffed_into_patches() -> Result<(), TestError> {
    let hub = hub();
    let mut a = TestChannel::join(&hub, "todo:1", json!({})).await?;
    assert_eq!(a.state(), &json!({"todos": []}));
    let pushed = a.push("add_todo", json!({"text": "milk"})).await?;
    assert_eq!(
        pushed.patch,
        json!([{"op": "add", "path": "/todos/0", "value": {"text": "milk", "done": false}}])
    );
    let pushed = a.push("toggle", json!({"index": 0})).await?;
    assert_eq!(
        pushed.patch,
        json!([{"op": "replace", "path": "/todos/0/done", "value": true}])
    );
    let mut late = TestChannel::join(&hub, "todo:1", json!({})).await?;
    assert_eq!(
        late.state(),
        &json!({"todos": [{"text": "milk", "done": true}]})
    );
    assert_eq!(late.version(), 2);
    late.push("add_todo", json!({"text": "eggs"})).await?;
    a.next_change().await?;
    assert_eq!(a.state(), late.state());
    Ok(())
}

#[tokio::test]
async fn undecodable_payloads_name_the_field() -> Result<(), TestError> {
    let hub = hub();
    let mut a = TestChannel::join(&hub, "todo:2", json!({})).await?;
    let err = a
        .push("add_todo", json!({"txt": "typo"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("bad payload for add_todo: missing field `text`".into())
    );
    let err = a
        .push("toggle", json!({"index": "zero"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("bad payload for toggle: index: invalid type: string \"zero\""),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_or_failed_event_leaves_a_serde_state_as_it_was() -> Result<(), TestError> {
    let hub = hub();
    let mut a = TestChannel::join(&hub, "todo:3", json!({})).await?;
    a.push("add_todo", json!({"text": "keep me"})).await?;
    let err = a.push("clear_then_fail", json!({})).await.unwrap_err();
    assert_eq!(err, TestError::Refused("changed my mind".into()));
    assert_eq!(
        a.state(),
        &json!({"todos": [{"text": "keep me", "done": false}]})
    );
    let err = a.push("clear_then_panic", json!({})).await.unwrap_err();
    assert!(matches!(err, TestError::Failed(_)), "{err:?}");
    // a fresh join (as the client's rejoin) sees the state from before the panic
    let b = TestChannel::join(&hub, "todo:3", json!({})).await?;
    assert_eq!(
        b.state(),
        &json!({"todos": [{"text": "keep me", "done": false}]})
    );
    assert_eq!(b.version(), 1);
    Ok(())
}

#[tokio::test]
async fn messages_from_rust_reach_every_joiner() -> Result<(), TestError> {
    let hub = hub();
    let mut a = TestChannel::join(&hub, "todo:4", json!({})).await?;
    let version = hub
        .send("todo:4", json!({"remind": "call mom"}))
        .await
        .unwrap();
    assert_eq!(version, 1);
    a.next_change().await?;
    assert_eq!(
        a.state(),
        &json!({"todos": [{"text": "call mom", "done": false}]})
    );
    let err = hub.send("todo:4", json!({"nope": 1})).await.unwrap_err();
    assert_eq!(err.to_string(), "todo:4: a reminder needs \"remind\"");
    // a key nobody joined yet is started (init with empty params) by a message
    hub.send("todo:5", json!({"remind": "early"}))
        .await
        .unwrap();
    let b = TestChannel::join(&hub, "todo:5", json!({})).await?;
    assert_eq!(
        b.state(),
        &json!({"todos": [{"text": "early", "done": false}]})
    );
    Ok(())
}
