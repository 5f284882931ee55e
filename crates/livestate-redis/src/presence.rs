//! Presence and attachment in Redis: `P:{T}:pres` holds the key's presence entries
//! (`node|phx_ref` → entry), published on the key's bus as they change; `P:{T}:att` the
//! nodes with subscribers, each with when its attachment lapses.

use crate::node::{RedisBackplane, boxed, unavailable};
use crate::wire::WireMsg;
use livestate_backplane::{Fut, Presence, PresenceEntry};
use redis::AsyncCommands;

impl Presence for RedisBackplane {
    fn attach<'a>(&'a self, topic: &'a str, count: usize) -> Fut<'a, ()> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.attach.prepare_invoke();
            call.key(self.key(topic, "att"))
                .arg(&self.opts.node)
                .arg(count)
                .arg(self.lease_ms());
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }

    fn attached_elsewhere<'a>(&'a self, topic: &'a str) -> Fut<'a, usize> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.elsewhere.prepare_invoke();
            call.key(self.key(topic, "att")).arg(&self.opts.node);
            let n: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn track<'a>(
        &'a self,
        topic: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> Fut<'a, ()> {
        boxed(async move {
            let field = |e: &PresenceEntry| format!("{}|{}", e.node, e.phx_ref);
            let mut args = Vec::new();
            for e in &joins {
                args.push(field(e));
                args.push(serde_json::to_string(e).map_err(unavailable)?);
            }
            let left: Vec<String> = leaves.iter().map(field).collect();
            let count = joins.len();
            let message =
                serde_json::to_string(&WireMsg::Presence { joins, leaves }).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let mut call = self.scripts.track.prepare_invoke();
            call.key(self.key(topic, "pres"))
                .key(self.node_key(&self.opts.node, "pkeys"))
                .arg(self.key(topic, "chg"))
                .arg(message)
                .arg(topic)
                .arg(count);
            for a in &args {
                call.arg(a);
            }
            for l in &left {
                call.arg(l);
            }
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }

    fn presence<'a>(&'a self, topic: &'a str) -> Fut<'a, Vec<PresenceEntry>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let raw: Vec<String> = self.run(conn.hvals(self.key(topic, "pres"))).await?;
            let mut entries = Vec::new();
            for text in raw {
                match serde_json::from_str::<PresenceEntry>(&text) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        tracing::error!("malformed presence entry for {topic}: {e}; left out")
                    }
                }
            }
            // only nodes that are alive
            let mut nodes: Vec<String> = entries.iter().map(|e| e.node.clone()).collect();
            nodes.sort();
            nodes.dedup();
            let mut alive = Vec::new();
            for node in nodes {
                let exists: bool = self.run(conn.exists(self.node_key(&node, ""))).await?;
                if exists {
                    alive.push(node);
                }
            }
            entries.retain(|e| alive.contains(&e.node));
            Ok(entries)
        })
    }
}
