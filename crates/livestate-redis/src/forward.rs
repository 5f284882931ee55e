//! Forwarding on Redis pub/sub: a message for a key's authority is published on
//! `P:{T}:req` only while a lease is held (one script checks both), and an answer on the
//! asking node's `P:node:N:ans`. Both are the engine's bytes, published as they are.

use crate::dispatch;
use crate::node::{RedisBackplane, boxed};
use bytes::Bytes;
use livestate_backplane::{BackplaneError, Forwarding, Fut, Lease};
use redis::AsyncCommands;
use std::time::Duration;
use tokio::sync::mpsc;

impl Forwarding for RedisBackplane {
    fn forward_timeout(&self) -> Duration {
        self.opts.forward_timeout
    }

    fn forward<'a>(&'a self, topic: &'a str, message: Bytes) -> Fut<'a, ()> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.forward.prepare_invoke();
            call.key(self.key(topic, "lease"))
                .arg(self.key(topic, "req"))
                .arg(message.as_ref());
            let receivers: i64 = self.run(call.invoke_async(&mut conn)).await?;
            if receivers > 0 {
                Ok(())
            } else {
                Err(BackplaneError::NoAuthority(topic.to_owned()))
            }
        })
    }

    fn serve<'a>(&'a self, lease: &'a Lease) -> Fut<'a, mpsc::Receiver<Bytes>> {
        boxed(async move {
            let (tx, rx) = mpsc::channel(4096);
            self.route(self.key(&lease.key, "req"), dispatch::Route::Requests(tx))
                .await?;
            Ok(rx)
        })
    }

    fn answer<'a>(&'a self, node: &'a str, message: Bytes) -> Fut<'a, ()> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let channel = self.answers_channel(node);
            let _: i64 = self.run(conn.publish(channel, message.as_ref())).await?;
            Ok(())
        })
    }

    fn take_answers(&self) -> Option<mpsc::Receiver<Bytes>> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}
