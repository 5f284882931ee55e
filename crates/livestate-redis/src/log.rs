//! The commit log in Redis: `P:{T}:state` holds a snapshot (`json` at `version`), the last
//! committed version (`head`) and its `epoch`; `P:{T}:log` the changes after it, one
//! `"VERSION PATCH"` entry each; `P:{T}:ev:ID` the committed event ids. A commit is one
//! script that checks the lease, the event ids and the version, appends (or stores the
//! whole state and starts a new log) and publishes, all or nothing.

use crate::node::{MAX_LOG_ENTRIES, MIN_LOG_BYTES, RedisBackplane, boxed, unavailable};
use crate::wire::WireMsg;
use livestate_backplane::{
    BackplaneError, Change, Commit, CommitLog, Committed, Fut, Lease, Snapshot,
};
use livestate_doc::{Doc, StateLimits};
use livestate_protocol::PatchOp;
use serde_json::Value;

/// The stored snapshot's fields.
struct StoredFields {
    json: Option<String>,
    version: Option<String>,
    epoch: Option<String>,
    head: Option<String>,
}

impl RedisBackplane {
    /// The state at the last committed version, from the stored snapshot (`json` at
    /// `version`, `epoch`, `head`) and the change log after it, reporting what is malformed.
    fn snapshot(
        topic: &str,
        fields: StoredFields,
        log: Vec<String>,
    ) -> Result<Option<Snapshot>, BackplaneError> {
        let (Some(json), Some(version)) = (fields.json, fields.version) else {
            return Ok(None);
        };
        let state: Value = serde_json::from_str(&json)
            .map_err(|e| Self::corrupt(topic, format!("the stored state is not JSON: {e}")))?;
        let number = |what: &str, v: &str| {
            v.parse::<u64>().map_err(|_| {
                Self::corrupt(topic, format!("the stored {what} {v:?} is not a number"))
            })
        };
        let mut at = number("version", &version)?;
        let head = match fields.head {
            Some(h) => number("head", &h)?,
            None => at,
        };
        let epoch = fields.epoch.and_then(|e| e.parse().ok()).unwrap_or(0);
        // the log holds changes an authority made within its limits; replaying it needs no
        // more than the depth ceiling, which keeps the walk bounded whatever Redis holds
        let mut doc = Doc::with_limits(state, StateLimits::TRUSTED);
        for entry in &log {
            let parsed = entry.split_once(' ').and_then(|(v, patch)| {
                let v = v.parse::<u64>().ok()?;
                let ops = serde_json::from_str::<Vec<PatchOp>>(patch).ok()?;
                Some((v, ops))
            });
            let Some((v, ops)) = parsed else {
                return Err(Self::corrupt(topic, "a logged change is malformed"));
            };
            if v != at + 1 {
                return Err(Self::corrupt(
                    topic,
                    format!("the change log skips from version {at} to {v}"),
                ));
            }
            doc.replay(&ops).map_err(|e| {
                Self::corrupt(topic, format!("the logged change {v} does not apply: {e}"))
            })?;
            doc.settle();
            at = v;
        }
        if at != head {
            return Err(Self::corrupt(
                topic,
                format!("the change log ends at version {at}, the key is at {head}"),
            ));
        }
        Ok(Some(Snapshot {
            state: doc.into_value(),
            version: at,
            epoch,
        }))
    }

    pub(crate) fn set_logging(&self, topic: &str, on: bool) {
        let mut logging = self.logging.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            if !logging.contains(topic) {
                logging.insert(topic.to_owned());
            }
        } else {
            logging.remove(topic);
        }
    }

    pub(crate) fn is_logging(&self, topic: &str) -> bool {
        self.logging
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(topic)
    }

    /// Seconds a committed event id is remembered: longer than any retry of it.
    pub(crate) fn event_marker_secs(&self) -> u64 {
        (self.opts.forward_timeout.as_secs() * 4).max(60)
    }
}

