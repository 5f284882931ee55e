//! Joining a key: the join reply, `init`, `state:change`, presence; refreshing a
//! subscriber.

use super::*;
use serde_json::{Map, json};

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_join(&mut self, req: JoinRequest) {
        let JoinRequest {
            sub,
            outbox,
            join_ref,
            r#ref,
            params,
            ctx,
            slot,
            ended,
            joined,
        } = req;
        if let Some(reason) = &self.unavailable {
            slot.send(frame::reply_error(
                Some(&join_ref),
                r#ref.as_deref(),
                &self.topic,
                reason,
            ));
            let _ = joined.send(false);
            return;
        }
        if let Err(denied) = self.acl.check(Caller::Group, Permission::Read) {
            slot.send(frame::reply_error(
                Some(&join_ref),
                r#ref.as_deref(),
                &self.topic,
                &denied.to_string(),
            ));
            let _ = joined.send(false);
            return;
        }
        slot.send(frame::reply_ok(
            Some(&join_ref),
            r#ref.as_deref(),
            &self.topic,
        ));
        let mut has_state = self.state.is_some();
        // a follower without state asks the leader to build it (and waits for it)
        let ask_leader = !has_state && self.follows();
        if !has_state && !ask_leader {
            match self.init(&params, &ctx).await {
                Ok(state) => {
                    self.state = Some(state);
                    self.init_error = None;
                    has_state = true;
                    self.commit_initial().await;
                    self.send_state_to_waiting();
                }
                Err(message) => {
                    outbox.try_push(frame::push(
                        Some(&join_ref),
                        &self.topic,
                        event::ERROR,
                        &ErrorPush { message: &message },
                    ));
                    self.init_error = Some(message);
                }
            }
        }
        let mut lagging = false;
        if has_state {
            if let Some(change) = self.state_change() {
                lagging = outbox.try_push(frame::for_channel(&join_ref, &change)) == Pushed::Full;
            }
        }
        if lagging {
            self.lagging += 1;
        }
        let presence = match (self.presence, ctx.presence) {
            (true, Some((key, meta))) => Some((key, with_phx_ref(meta, &self.node, sub))),
            _ => None,
        };
        self.subs.insert(
            sub,
            Subscriber {
                outbox,
                ended,
                join_ref,
                ctx: EventContext {
                    topic: self.topic.to_string(),
                    socket: ctx.socket,
                    assigns: Arc::new(ctx.assigns),
                },
                has_state,
                lagging,
                presence,
            },
        );
        if self.presence {
            self.presence_joined(sub);
        }
        let _ = joined.send(true);
        if ask_leader {
            let body = crate::backplane::RequestBody::Api {
                caller: Caller::Group,
                op: crate::backplane::ApiCall::Init(params),
            };
            self.forward(body, cluster::Waiter::Init).await;
        }
    }

    /// `init` failed (on the leader, for a follower): the subscribers waiting for the state
    /// get the `error` push.
    pub(super) fn init_failed_for_waiting(&mut self, message: &str) {
        self.init_error = Some(message.to_owned());
        for sub in self.subs.values().filter(|s| !s.has_state) {
            sub.outbox.try_push(frame::push(
                Some(&sub.join_ref),
                &self.topic,
                event::ERROR,
                &ErrorPush { message },
            ));
        }
    }

    /// After an `init` succeeded: the subscribers that joined while it was failing get
    /// the state now.
    pub(super) fn send_state_to_waiting(&mut self) {
        let Some(change) = self.state_change() else {
            return;
        };
        for sub in self.subs.values_mut().filter(|s| !s.has_state) {
            sub.has_state = true;
            let change = frame::for_channel(&sub.join_ref, &change);
            if sub.outbox.try_push(change) == Pushed::Full && !sub.lagging {
                sub.lagging = true;
                self.lagging += 1;
            }
        }
    }

    pub(super) fn refresh(&mut self, sub: SubId) {
        let Some(change) = self.state_change() else {
            return;
        };
        if let Some(s) = self.subs.get_mut(&sub) {
            if s.outbox.try_push(frame::for_channel(&s.join_ref, &change)) == Pushed::Queued {
                s.has_state = true;
                if s.lagging {
                    s.lagging = false;
                    self.lagging -= 1;
                }
            }
        }
    }
}

/// Presence, in the format phoenix.js's `Presence` consumes: `presence_state` is
/// `{key: {"metas": [meta, ...]}}`, `presence_diff` is `{"joins": {...}, "leaves": {...}}`,
/// and every meta carries a `phx_ref` unique to its join.
impl<C: Channel> KeyAuthority<C> {
    /// Every tracked subscriber, grouped by presence key.
    pub(super) fn presence_map(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let remote = self
            .cluster
            .iter()
            .flat_map(|c| c.remote_presence.iter())
            .map(|e| (&e.key, &e.meta));
        let local = self
            .subs
            .values()
            .filter_map(|s| s.presence.as_ref())
            .map(|(k, m)| (k, m));
        for (key, meta) in local.chain(remote) {
            let entry = map
                .entry(key.clone())
                .or_insert_with(|| json!({"metas": []}));
            if let Some(metas) = entry["metas"].as_array_mut() {
                metas.push(meta.clone());
            }
        }
        map
    }

    /// A subscriber joined a key with presence: it gets the whole presence, and if it is
    /// tracked, everyone gets its join.
    fn presence_joined(&mut self, sub: SubId) {
        let Some(joiner) = self.subs.get(&sub) else {
            return;
        };
        let state = frame::push(
            Some(&joiner.join_ref),
            &self.topic,
            event::PRESENCE_STATE,
            &self.presence_map(),
        );
        joiner.outbox.try_push(state);
        if let Some((key, meta)) = joiner.presence.clone() {
            let diff = json!({"joins": {key.clone(): {"metas": [meta.clone()]}}, "leaves": {}});
            let frame = frame::broadcast(&self.topic, event::PRESENCE_DIFF, &diff);
            self.fan_out(&frame);
            self.share_presence(true, key, meta);
        }
    }

    /// Queue a local presence join or leave for the cluster (sent by the task's loop).
    fn share_presence(&mut self, join: bool, key: String, meta: Value) {
        if self.cluster.is_none() {
            return;
        }
        let phx_ref = meta["phx_ref"].as_str().unwrap_or_default().to_owned();
        let entry = PresenceEntry {
            node: self.node.clone(),
            phx_ref,
            key,
            meta,
        };
        if join {
            self.presence_out.0.push(entry);
        } else {
            self.presence_out.1.push(entry);
        }
    }

    /// A tracked subscriber is gone: everyone left gets its leave.
    pub(super) fn presence_left(&mut self, (key, meta): (String, Value)) {
        let diff = json!({"joins": {}, "leaves": {key.clone(): {"metas": [meta.clone()]}}});
        let frame = frame::broadcast(&self.topic, event::PRESENCE_DIFF, &diff);
        self.fan_out(&frame);
        self.share_presence(false, key, meta);
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
