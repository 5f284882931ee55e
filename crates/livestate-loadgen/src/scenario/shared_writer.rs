//! The writers of the shared-key scenarios (`shared.rs`): each puts
//! `{"s": WRITER, "n": SEQ, "t": NS}` at `/m` of the key, its share of the rate on a fixed
//! schedule (writer `i` of `W` at `start + (i + k·W) / rate`), the writes due sent together
//! when it wakes late; each write takes the run's next sequence number and notes its
//! write time in the [`Book`] before it leaves.
//!
//! - [`socket`]: a phx-live-state socket joined to the key, `lvs_evt:put` (a socket's own
//!   change: with coalescing, the engine sends it to every subscriber at once).
//! - [`http`]: the HTTP state API on one keep-alive connection, requests pipelined:
//!   `PUT /api/state/KEY?path=/m` (a change from no socket: coalescing applies).

use super::super::{Shared, Tally, Timeline, heartbeat_interval, reason_of};
use super::Book;
use crate::clock;
use crate::live::Server;
use crate::target::{Conn, Incoming, SetupError, Target};
use crate::wire::{Msg, encode_msg};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The most writes a writer sends at once (when it fell behind its schedule).
const MAX_BATCH: usize = 1000;

/// When writer `index`'s `k`-th write is due.
fn schedule(sh: &Shared, tl: Timeline, index: u64) -> impl Fn(u64) -> Instant {
    let rate = sh.cfg.rate.max(1e-9);
    let step = sh.cfg.senders.max(1) as f64 / rate;
    let offset = index as f64 / rate;
    move |k: u64| tl.start + Duration::from_secs_f64(offset + k as f64 * step)
}

/// A write was answered (acknowledged): count it, and inside the window apart.
fn answered(sh: &Shared, t: &mut Tally) {
    t.received += 1;
    let now = clock::now_ns();
    if let Some(tl) = *sh.timeline.borrow() {
        if (tl.warm_end_ns..tl.end_ns).contains(&now) {
            t.window += 1;
        }
    }
}

