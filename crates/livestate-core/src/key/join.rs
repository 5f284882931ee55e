//! Joining and leaving a key: the join reply, `init` for the first joiner, the state for
//! every joiner, refreshing a subscriber, and what is left when one goes.

use super::job::Asker;
use super::{Exit, KeyAuthority};
use crate::acl::{Caller, Permission};
use crate::channel::Channel;
use crate::mailbox::JoinRequest;
use crate::subscriber::{SubId, Subscriber};
use crate::wire::{ApiCall, RequestBody};
use livestate_protocol::event;
use serde_json::{Map, Value, json};

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_join(&mut self, req: JoinRequest) -> Option<Exit> {
        let JoinRequest {
            sub,
            mut sink,
            params,
            ctx,
            reply,
            joined,
        } = req;
        if let Some(reason) = &self.unavailable {
            reply(Err(reason));
            let _ = joined.send(false);
            return None;
        }
        if let Err(denied) = self
            .config
            .settings
            .acl
            .check(Caller::Group, Permission::Read)
        {
            reply(Err(&denied.to_string()));
            let _ = joined.send(false);
            return None;
        }
        reply(Ok(()));
        // a follower without state asks the leader to build it (and waits for it)
        let ask_leader = !self.state.has_state() && self.role.follows();
        if !self.state.has_state() && !ask_leader {
            match self.init(&params, &ctx).await {
                Ok(state) => {
                    self.state.set(state);
                    self.commit_initial().await;
                    self.send_state_to_waiting();
                }
                Err(message) => {
                    tracing::debug!(topic = %self.topic, "init failed: {message}");
                    sink.push(&self.topic, event::ERROR, &json!({ "message": message }));
                    self.state.init_error = Some(message);
                }
            }
        }
        let presence = match (self.config.settings.presence, ctx.presence) {
            (true, Some((key, meta))) => Some((key, with_phx_ref(meta, &self.node.id, sub))),
            _ => None,
        };
        let event_ctx = crate::channel::EventContext {
            topic: self.topic.to_string(),
            socket: ctx.socket,
            assigns: std::sync::Arc::new(ctx.assigns),
        };
        // what waits goes out before the joiner is in: the state it gets includes it
        self.flush();
        self.subs
            .insert(sub, Subscriber::new(sink, Some(event_ctx), presence));
        self.state
            .with_whole(&self.topic, |whole| self.subs.whole_to(sub, whole));
        if self.config.settings.presence {
            self.presence_joined(sub);
        }
        let _ = joined.send(true);
        if ask_leader {
            let body = RequestBody::Api {
                caller: Caller::Group,
                call: ApiCall::Init(params),
            };
            self.forward_all(vec![(body, Asker::Init, None)]).await;
        }
        None
    }

    /// `init` failed (on the leader, for a follower): the subscribers waiting for the state
    /// get the `error` push.
    pub(super) fn init_failed_for_waiting(&mut self, message: &str) {
        self.state.init_error = Some(message.to_owned());
        let ids: Vec<SubId> = self
            .subs
            .iter()
            .filter(|(_, s)| !s.has_state())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(s) = self.subs.get_mut(id) {
                s.sink
                    .push(&self.topic, event::ERROR, &json!({ "message": message }));
            }
        }
    }

    /// After an `init` succeeded: the subscribers that joined while it was failing get
    /// the state now.
    pub(super) fn send_state_to_waiting(&mut self) {
        self.flush();
        let gone = self
            .state
            .with_whole(&self.topic, |whole| self.subs.whole_to_all(whole, true))
            .unwrap_or_default();
        self.gone(gone);
    }

    /// `lvs_refresh`: the subscriber gets the whole state.
    pub(super) fn refresh(&mut self, sub: SubId) {
        self.flush();
        self.state
            .with_whole(&self.topic, |whole| self.subs.whole_to(sub, whole));
    }

    /// A subscriber leaves (or a Rust one detaches).
    pub(super) fn remove(&mut self, sub: SubId) {
        if let Some(s) = self.subs.remove(sub) {
            self.gone(vec![s]);
        }
    }

    /// Subscribers that are gone: everyone left gets their presence leaves.
    pub(super) fn gone(&mut self, gone: Vec<Subscriber>) {
        for s in gone {
            if let Some(entry) = s.presence {
                self.presence_left(entry);
            }
        }
    }
}

/// The meta with the join's `phx_ref`, unique in the cluster (a meta that is not an
/// object goes under `"meta"`).
fn with_phx_ref(meta: Value, node: &str, sub: SubId) -> Value {
    let mut object = match meta {
        Value::Object(map) => map,
        other => Map::from_iter([("meta".to_owned(), other)]),
    };
    object.insert("phx_ref".to_owned(), Value::String(format!("{node}:{sub}")));
    Value::Object(object)
}
