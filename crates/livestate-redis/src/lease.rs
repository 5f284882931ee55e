//! Leases in Redis: `P:{T}:lease` holds `node|epoch` and expires unless renewed;
//! `P:{T}:epoch` counts epochs up. Each step is one script (see `scripts`).

use crate::node::{RedisBackplane, boxed};
use livestate_backplane::CommitLog;
use livestate_backplane::{Acquired, BackplaneError, Fut, Lease, Leases};
use std::time::Duration;

impl Leases for RedisBackplane {
    fn lease_time(&self) -> Duration {
        self.opts.lease_time
    }

    fn acquire<'a>(&'a self, topic: &'a str) -> Fut<'a, Acquired> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.acquire.prepare_invoke();
            call.key(self.key(topic, "lease"))
                .key(self.key(topic, "epoch"))
                .arg(&self.opts.node)
                .arg(self.lease_ms());
            let reply: Vec<Option<String>> = self.run(call.invoke_async(&mut conn)).await?;
            match reply.first().and_then(Option::as_deref) {
                Some("ok") => {
                    let epoch = reply
                        .get(1)
                        .cloned()
                        .flatten()
                        .and_then(|e| e.parse().ok())
                        .ok_or_else(|| Self::corrupt(topic, "the epoch counter is not a number"))?;
                    // the first commit under this lease stores the whole state
                    self.set_logging(topic, false);
                    // only the lease holder commits: what is loaded now stays current
                    let snapshot = match self.load(topic).await {
                        Ok(s) => s,
                        Err(e @ BackplaneError::Corrupt { .. }) => {
                            // never applied blindly; the new authority starts from init
                            tracing::error!("{e}; starting {topic} from its init");
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    Ok(Acquired {
                        lease: Lease {
                            key: topic.to_owned(),
                            epoch,
                            node: self.opts.node.clone(),
                        },
                        snapshot,
                    })
                }
                Some("held") => Err(BackplaneError::Held {
                    key: topic.to_owned(),
                    holder: reply.get(1).cloned().flatten().unwrap_or_default(),
                }),
                _ => Err(Self::corrupt(
                    topic,
                    format!("unexpected answer to acquire: {reply:?}"),
                )),
            }
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> Fut<'a, ()> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.renew.prepare_invoke();
            call.key(self.key(&lease.key, "lease"))
                .arg(Self::lease_value(lease))
                .arg(self.lease_ms());
            let renewed: i64 = self.run(call.invoke_async(&mut conn)).await?;
            if renewed == 1 {
                Ok(())
            } else {
                Err(BackplaneError::Fenced {
                    key: lease.key.clone(),
                    epoch: lease.epoch,
                })
            }
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease, drop_state: bool) -> Fut<'a, ()> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.release.prepare_invoke();
            self.set_logging(&lease.key, false);
            call.key(self.key(&lease.key, "lease"))
                .key(self.key(&lease.key, "state"))
                .key(self.key(&lease.key, "log"))
                .arg(Self::lease_value(lease))
                .arg(if drop_state { "1" } else { "0" });
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }
}
