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
//! | `room:*` | a doc with presence: join params `{"presence": {"key": ..., "meta": {...}}}` |
//! | `openfail:*` | as `fail:*`, and everyone may write (to reach init over HTTP) |
//! | `news:*` | as `conn:*`, and everyone may write (to message it over HTTP) |
//!
//! Every [`TestDoc`] takes messages (`Hub::send`, `Hub::broadcast`, HTTP) of the form
//! `{"path": "/a", "value": ...}`, which set that value; any other message is refused.

use livestate_core::acl::{Acl, Permissions};
use livestate_core::doc_channel::DocEvent;
use livestate_core::event::{AnyEvent, decode_event};
use livestate_core::{
    Channel, ChannelError, Doc, DocChannel, EventContext, HubBuilder, JoinContext, MessageContext,
    Reply, Scope, Settings,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::time::Duration;

/// A hub builder with every test channel routed.
pub fn test_hub() -> HubBuilder {
    livestate_core::Hub::builder()
        .channel("doc:*", DocChannel::default())
        .channel("conn:*", TestDoc::new().scope(Scope::Connection))
        .channel("fail:*", TestDoc::new().failing_init())
        .channel("panic:*", TestDoc::new().panic_on_boom())
        .channel("counter:*", Counter { max_version: 1000 })
        .channel("counter10:*", Counter { max_version: 10 })
        .channel("auth:*", Authorized)
        .channel("slow:*", TestDoc::new().sleep_event())
        .channel("room:*", DocChannel::default().presence(true))
        .channel(
            "openfail:*",
            TestDoc::new().failing_init().acl(Acl {
                group: Permissions::ALL,
                public: Permissions::ALL,
            }),
        )
        .channel(
            "news:*",
            TestDoc::new().scope(Scope::Connection).acl(Acl {
                group: Permissions::ALL,
                public: Permissions::ALL,
            }),
        )
}

/// The `doc:` channel with test behaviours switched on.
#[derive(Debug, Clone, Default)]
pub struct TestDoc {
    scope: Scope,
    acl: Acl,
    failing_init: bool,
    panic_on_boom: bool,
    sleep_event: bool,
}

impl TestDoc {
    /// A plain shared doc.
    pub fn new() -> TestDoc {
        TestDoc::default()
    }

    /// With this ACL (default: group all, public read).
    pub fn acl(mut self, acl: Acl) -> TestDoc {
        self.acl = acl;
        self
    }

    /// With this scope.
    pub fn scope(mut self, scope: Scope) -> TestDoc {
        self.scope = scope;
        self
    }

    /// Init fails with `"init failed for TOPIC"` unless the join params have `"ok": true`
    /// (then the state is `{"ok": true}`).
    pub fn failing_init(mut self) -> TestDoc {
        self.failing_init = true;
        self
    }

    /// The event `boom` sets `/half_done` and then panics (to show the rollback).
    pub fn panic_on_boom(mut self) -> TestDoc {
        self.panic_on_boom = true;
        self
    }

    /// The event `sleep` `{"ms": N}` sets `/slept` and waits N ms before returning.
    pub fn sleep_event(mut self) -> TestDoc {
        self.sleep_event = true;
        self
    }
}

impl Channel for TestDoc {
    type State = Doc;
    /// Untyped: `boom` and `sleep`, and the `doc:` events.
    type Event = AnyEvent;
    type Params = Value;

    fn settings(&self) -> Settings {
        let settings = if self.scope == Scope::Connection {
            Settings::connection()
        } else {
            Settings::shared()
        };
        settings.acl(self.acl)
    }

    async fn init(&self, params: &Value, ctx: &JoinContext) -> Result<Doc, ChannelError> {
        if self.failing_init {
            return if params["ok"] == json!(true) {
                Ok(Doc::new(json!({"ok": true})))
            } else {
                Err(ChannelError::refused(format!(
                    "init failed for {}",
                    ctx.topic
                )))
            };
        }
        DocChannel::default().init(params, ctx).await
    }

    async fn handle_event(
        &self,
        event: AnyEvent,
        state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event.name.as_str() {
            "boom" if self.panic_on_boom => {
                state.set("/half_done", true)?;
                panic!("boom, on purpose");
            }
            "sleep" if self.sleep_event => {
                let ms = event.payload["ms"].as_u64().unwrap_or(100);
                state.set("/slept", ms)?;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(Reply::none())
            }
            name => {
                let doc_event = decode_event::<DocEvent>(name, &event.payload)?;
                DocChannel::default()
                    .handle_event(doc_event, state, ctx)
                    .await
            }
        }
    }

    async fn handle_message(
        &self,
        message: Value,
        state: &mut Doc,
        _: &MessageContext,
    ) -> Result<(), ChannelError> {
        let Some(path) = message["path"].as_str() else {
            return Err(ChannelError::refused(
                "a message is {\"path\": \"/a\", \"value\": ...}",
            ));
        };
        state.set(path, message["value"].clone())?;
        Ok(())
    }
}

/// A counter, as in LiveState's testbed.
pub struct Counter {
    /// Versions wrap after this.
    pub max_version: u64,
}

/// The counter's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterEvent {
    /// Add one.
    Increment,
    /// Change nothing.
    Noop,
    /// Reply with the count.
    Echo,
}

impl Channel for Counter {
    type State = Doc;
    type Event = CounterEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().max_version(self.max_version)
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"count": 0})))
    }

    async fn handle_event(
        &self,
        event: CounterEvent,
        state: &mut Doc,
        _ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            CounterEvent::Increment => {
                state.increment("/count", 1)?;
                Ok(Reply::none())
            }
            CounterEvent::Noop => Ok(Reply::none()),
            CounterEvent::Echo => Ok(Reply::event(
                "echoed",
                json!({"count": state.value()["count"]}),
            )),
        }
    }
}

/// Joins need `"token": "secret"`; the join's `user` param becomes an assign.
pub struct Authorized;

/// What an [`Authorized`] join sends.
#[derive(Deserialize)]
pub struct AuthParams {
    /// Must be `"secret"`.
    #[serde(default)]
    token: Option<String>,
    /// Who joins.
    #[serde(default)]
    user: Value,
}

/// The events of [`Authorized`].
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthEvent {
    /// Reply with the join's user.
    Whoami,
}

impl Channel for Authorized {
    type State = Doc;
    type Event = AuthEvent;
    type Params = AuthParams;

    async fn authorize(
        &self,
        params: &AuthParams,
        ctx: &mut JoinContext,
    ) -> Result<(), ChannelError> {
        if params.token.as_deref() != Some("secret") {
            return Err(ChannelError::refused("unauthorized"));
        }
        ctx.assign("user", params.user.clone());
        Ok(())
    }

    async fn init(&self, _: &AuthParams, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({})))
    }

    async fn handle_event(
        &self,
        event: AuthEvent,
        _state: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            AuthEvent::Whoami => Ok(Reply::event("you_are", json!({"user": ctx.get("user")}))),
        }
    }
}