impl CommitLog for RedisBackplane {
    fn load<'a>(&'a self, topic: &'a str) -> Fut<'a, Option<Snapshot>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let key = self.key(topic, "state");
            #[allow(clippy::type_complexity)]
            let ((json, version, epoch, head), log): (
                (
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                ),
                Vec<String>,
            ) = self
                .run(
                    redis::pipe()
                        .atomic()
                        .cmd("HMGET")
                        .arg(&key)
                        .arg("json")
                        .arg("version")
                        .arg("epoch")
                        .arg("head")
                        .cmd("LRANGE")
                        .arg(self.key(topic, "log"))
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn),
                )
                .await?;
            let fields = StoredFields {
                json,
                version,
                epoch,
                head,
            };
            Self::snapshot(topic, fields, log)
        })
    }

    fn commit<'a>(&'a self, lease: &'a Lease, commit: Commit<'a>) -> Fut<'a, Committed> {
        boxed(async move {
            let key = &lease.key;
            // per change: the published message, whether it names an event, the log entry
            let mut per_change = Vec::with_capacity(commit.changes.len());
            for (i, staged) in commit.changes.iter().enumerate() {
                let version = commit.version + i as u64;
                let change = WireMsg::Change(Change {
                    epoch: lease.epoch,
                    version,
                    patch: staged.patch.to_vec(),
                    reset: staged.reset,
                    note: staged.note.cloned(),
                });
                let message = serde_json::to_string(&change).map_err(unavailable)?;
                let patch = serde_json::to_string(staged.patch).map_err(unavailable)?;
                let marker = match staged.event {
                    Some(e) => self.key(key, &format!("ev:{}", e.0)),
                    None => self.key(key, "ev:-"),
                };
                per_change.push((
                    message,
                    staged.event.is_some(),
                    format!("{version} {patch}"),
                    marker,
                ));
            }
            let reset = commit.changes.iter().any(|c| c.reset);
            let mut whole = commit.whole || reset || !self.is_logging(key);
            loop {
                // the whole state is serialized only when it is stored
                let state = if whole {
                    serde_json::to_string(commit.state).map_err(unavailable)?
                } else {
                    String::new()
                };
                let mut conn = self.conn.clone();
                let mut call = self.scripts.commit.prepare_invoke();
                call.key(self.key(key, "lease"))
                    .key(self.key(key, "state"))
                    .key(self.key(key, "log"));
                for (_, _, _, marker) in &per_change {
                    call.key(marker);
                }
                call.arg(Self::lease_value(lease))
                    .arg(commit.version)
                    .arg(lease.epoch)
                    .arg(self.key(key, "chg"))
                    .arg(if whole { "1" } else { "0" })
                    .arg(state)
                    .arg(self.event_marker_secs())
                    .arg(per_change.len());
                for (message, has_event, entry, _) in &per_change {
                    call.arg(message)
                        .arg(if *has_event { "1" } else { "0" })
                        .arg(entry);
                }
                let reply: Vec<Option<String>> = self.run(call.invoke_async(&mut conn)).await?;
                let field = |i: usize| reply.get(i).cloned().flatten().unwrap_or_default();
                let number = |i: usize| field(i).parse::<u64>().unwrap_or(0);
                return match reply.first().and_then(Option::as_deref) {
                    Some("ok") => {
                        let (log_bytes, log_entries, snapshot_bytes) =
                            (number(1), number(2), number(3));
                        let due = log_bytes > snapshot_bytes.max(MIN_LOG_BYTES)
                            || log_entries >= MAX_LOG_ENTRIES;
                        self.set_logging(key, !due);
                        Ok(Committed::Done)
                    }
                    Some("whole") if !whole => {
                        whole = true;
                        continue;
                    }
                    Some("fenced") => {
                        self.set_logging(key, false);
                        Err(BackplaneError::Fenced {
                            key: key.clone(),
                            epoch: lease.epoch,
                        })
                    }
                    Some("dup") => Ok(Committed::Duplicate {
                        index: number(1) as usize,
                        version: field(2).parse().unwrap_or(commit.version),
                    }),
                    Some("order") => Err(BackplaneError::OutOfOrder {
                        key: key.clone(),
                        version: commit.version,
                        stored: number(1),
                    }),
                    Some("corrupt") => Err(Self::corrupt(
                        key,
                        format!("the stored version {:?} is not a number", field(1)),
                    )),
                    _ => Err(Self::corrupt(
                        key,
                        format!("unexpected answer to commit: {reply:?}"),
                    )),
                };
            }
        })
    }
}
