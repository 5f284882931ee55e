//! Running the channel's callbacks on the key's state: `init`, `handle_event`,
//! `handle_message`, each under the handler timeout and with panics caught. A callback's
//! changes wait in the state to be committed; when it fails they are undone (only its own:
//! those of the events before it in a group stay).

use super::KeyAuthority;
use crate::acl::Caller;
use crate::calls::ApiError;
use crate::channel::{
    Channel, ChannelError, EventContext, JoinContext, MessageContext, Reply, decode_params,
};
use crate::event::decode_event;
use crate::wire::Refusal;
use futures_util::FutureExt;
use livestate_doc::Tracked;
use serde_json::Value;
use std::panic::AssertUnwindSafe;

/// Why a callback did not produce a change, as a refusal of the change.
fn refused(e: ChannelError) -> Refusal {
    Refusal::Api(ApiError::from(e))
}

fn refused_with(reason: String) -> Refusal {
    Refusal::Api(ApiError::Refused(reason))
}

impl<C: Channel> KeyAuthority<C> {
    /// Build a state with `init`.
    pub(super) async fn init(
        &mut self,
        params: &Value,
        ctx: &JoinContext,
    ) -> Result<Tracked<C::State>, String> {
        let timeout = self.node.limits.handler_timeout;
        let params = decode_params::<C::Params>(params).map_err(|e| e.to_string())?;
        let run = AssertUnwindSafe(self.channel.init(&params, ctx)).catch_unwind();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(state))) => {
                Tracked::with_limits(state, self.config.limits).map_err(|e| e.to_string())
            }
            Ok(Ok(Err(e))) => Err(self.told(e).to_string()),
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, "init panicked");
                Err("init failed".to_owned())
            }
            Err(_) => Err(format!("init timed out after {timeout:?}")),
        }
    }

    /// A key written to or sent a message before anyone joined gets its state from `init`
    /// with `params` (a follower waits for the leader's).
    pub(super) async fn ensure_state(&mut self, params: &Value) -> Result<(), ApiError> {
        if self.state.has_state() {
            return Ok(());
        }
        if self.role.follows() {
            return Err(ApiError::Unavailable(self.topic.to_string()));
        }
        let ctx = JoinContext {
            topic: self.topic.to_string(),
            ..JoinContext::default()
        };
        match self.init(params, &ctx).await {
            Ok(state) => {
                self.state.set(state);
                self.commit_initial().await;
                self.send_state_to_waiting();
                Ok(())
            }
            Err(e) => {
                self.state.init_error = Some(e.clone());
                Err(ApiError::Refused(format!("init failed: {e}")))
            }
        }
    }

    /// What every node checks before running or forwarding an event: its payload is an
    /// object, the sender may send it (by its name, then as decoded), and it decodes.
    pub(super) fn check_event(&self, name: &str, payload: &Value) -> Result<C::Event, Refusal> {
        if !payload.is_object() {
            let e = ApiError::BadRequest("payload must be a JSON object".to_owned());
            return Err(Refusal::Api(e));
        }
        let acl = &self.config.settings.acl;
        let denied = |denied| Refusal::Api(ApiError::Denied(denied));
        let needs = self.config.settings.permissions_for(name);
        acl.check_all(Caller::Group, needs).map_err(denied)?;
        let event = decode_event::<C::Event>(name, payload)
            .map_err(|e| Refusal::Api(ApiError::from(ChannelError::from(e))))?;
        if let Some(needs) = self.channel.permissions(&event) {
            acl.check_all(Caller::Group, needs).map_err(denied)?;
        }
        Ok(event)
    }

    /// What a caller is told of a channel's error; an internal failure goes to the log.
    pub(super) fn told(&self, e: ChannelError) -> ChannelError {
        if let ChannelError::Internal(inner) = &e {
            tracing::error!(topic = %self.topic, "the channel failed: {inner}");
        }
        e
    }

    /// Run the channel's handler for a client event.
    pub(super) async fn run_event(
        &mut self,
        name: &str,
        payload: Value,
        ctx: &EventContext,
    ) -> Result<Reply, Refusal> {
        let event = self.check_event(name, &payload)?;
        let timeout = self.node.limits.handler_timeout;
        let channel = self.channel.clone();
        let Some(tracked) = self.state.tracked.as_mut() else {
            return Err(refused_with(self.state.missing(&self.topic)));
        };
        let run =
            AssertUnwindSafe(channel.handle_event(event, &mut tracked.state, ctx)).catch_unwind();
        let failure = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(reply))) => return Ok(reply),
            Ok(Ok(Err(e))) => {
                if let ChannelError::Internal(inner) = &e {
                    tracing::error!(topic = %self.topic, event = %name, "the handler failed: {inner}");
                }
                refused(e)
            }
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, event = %name, "handler panicked");
                Refusal::Failed(format!("handler for {name:?} failed"))
            }
            Err(_) => refused_with(format!("handler for {name:?} timed out after {timeout:?}")),
        };
        tracked.rollback_untaken();
        Err(failure)
    }

    /// Run `handle_message`.
    pub(super) async fn run_message(&mut self, message: Value) -> Result<(), Refusal> {
        let timeout = self.node.limits.handler_timeout;
        let channel = self.channel.clone();
        let ctx = MessageContext {
            topic: self.topic.to_string(),
        };
        let Some(tracked) = self.state.tracked.as_mut() else {
            return Err(refused_with(self.state.missing(&self.topic)));
        };
        let run = AssertUnwindSafe(channel.handle_message(message, &mut tracked.state, &ctx))
            .catch_unwind();
        let failure = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(()))) => return Ok(()),
            Ok(Ok(Err(e))) => {
                if let ChannelError::Internal(inner) = &e {
                    tracing::error!(topic = %self.topic, "the message handler failed: {inner}");
                }
                refused(e)
            }
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, "message handler panicked");
                refused_with("the message handler failed".to_owned())
            }
            Err(_) => refused_with(format!("the message handler timed out after {timeout:?}")),
        };
        tracked.rollback_untaken();
        Err(failure)
    }

    /// Replace the state with what `init` gives now (a reset).
    pub(super) async fn run_reset(&mut self) -> Result<(), Refusal> {
        let ctx = JoinContext {
            topic: self.topic.to_string(),
            ..JoinContext::default()
        };
        let fresh = match self.init(&Value::Object(Default::default()), &ctx).await {
            Ok(fresh) => fresh.state,
            Err(e) => return Err(refused_with(format!("init failed: {e}"))),
        };
        let Some(tracked) = self.state.tracked.as_mut() else {
            return Err(refused_with(self.state.missing(&self.topic)));
        };
        tracked.replace(fresh).map_err(|e| {
            tracked.rollback_untaken();
            Refusal::Api(ApiError::Limit(e.to_string()))
        })
    }
}
