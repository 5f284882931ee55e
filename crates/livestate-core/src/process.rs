//! Topic processes: topics whose every join is a task of its own that answers the topic's
//! messages itself, as a Phoenix channel process does. Live views are served so.
//!
//! A [`Session`](crate::Session) serves them beside channels, with everything a socket
//! has (frame codec, heartbeat, bounded outbox, channel cap, close codes): it routes a
//! `phx_join` to [`TopicProcess::start`], hands the process every later message of the
//! topic whose join_ref is the current one (in order, through a bounded inbox, so a slow
//! process slows its socket's reading rather than growing memory), and on `phx_leave`,
//! a second join of the topic or the socket's end drops the inbox, which tells the
//! process to stop. `phx_leave` is answered by the session.
//!
//! The process answers the join itself (ok with its payload, or an error reply) and says
//! whether it stays through [`ProcessJoin::joined`]; until then the session reads no
//! further frame. A process that ends by itself (a panic, a failure it reported to the
//! client with `phx_error`) drops its [`ProcessJoin::ended`] guard, and the session forgets
//! the topic; a later message gets `unmatched topic`. A message already in the inbox when
//! the process ended goes with it, unanswered: the client has the `phx_error` and joins
//! again.

use crate::channel::Assigns;
use crate::metrics::ProcessMetrics;
use crate::outbox::Outbox;
use crate::subscriber::SubId;
use livestate_protocol::Message;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How many messages a process's inbox holds before its socket waits.
pub(crate) const INBOX: usize = 32;

/// Serves the joins of a topic pattern, each as a task of its own.
pub trait TopicProcess: Send + Sync + 'static {
    /// Start serving one join (spawn its task and return): answer the join through
    /// `join.outbox`, then tell the session through `join.joined` whether it stays.
    fn start(&self, join: ProcessJoin);
}

/// One join of a process's topic: what the process needs to answer it and serve it.
pub struct ProcessJoin {
    /// The joined topic.
    pub topic: String,
    /// The join's ref, which every push of this join carries.
    pub join_ref: Arc<str>,
    /// The `phx_join` message's ref, which the join's reply carries.
    pub r#ref: String,
    /// The join's payload (an object).
    pub params: Value,
    /// The socket's assigns (its connect params and what the connect callback added).
    pub socket: Arc<Assigns>,
    /// The socket's outbox: the process's replies and pushes.
    pub outbox: Outbox,
    /// The topic's later messages (boxed: an idle process's inbox then costs a few
    /// hundred bytes); closed when the client leaves, joins the topic again or the socket
    /// closes.
    pub inbox: mpsc::Receiver<Box<Message>>,
    /// Answer whether the join succeeded: `true` keeps the process in the socket's table.
    pub joined: oneshot::Sender<bool>,
    /// Dropped when the process ends: the session forgets the topic.
    pub ended: Ended,
    /// The node's figures for processes.
    pub metrics: ProcessMetrics,
}

/// Tells a session, when dropped, that a process (or a subscription) ended by itself.
pub struct Ended {
    tx: mpsc::UnboundedSender<SubId>,
    sub: SubId,
}

impl Ended {
    pub(crate) fn new(tx: mpsc::UnboundedSender<SubId>, sub: SubId) -> Ended {
        Ended { tx, sub }
    }
}

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.tx.send(self.sub);
    }
}

impl std::fmt::Debug for ProcessJoin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessJoin")
            .field("topic", &self.topic)
            .field("join_ref", &self.join_ref)
            .field("ref", &self.r#ref)
            .finish_non_exhaustive()
    }
}
