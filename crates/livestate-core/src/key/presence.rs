//! Presence, in the format phoenix.js's `Presence` consumes: `presence_state` is
//! `{key: {"metas": [meta, ...]}}`, `presence_diff` is `{"joins": {...}, "leaves": {...}}`,
//! and every meta carries a `phx_ref` unique to its join. In a cluster every node shares
//! its own joins and leaves through the backplane and merges the others'; and reports how
//! many subscribers it has of the key (its attachment), so the leader keeps the key while
//! any node has some.

use super::KeyAuthority;
use crate::channel::Channel;
use crate::subscriber::{Broadcast, SubId};
use livestate_backplane::PresenceEntry;
use livestate_protocol::event;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

impl<C: Channel> KeyAuthority<C> {
    /// Every tracked subscriber here and on other nodes, grouped by presence key.
    fn presence_map(&self) -> Map<String, Value> {
        let remote = self
            .role
            .cluster()
            .into_iter()
            .flat_map(|c| c.remote_presence.iter())
            .map(|e| (&e.key, &e.meta));
        let local = self
            .subs
            .iter()
            .filter_map(|(_, s)| s.presence.as_ref())
            .map(|(k, m)| (k, m));
        let mut map = Map::new();
        for (key, meta) in local.chain(remote) {
            group(&mut map, key, meta);
        }
        map
    }

    /// A subscriber joined a key with presence: it gets the whole presence, and if it is
    /// tracked, everyone gets its join.
    pub(super) fn presence_joined(&mut self, sub: SubId) {
        let state = Value::Object(self.presence_map());
        let Some(joiner) = self.subs.get_mut(sub) else {
            return;
        };
        joiner.sink.push(&self.topic, event::PRESENCE_STATE, &state);
        if let Some((key, meta)) = joiner.presence.clone() {
            let diff = json!({"joins": {key.clone(): {"metas": [meta.clone()]}}, "leaves": {}});
            self.broadcast_presence(&diff);
            self.queue_presence(true, key, meta);
        }
    }

    /// A tracked subscriber is gone: everyone left gets its leave.
    pub(super) fn presence_left(&mut self, (key, meta): (String, Value)) {
        let diff = json!({"joins": {}, "leaves": {key.clone(): {"metas": [meta.clone()]}}});
        self.broadcast_presence(&diff);
        self.queue_presence(false, key, meta);
    }

    /// The whole presence again, to everyone (after a follower reloaded it).
    pub(super) fn send_presence_state(&mut self) {
        let state = Value::Object(self.presence_map());
        let frame = Broadcast::new(&self.topic, event::PRESENCE_STATE, &state);
        let gone = self.subs.broadcast(&frame);
        self.gone(gone);
    }

    fn broadcast_presence(&mut self, diff: &Value) {
        let frame = Broadcast::new(&self.topic, event::PRESENCE_DIFF, diff);
        let gone = self.subs.broadcast(&frame);
        self.gone(gone);
    }

    /// Queue a local join or leave for the cluster (shared by the run loop).
    fn queue_presence(&mut self, join: bool, key: String, meta: Value) {
        let node = self.node.id.clone();
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        let phx_ref = meta["phx_ref"].as_str().unwrap_or_default().to_owned();
        let entry = PresenceEntry {
            node,
            phx_ref,
            key,
            meta,
        };
        if join {
            cluster.presence_out.0.push(entry);
        } else {
            cluster.presence_out.1.push(entry);
        }
    }

    /// Tell the cluster about this node's queued presence joins and leaves.
    pub(super) async fn share_presence(&mut self) {
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        if cluster.presence_out.0.is_empty() && cluster.presence_out.1.is_empty() {
            return;
        }
        let (joins, leaves) = std::mem::take(&mut cluster.presence_out);
        if let Err(e) = cluster.backplane.track(&self.topic, joins, leaves).await {
            tracing::warn!(topic = %self.topic, "cannot share presence: {e}");
        }
    }

    /// Other nodes' joins and leaves.
    pub(super) fn on_remote_presence(
        &mut self,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) {
        let node = &self.node.id;
        let joins: Vec<PresenceEntry> = joins.into_iter().filter(|e| &e.node != node).collect();
        let leaves: Vec<PresenceEntry> = leaves.into_iter().filter(|e| &e.node != node).collect();
        if joins.is_empty() && leaves.is_empty() {
            return;
        }
        if let Some(cluster) = self.role.cluster_mut() {
            cluster.remote_presence.retain(|e| {
                !leaves
                    .iter()
                    .any(|l| l.node == e.node && l.phx_ref == e.phx_ref)
            });
            cluster.remote_presence.extend(joins.iter().cloned());
        }
        if self.config.settings.presence {
            let (mut joined, mut left) = (Map::new(), Map::new());
            for e in &joins {
                group(&mut joined, &e.key, &e.meta);
            }
            for e in &leaves {
                group(&mut left, &e.key, &e.meta);
            }
            self.broadcast_presence(&json!({"joins": joined, "leaves": left}));
        }
    }

    /// Other nodes' presence entries, from the backplane.
    pub(super) async fn load_presence(&mut self) {
        let node = self.node.id.clone();
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        match cluster.backplane.presence(&self.topic).await {
            Ok(entries) => {
                cluster.remote_presence = entries.into_iter().filter(|e| e.node != node).collect();
            }
            Err(e) => tracing::warn!(topic = %self.topic, "cannot load the key's presence: {e}"),
        }
    }

    /// Report how many subscribers this node has of the key, when it changed or a third of
    /// the lease time has passed (an attachment lapses unless repeated).
    pub(super) async fn report_attachment(&mut self) {
        let local = self.subs.len();
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        let now = Instant::now();
        let third = cluster.backplane.lease_time() / 3;
        let due = match cluster.attached {
            Some((count, at)) => count != local || (local > 0 && now >= at + third),
            None => local > 0,
        };
        if !due {
            return;
        }
        match cluster.backplane.attach(&self.topic, local).await {
            Ok(()) => cluster.attached = Some((local, now)),
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot report the key's subscribers: {e}")
            }
        }
    }
}

/// Add one meta under its key to a presence map.
fn group(map: &mut Map<String, Value>, key: &str, meta: &Value) {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| json!({"metas": []}));
    if let Some(metas) = entry["metas"].as_array_mut() {
        metas.push(meta.clone());
    }
}
