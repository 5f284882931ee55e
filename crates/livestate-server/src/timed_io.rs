//! A write timeout on every connection the server accepts.
//!
//! hyper polls a response body only when the socket can take more, so a client that stops
//! reading a long response (an event stream, a large state) would hold its connection, and
//! whatever the body had in hand, for as long as TCP keeps the window shut: forever. Here
//! a write that can make no progress for the write timeout fails with `TimedOut`, hyper
//! drops the connection, and with it the body and what it queued. The WebSocket transport
//! has its own timeout on whole batches (see `ws`), which fires first; this one is the
//! floor under everything else.

use axum::serve::Listener;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A [`Listener`] whose connections time out writes that make no progress.
pub(crate) struct WriteTimeout<L> {
    inner: L,
    timeout: Duration,
}

impl<L> WriteTimeout<L> {
    pub(crate) fn new(inner: L, timeout: Duration) -> WriteTimeout<L> {
        WriteTimeout { inner, timeout }
    }
}

impl<L: Listener> Listener for WriteTimeout<L> {
    type Io = TimedWrites<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        (TimedWrites::new(io, self.timeout), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An IO whose writes fail with `TimedOut` once they have been pending, with no byte
/// taken, for the timeout.
pub(crate) struct TimedWrites<T> {
    io: T,
    timeout: Duration,
    /// Made at the first stall and reset at each one after.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether a write is pending now (the stall timer runs).
    stalled: bool,
}

impl<T> TimedWrites<T> {
    fn new(io: T, timeout: Duration) -> TimedWrites<T> {
        TimedWrites {
            io,
            timeout,
            stall: None,
            stalled: false,
        }
    }

    /// What a write returned: progress disarms the timer; `Pending` arms it (from the
    /// first stall) and fails once it has run out.
    fn watch<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = false;
            return poll;
        }
        let deadline = Instant::now() + self.timeout;
        let stall = match &mut self.stall {
            Some(stall) if self.stalled => stall,
            Some(stall) => {
                stall.as_mut().reset(deadline);
                stall
            }
            None => self
                .stall
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.stalled = true;
        ready!(stall.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took nothing for the write timeout",
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.io).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A write to a peer that reads nothing fails after the timeout (virtual time), and
    /// one that the peer keeps taking never does, however long it runs.
    #[tokio::test(start_paused = true)]
    async fn stalled_writes_time_out_and_moving_ones_do_not() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut timed = TimedWrites::new(ours, Duration::from_secs(2));
        // the peer reads slowly but steadily: 64 bytes a second, for 60 s
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut read = 0;
            while read < 64 * 60 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                read += theirs.read(&mut buf).await.unwrap();
            }
            theirs
        });
        timed.write_all(&[7u8; 64 * 60]).await.unwrap();
        let theirs = reader.await.unwrap();
        // now nobody reads: the buffer fills and the next write stalls
        let started = Instant::now();
        let err = timed.write_all(&[7u8; 1024]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        drop(theirs);
    }
}
