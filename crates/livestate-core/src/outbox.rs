//! [`Outbox`]: a socket's bounded queue of frames to send.
//!
//! Every frame a socket receives goes through its one outbox, in order: replies from its
//! own session and pushes from the key authorities it joined. The transport drains it.
//!
//! ## Lagging
//!
//! Authorities never wait for a socket: they [`Outbox::try_push`], and when the outbox is
//! full the subscription is marked lagging and gets no more patches. Once the socket has
//! drained its outbox to half its capacity, the authority sends it a fresh `state:change`
//! (see `KeyAuthority`), so a slow client catches up with the current state instead of
//! holding an ever-growing backlog or silently diverging. Memory per socket is bounded by
//! the outbox capacity times the size of a frame handle.

use livestate_protocol::Text;
use tokio::sync::mpsc;

/// A unique id of a socket within this process.
pub type SocketId = u64;

/// The sending half of a socket's outbound queue.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Text>,
    max: usize,
}

/// The receiving half, drained by the transport's writer.
pub type OutboxReceiver = mpsc::Receiver<Text>;

/// What came of a [`Outbox::try_push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// The queue is full: the frame was dropped.
    Full,
    /// The socket is gone.
    Closed,
}

impl Outbox {
    /// A new outbox holding at most `capacity` frames.
    pub fn new(capacity: usize) -> (Outbox, OutboxReceiver) {
        let capacity = capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        (Outbox { tx, max: capacity }, rx)
    }

    /// Queue a frame, waiting for room. Used by a socket's own session for its replies,
    /// so a client that does not read stops being read from too. `false` when the socket
    /// is gone.
    pub async fn push(&self, frame: Text) -> bool {
        self.tx.send(frame).await.is_ok()
    }

    /// Queue a frame without waiting.
    pub fn try_push(&self, frame: Text) -> Pushed {
        match self.tx.try_send(frame) {
            Ok(()) => Pushed::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => Pushed::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Closed,
        }
    }

    /// Whether at least half of the outbox is free: a lagging subscription is resynced then.
    pub fn has_drained(&self) -> bool {
        self.tx.capacity() * 2 >= self.max
    }

    /// Whether the socket is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Whether two outboxes are the same queue.
    pub fn same_as(&self, other: &Outbox) -> bool {
        self.tx.same_channel(&other.tx)
    }
}
