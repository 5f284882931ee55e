//! The bus on Redis pub/sub: a key's committed changes and presence diffs on the channel
//! `P:{T}:chg` (published by the commit and track scripts, in order), and broadcasts to
//! every node on `P:bcast`.

use crate::dispatch;
use crate::node::{RedisBackplane, boxed, unavailable};
use livestate_backplane::{Broadcast, Bus, Fut, Published};
use redis::AsyncCommands;
use tokio::sync::mpsc;

impl Bus for RedisBackplane {
    fn subscribe<'a>(&'a self, topic: &'a str) -> Fut<'a, mpsc::Receiver<Published>> {
        boxed(async move {
            let (tx, rx) = mpsc::channel(4096);
            self.route(self.key(topic, "chg"), dispatch::Route::Changes(tx))
                .await?;
            Ok(rx)
        })
    }

    fn broadcast<'a>(&'a self, message: Broadcast) -> Fut<'a, ()> {
        boxed(async move {
            let message = serde_json::to_string(&message).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let _: i64 = self
                .run(conn.publish(self.broadcast_channel(), message))
                .await?;
            Ok(())
        })
    }

    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>> {
        self.broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
