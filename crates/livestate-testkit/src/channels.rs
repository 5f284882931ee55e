//! Channels whose behaviour tests need, and [`test_hub`], which routes them.
//!
//! | pattern | channel |
//! |---|---|
//! | `doc:*` | the built-in [`DocChannel`] |
//! | `conn:*` | a doc per join ([`Scope::Connection`]) |
//! | `fail:*` | init fails with `"init failed for TOPIC"` unless the join params have `"ok": true` |
//! | `panic:*` | a doc whose handler panics on the event `boom` |
//! | `counter:*` | `{"count": 0}`, event `increment` (and `noop`), `max_version` 1000 |
//! | `counter10:*` | the same with `max_version` 10 |
//! | `auth:*` | refuses joins without `"token": "secret"`; replies `whoami` with the join's user |
//! | `slow:*` | a doc whose event `sleep` waits `{"ms": N}` before returning |

use livestate_core::{
    Channel, ChannelError, Doc, DocChannel, EventContext, HubBuilder, JoinContext, Reply, Scope,
};
use serde_json::{Value, json};
use std::time::Duration;

/// A hub builder with every test channel routed.
pub fn test_hub() -> HubBuilder {
    livestate_core::Hub::builder()
        .channel("doc:*", DocChannel::default())
        .channel("conn:*", ConnectionDoc)
        .channel("fail:*", FailingInit)
        .channel("panic:*", Panicking)
        .channel("counter:*", Counter { max_version: 1000 })
        .channel("counter10:*", Counter { max_version: 10 })
        .channel("auth:*", Authorized)
        .channel("slow:*", Slow)
}

/// A doc per join.
pub struct ConnectionDoc;

impl Channel for ConnectionDoc {
    type State = Doc;
    fn scope(&self) -> Scope {
        Scope::Connection
    }
    async fn init(
        &self,
        topic: &str,
        params: &Value,
        ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        DocChannel::default().init(topic, params, ctx).await
    }
    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        DocChannel::default()
            .handle_event(event, payload, state, ctx)
            .await
    }
}

/// Init fails unless the params say `"ok": true`.
pub struct FailingInit;

impl Channel for FailingInit {
    type State = Doc;
    async fn init(
        &self,
        topic: &str,
        params: &Value,
        _ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        if params["ok"] == json!(true) {
            Ok(Doc::new(json!({"ok": true})))
        } else {
            Err(ChannelError::refused(format!("init failed for {topic}")))
        }
    }
    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        DocChannel::default()
            .handle_event(event, payload, state, ctx)
            .await
    }
}

/// A doc whose handler panics on `boom` (after changing the state, to show the rollback).
pub struct Panicking;

impl Channel for Panicking {
    type State = Doc;
    async fn init(
        &self,
        topic: &str,
        params: &Value,
        ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        DocChannel::default().init(topic, params, ctx).await
    }
    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        if event == "boom" {
            state.set("/half_done", true)?;
            panic!("boom, on purpose");
        }
        DocChannel::default()
            .handle_event(event, payload, state, ctx)
            .await
    }
}

/// A counter, as in LiveState's testbed.
pub struct Counter {
    /// Versions wrap after this.
    pub max_version: u64,
}

impl Channel for Counter {
    type State = Doc;
    fn max_version(&self) -> u64 {
        self.max_version
    }
    async fn init(
        &self,
        _topic: &str,
        _params: &Value,
        _ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"count": 0})))
    }
    async fn handle_event(
        &self,
        event: &str,
        _payload: Value,
        state: &mut Doc,
        _ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            "increment" => {
                state.increment("/count", 1)?;
                Ok(Reply::none())
            }
            "noop" => Ok(Reply::none()),
            "echo" => Ok(Reply::event(
                "echoed",
                json!({"count": state.value()["count"]}),
            )),
            other => Err(ChannelError::unknown_event(other)),
        }
    }
}

/// Joins need `"token": "secret"`; the join's `user` param becomes an assign.
pub struct Authorized;

impl Channel for Authorized {
    type State = Doc;
    async fn authorize(
        &self,
        _topic: &str,
        params: &Value,
        ctx: &mut JoinContext,
    ) -> Result<(), ChannelError> {
        if params["token"] != json!("secret") {
            return Err(ChannelError::refused("unauthorized"));
        }
        ctx.assign("user", params["user"].clone());
        Ok(())
    }
    async fn init(
        &self,
        _topic: &str,
        _params: &Value,
        _ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({})))
    }
    async fn handle_event(
        &self,
        event: &str,
        _payload: Value,
        _state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            "whoami" => Ok(Reply::event("you_are", json!({"user": ctx.get("user")}))),
            other => Err(ChannelError::unknown_event(other)),
        }
    }
}

/// A doc whose `sleep` event waits before returning.
pub struct Slow;

impl Channel for Slow {
    type State = Doc;
    async fn init(
        &self,
        topic: &str,
        params: &Value,
        ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        DocChannel::default().init(topic, params, ctx).await
    }
    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        if event == "sleep" {
            let ms = payload["ms"].as_u64().unwrap_or(100);
            state.set("/slept", ms)?;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            return Ok(Reply::none());
        }
        DocChannel::default()
            .handle_event(event, payload, state, ctx)
            .await
    }
}