/// A phx-live-state writer, joined to the key: a reader drains what the server sends it
/// (its replies, the key's patches).
pub(super) async fn socket(conn: Conn, index: u64, sh: &Shared, book: &Book, t: &mut Tally) {
    let Conn { ws, mut proto } = conn;
    let (mut sink, mut stream) = ws.split();
    let mut reader_t = Tally::default();
    let stop = Notify::new();
    let reader = async {
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let msg = tokio::select! {
                biased;
                msg = stream.next() => msg,
                () = &mut cancelled => break,
                () = stop.notified() => break,
            };
            match msg {
                Some(Ok(Message::Text(text))) => match Target::Livestate.classify(text.as_str()) {
                    // a write's reply (not a heartbeat's)
                    Incoming::Reply {
                        ok: true, r#ref, ..
                    } if !r#ref.starts_with("hb") => answered(sh, &mut reader_t),
                    Incoming::Ended => reader_t.channel_errors += 1,
                    Incoming::Reply {
                        ok: false, text, ..
                    } => {
                        reader_t.error_replies += 1;
                        reader_t.error(|| reason_of(text));
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    reader_t.disconnects += 1;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
    };
    let writer = async {
        let Some(tl) = sh.timeline().await else {
            return;
        };
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        let mut heartbeat = heartbeat_interval();
        let due = schedule(sh, tl, index);
        let mut k: u64 = 0;
        while sh.cfg.rate > 0.0 && due(k) < tl.end {
            tokio::select! {
                biased;
                () = &mut cancelled => return,
                _ = heartbeat.tick() => {
                    if let Some(hb) = proto.heartbeat() {
                        if sink.feed(Message::text(hb)).await.is_err() {
                            t.send_errors += 1;
                            return;
                        }
                    }
                }
                () = tokio::time::sleep_until(due(k)) => {}
            }
            let now = Instant::now();
            let mut batch = 0;
            while batch < MAX_BATCH && due(k) <= now && due(k) < tl.end {
                let Some(seq) = book.take() else { return };
                let sent_ns = clock::now_ns();
                book.written(seq, sent_ns);
                let m = Msg {
                    sender: index,
                    seq,
                    sent_ns,
                };
                if sink.feed(Message::text(proto.publish(m))).await.is_err() {
                    t.send_errors += 1;
                    return;
                }
                t.sent += 1;
                k += 1;
                batch += 1;
            }
            let flushed = tokio::select! {
                biased;
                () = &mut cancelled => return,
                r = sink.flush() => r.is_ok(),
            };
            if !flushed {
                t.send_errors += 1;
                return;
            }
        }
        // the writes are over; keep reading (the replies) until cancelled
        sh.cancel.cancelled().await;
    };
    tokio::join!(reader, async {
        writer.await;
        stop.notify_one();
    });
    t.merge(reader_t);
}

/// Open the HTTP writer's connection to `server`, within the timeout and the setup
/// deadline; report readiness either way (as a sender).
pub(super) async fn open_http(sh: &Shared, server: &Server, t: &mut Tally) -> Option<TcpStream> {
    let result = async {
        let t0 = Instant::now();
        let deadline = (t0 + sh.cfg.timeout).min(sh.setup_deadline);
        let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(&server.authority))
            .await
            .map_err(|_| SetupError::Timeout)?
            .map_err(|e| SetupError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok::<_, SetupError>((tcp, ns))
    }
    .await;
    let _ = sh.ready.send(super::super::Ready {
        ok: result.is_ok(),
        sender: true,
        join_ns: result.as_ref().map_or(0, |(_, ns)| *ns),
    });
    match result {
        Ok((tcp, _)) => {
            t.joined += 1;
            Some(tcp)
        }
        Err(e) => {
            t.setup_failed(e);
            None
        }
    }
}

/// `PUT /api/state/KEY?path=/m` with `body`, keep-alive.
pub(super) fn put_request(authority: &str, key: &str, body: &str) -> String {
    format!(
        "PUT /api/state/{key}?path=/m HTTP/1.1\r\nhost: {authority}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The first whole response in `buf`: its status, its body and its length in bytes
/// (`None`: not all of it yet).
pub(super) fn next_response(buf: &[u8]) -> Option<(u16, &[u8], usize)> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let end = split + 4 + len;
    let body = buf.get(split + 4..end)?;
    Some((status, body, end))
}

/// An HTTP writer on one keep-alive connection, its requests pipelined (the server answers
/// them in order); a reader counts the answers and the refused ones.
pub(super) async fn http(
    tcp: TcpStream,
    server: &Server,
    key: &str,
    index: u64,
    sh: &Shared,
    book: &Book,
    t: &mut Tally,
) {
    let (mut rd, mut wr) = tcp.into_split();
    let mut reader_t = Tally::default();
    let stop = Notify::new();
    let reader = async {
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = tokio::select! {
                biased;
                r = rd.read(&mut chunk) => r,
                () = &mut cancelled => break,
                () = stop.notified() => break,
            };
            match n {
                Ok(0) | Err(_) => {
                    reader_t.disconnects += 1;
                    break;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            let mut used = 0;
            while let Some((status, body, len)) = next_response(&buf[used..]) {
                if (200..300).contains(&status) {
                    answered(sh, &mut reader_t);
                } else {
                    reader_t.error_replies += 1;
                    let text = String::from_utf8_lossy(body).into_owned();
                    reader_t.error(|| reason_of(&format!("HTTP {status}: {text}")));
                }
                used += len;
            }
            buf.drain(..used);
        }
    };
    let writer = async {
        let Some(tl) = sh.timeline().await else {
            return;
        };
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        let due = schedule(sh, tl, index);
        let mut k: u64 = 0;
        let mut out = String::new();
        while sh.cfg.rate > 0.0 && due(k) < tl.end {
            tokio::select! {
                biased;
                () = &mut cancelled => return,
                () = tokio::time::sleep_until(due(k)) => {}
            }
            let now = Instant::now();
            out.clear();
            let mut batch = 0;
            while batch < MAX_BATCH && due(k) <= now && due(k) < tl.end {
                let Some(seq) = book.take() else { break };
                let sent_ns = clock::now_ns();
                book.written(seq, sent_ns);
                let m = Msg {
                    sender: index,
                    seq,
                    sent_ns,
                };
                out.push_str(&put_request(&server.authority, key, &encode_msg(m)));
                t.sent += 1;
                k += 1;
                batch += 1;
            }
            if batch == 0 {
                return;
            }
            let written = tokio::select! {
                biased;
                () = &mut cancelled => return,
                r = wr.write_all(out.as_bytes()) => r.is_ok(),
            };
            if !written {
                t.send_errors += 1;
                return;
            }
        }
        // the writes are over; keep reading (the answers) until cancelled
        sh.cancel.cancelled().await;
    };
    tokio::join!(reader, async {
        writer.await;
        stop.notify_one();
    });
    t.merge(reader_t);
}
