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
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// A unique id of a socket within this process.
pub type SocketId = u64;

/// The sending half of a socket's outbound queue, bounded in frames and in bytes.
///
/// Frames are shared (`Text` is a reference count), so the bytes a socket's queue holds
/// are what a stalled socket keeps alive; the byte bound caps that. One frame larger than
/// the bound still goes through an empty queue, so a big `state:change` is never refused
/// outright.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Text>,
    queued_bytes: Arc<AtomicUsize>,
    max_frames: usize,
    max_bytes: usize,
}

/// The receiving half, drained by the transport's writer.
#[derive(Debug)]
pub struct OutboxReceiver {
    rx: mpsc::Receiver<Text>,
    queued_bytes: Arc<AtomicUsize>,
}

/// What came of a [`Outbox::try_push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// The queue is full (in frames or bytes): the frame was dropped.
    Full,
    /// The socket is gone.
    Closed,
}

impl Outbox {
    /// A new outbox holding at most `max_frames` frames and (beyond its first frame)
    /// `max_bytes` bytes.
    pub fn new(max_frames: usize, max_bytes: usize) -> (Outbox, OutboxReceiver) {
        let max_frames = max_frames.max(1);
        let (tx, rx) = mpsc::channel(max_frames);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        (
            Outbox {
                tx,
                queued_bytes: queued_bytes.clone(),
                max_frames,
                max_bytes,
            },
            OutboxReceiver { rx, queued_bytes },
        )
    }

    /// Queue a frame, waiting for room. Used by a socket's own session for its replies,
    /// so a client that does not read stops being read from too. `false` when the socket
    /// is gone. (Replies are small; they count against the byte bound but never wait on it.)
    pub async fn push(&self, frame: Text) -> bool {
        let len = frame.len();
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if self.tx.send(frame).await.is_ok() {
            true
        } else {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            false
        }
    }

    /// Reserve room for one frame, waiting for it: the session reserves the slot of an
    /// event's reply before handing the event on, so a reply is never dropped and a client
    /// that does not read is not read from either. `None` when the socket is gone.
    pub async fn reserve(&self) -> Option<Slot> {
        let permit = self.tx.clone().reserve_owned().await.ok()?;
        Some(Slot {
            permit,
            queued_bytes: self.queued_bytes.clone(),
        })
    }

    /// Queue a frame without waiting.
    pub fn try_push(&self, frame: Text) -> Pushed {
        let len = frame.len();
        let queued = self.queued_bytes.load(Ordering::Relaxed);
        if queued > 0 && queued + len > self.max_bytes {
            return if self.tx.is_closed() {
                Pushed::Closed
            } else {
                Pushed::Full
            };
        }
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        match self.tx.try_send(frame) {
            Ok(()) => Pushed::Queued,
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                match e {
                    mpsc::error::TrySendError::Full(_) => Pushed::Full,
                    mpsc::error::TrySendError::Closed(_) => Pushed::Closed,
                }
            }
        }
    }

    /// Whether at least half of the outbox is free (frames and bytes): a lagging
    /// subscription is resynced then.
    pub fn has_drained(&self) -> bool {
        self.tx.capacity() * 2 >= self.max_frames
            && self.queued_bytes.load(Ordering::Relaxed) * 2 <= self.max_bytes
    }

    /// Bytes queued and not yet taken by the writer.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// The counter behind [`Outbox::queued_bytes`], for the metrics to read at a scrape.
    pub(crate) fn queued_bytes_counter(&self) -> &Arc<AtomicUsize> {
        &self.queued_bytes
    }

    /// Whether the socket is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Wait until the socket is gone (its receiver dropped).
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// Whether two outboxes are the same queue.
    pub fn same_as(&self, other: &Outbox) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// Room for one frame in an outbox, reserved by [`Outbox::reserve`].
#[derive(Debug)]
pub struct Slot {
    permit: mpsc::OwnedPermit<Text>,
    queued_bytes: Arc<AtomicUsize>,
}

impl Slot {
    /// Queue the frame in the reserved room.
    pub fn send(self, frame: Text) {
        self.queued_bytes.fetch_add(frame.len(), Ordering::Relaxed);
        self.permit.send(frame);
    }
}

impl OutboxReceiver {
    /// The next frame; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<Text> {
        let frame = self.rx.recv().await?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Text> {
        let frame = self.rx.try_recv().ok()?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Text {
        Text::from("x".repeat(n))
    }

    #[tokio::test]
    async fn bounded_in_frames_and_in_bytes() {
        let (out, mut rx) = Outbox::new(4, 100);
        assert_eq!(out.try_push(frame(60)), Pushed::Queued);
        assert_eq!(out.try_push(frame(60)), Pushed::Full, "over the byte bound");
        assert_eq!(out.try_push(frame(30)), Pushed::Queued);
        assert_eq!(out.queued_bytes(), 90);
        assert!(!out.has_drained());
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(60));
        assert!(out.has_drained());
        for _ in 0..3 {
            assert_eq!(out.try_push(frame(1)), Pushed::Queued);
        }
        assert_eq!(out.try_push(frame(1)), Pushed::Full, "over the frame bound");
        while rx.try_recv().is_some() {}
        assert_eq!(out.queued_bytes(), 0);
        drop(rx);
        assert_eq!(out.try_push(frame(1)), Pushed::Closed);
    }

    #[tokio::test]
    async fn a_reserved_slot_gets_through_a_full_outbox() {
        let (out, mut rx) = Outbox::new(2, 100);
        let slot = out.reserve().await.unwrap();
        assert_eq!(out.try_push(frame(90)), Pushed::Queued);
        assert_eq!(out.try_push(frame(1)), Pushed::Full);
        slot.send(frame(5));
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(90));
        assert_eq!(rx.recv().await.map(|f| f.len()), Some(5));
        assert_eq!(out.queued_bytes(), 0);
    }

    #[test]
    fn one_big_frame_passes_an_empty_queue() {
        let (out, _rx) = Outbox::new(4, 100);
        assert_eq!(out.try_push(frame(1000)), Pushed::Queued);
        assert_eq!(out.try_push(frame(1)), Pushed::Full);
    }
}
