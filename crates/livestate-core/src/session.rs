//! [`Session`]: one socket's side of Phoenix Channels V2.
//!
//! A session reads decoded client frames and keeps the socket's table of joined topics.
//! It knows refs, joins and leaves; LiveState's events it hands to the key authorities.
//! Every edge case of the protocol is one branch of [`Session::handle`]:
//!
//! | client sends | server answers |
//! |---|---|
//! | `heartbeat` on `phoenix` | ok reply |
//! | any other event on `phoenix` | error reply `unmatched topic` |
//! | `phx_join` of a routed topic | ok reply, then `state:change` (from the authority) |
//! | `phx_join` of an unrouted topic | error reply `unmatched topic`, join_ref null |
//! | `phx_join` of a joined topic | `phx_close` for the old join_ref, then the new join |
//! | `phx_join` past the channel cap | error reply `too many channels joined` |
//! | `phx_join` refused by `authorize` | error reply with its reason |
//! | `phx_join` while shutting down | error reply `server shutting down` |
//! | `phx_join` whose params are not an object | error reply naming that |
//! | `phx_join` without a ref | the socket is closed (1007) |
//! | `phx_leave` | ok reply, then `phx_close` |
//! | `lvs_evt:NAME` | to the key authority (see the crate docs) |
//! | `lvs_refresh` | `state:change` (from the authority) |
//! | another event on a joined topic | error reply `unknown event "..."` |
//! | anything for a topic not joined | error reply `unmatched topic`, join_ref null |
//! | a join_ref that is not the topic's current one | ignored |
//! | a frame that does not decode | the socket is closed (1007) with the reason |
//! | a frame with an integer beyond 64 bits | refused like a refused event (`state:change`, then the error reply) on a joined topic, else an error reply; nothing else happens |
//!
//! A topic served by a [topic process](crate::process) (a live view) is joined, left and
//! capped the same way; its other messages go to its process, which answers them.

use crate::channel::{Assigns, JoinContext, Scope};
use crate::hub::Hub;
use crate::mailbox::{Command, EventRequest, JoinRequest, KeyHandle};
use crate::outbox::Outbox;
use crate::process::{self, Ended, ProcessJoin, TopicProcess};
use crate::routes::{ErasedChannel, Served};
use crate::subscriber::{ChannelSink, SubId};
use livestate_protocol::{Message, Text, close, event, frame};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// How a session asks its transport to close the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The WebSocket close code (see [`livestate_protocol::close`]).
    pub code: u16,
    /// The reason, at most 123 bytes.
    pub reason: String,
}

impl Close {
    /// A close with `code` and `reason` (cut to the 123 bytes a close frame allows).
    pub fn new(code: u16, reason: impl Into<String>) -> Close {
        let mut reason = reason.into();
        if reason.len() > 123 {
            let mut cut = 123;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        Close { code, reason }
    }
}

/// One socket's protocol state: its joined topics.
pub struct Session {
    /// Unique in this process: the transport's logs name the socket by it.
    id: u64,
    hub: Hub,
    outbox: Outbox,
    socket: Arc<Assigns>,
    channels: HashMap<String, Joined>,
    /// How many of `channels` the `channels` gauge counts now.
    counted: usize,
    /// Subscriptions their authority ended (a failed handler, a lost lease): the session
    /// forgets those channels before handling the next frame.
    ended_tx: mpsc::UnboundedSender<SubId>,
    ended: mpsc::UnboundedReceiver<SubId>,
    serving: Serving,
}

struct Joined {
    join_ref: Arc<str>,
    sub: SubId,
    target: Target,
}

/// A join being handled: its topic, join_ref, ref and params.
type JoinArgs = (String, Arc<str>, String, serde_json::Value);

/// Where a joined topic's messages go.
enum Target {
    /// A channel's key authority.
    Key(KeyHandle),
    /// A topic process's inbox.
    Process(mpsc::Sender<Box<Message>>),
}

impl Joined {
    /// Tell what serves the topic that this join is over.
    async fn leave(self) {
        match self.target {
            Target::Key(key) => {
                let _ = key.send(Command::Leave { sub: self.sub }).await;
            }
            // dropping the inbox's sender stops the process
            Target::Process(_) => {}
        }
    }
}

impl Hub {
    /// A session for a new socket, sending through `outbox`, with the socket's assigns
    /// (its connect params and whatever the connect callback added).
    pub fn session(&self, outbox: Outbox, socket: Assigns) -> Session {
        self.new_session(outbox, socket, Serving::Channels)
    }

    /// A session for a socket that serves topic processes (live views) only: a join of a
    /// channel's topic is answered `unmatched topic`, so a socket that skipped the
    /// channels' `connect` callback cannot reach them.
    pub fn process_session(&self, outbox: Outbox, socket: Assigns) -> Session {
        self.new_session(outbox, socket, Serving::Processes)
    }

    fn new_session(&self, outbox: Outbox, socket: Assigns, serving: Serving) -> Session {
        let (ended_tx, ended) = mpsc::unbounded_channel();
        self.metrics().sockets.inc();
        Session {
            id: self.node().next_id(),
            hub: self.clone(),
            outbox,
            socket: Arc::new(socket),
            channels: HashMap::new(),
            counted: 0,
            ended_tx,
            ended,
            serving,
        }
    }
}

/// Which topics a session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Serving {
    /// Channels and topic processes (a `/socket` socket, an in-process one).
    Channels,
    /// Topic processes only (the live views' socket).
    Processes,
}

impl Drop for Session {
    fn drop(&mut self) {
        let metrics = self.hub.metrics();
        metrics.sockets.dec();
        metrics.channels.dec_by(self.counted as i64);
    }
}

impl Session {
    /// This socket's id, unique in this process (for logs).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Decode and handle one text frame. `Err` means: close the socket so.
    pub async fn handle_text(&mut self, text: &str) -> Result<(), Close> {
        let msg = Message::decode(text).map_err(|e| {
            tracing::debug!("a frame does not decode: {e}");
            Close::new(close::INVALID_FRAME, e.to_string())
        })?;
        if let Some(number) = livestate_protocol::numbers::wide_integer(text) {
            let reason =
                format!("the number {number} does not fit a 64-bit integer: send it as a string");
            tracing::debug!(topic = %msg.topic, event = %msg.event, "refused: {reason}");
            self.refuse(msg, reason).await;
            self.recount();
            return Ok(());
        }
        self.handle(msg).await
    }

    /// Bring the `channels` gauge in line with the joined channels.
    fn recount(&mut self) {
        let now = self.channels.len();
        if now != self.counted {
            let gauge = &self.hub.metrics().channels;
            gauge.inc_by(now as i64 - self.counted as i64);
            self.counted = now;
        }
    }

    /// Refuse a message without acting on it: an event on a joined topic as its authority
    /// refuses events (the current state, then the error reply), anything else with an
    /// error reply.
    async fn refuse(&mut self, msg: Message, reason: String) {
        self.forget_ended();
        let joined = self
            .channels
            .get(&msg.topic)
            .filter(|j| msg.join_ref.as_deref().is_none_or(|jr| jr == &*j.join_ref));
        if let Some(joined) = joined.filter(|j| matches!(j.target, Target::Key(_))) {
            if msg.event.starts_with(event::LVS_EVT_PREFIX) {
                let slot = match msg.r#ref {
                    Some(_) => self.outbox.reserve().await,
                    None => None,
                };
                let cmd = Command::Refuse {
                    sub: joined.sub,
                    r#ref: msg.r#ref,
                    slot,
                    reason,
                    received: std::time::Instant::now(),
                };
                self.send_to_key(&msg.topic, cmd).await;
                return;
            }
        }
        let join_ref = joined.map(|j| j.join_ref.clone()).or_else(|| {
            // a refused join answers with the join_ref it asked for
            (msg.event == event::PHX_JOIN)
                .then(|| msg.join_ref.clone().or(msg.r#ref.clone()))
                .flatten()
                .map(Arc::from)
        });
        let reply = frame::reply_error(
            join_ref.as_deref(),
            msg.r#ref.as_deref(),
            &msg.topic,
            &reason,
        );
        self.send(reply).await;
    }

    /// Handle one message. `Err` means: close the socket so.
    pub async fn handle(&mut self, msg: Message) -> Result<(), Close> {
        let handled = self.handle_message(msg).await;
        self.recount();
        handled
    }

    async fn handle_message(&mut self, msg: Message) -> Result<(), Close> {
        self.forget_ended();
        if msg.topic == event::PHOENIX_TOPIC {
            let reply = if msg.event == event::HEARTBEAT {
                frame::reply_ok(None, msg.r#ref.as_deref(), &msg.topic)
            } else {
                frame::reply_error(
                    None,
                    msg.r#ref.as_deref(),
                    &msg.topic,
                    event::UNMATCHED_TOPIC,
                )
            };
            self.send(reply).await;
            return Ok(());
        }
        if msg.event == event::PHX_JOIN {
            return self.join(msg).await;
        }
        let Some(joined) = self.channels.get(&msg.topic) else {
            let reply = frame::reply_error(
                None,
                msg.r#ref.as_deref(),
                &msg.topic,
                event::UNMATCHED_TOPIC,
            );
            self.send(reply).await;
            return Ok(());
        };
        if msg
            .join_ref
            .as_deref()
            .is_some_and(|jr| jr != &*joined.join_ref)
        {
            tracing::debug!(topic = %msg.topic, "ignoring a message with a stale join_ref");
            return Ok(());
        }
        if msg.event == event::PHX_LEAVE {
            self.leave(msg).await;
            return Ok(());
        }
        if let Target::Process(inbox) = &joined.target {
            if let Err(unsent) = inbox.send(Box::new(msg)).await {
                // the process ended by itself (and told its client): forget it, and answer
                // as for any topic not joined
                self.forget_ended();
                let msg = *unsent.0;
                let reply = frame::reply_error(
                    None,
                    msg.r#ref.as_deref(),
                    &msg.topic,
                    event::UNMATCHED_TOPIC,
                );
                self.send(reply).await;
            }
            return Ok(());
        }
        match msg.event.as_str() {
            event::LVS_REFRESH => {
                let cmd = Command::Refresh { sub: joined.sub };
                self.send_to_key(&msg.topic, cmd).await;
            }
            name if name.starts_with(event::LVS_EVT_PREFIX) => {
                tracing::debug!(topic = %msg.topic, event = %name, "event");
                let received = std::time::Instant::now();
                self.hub.metrics().events.inc();
                let sub = joined.sub;
                let slot = match msg.r#ref {
                    Some(_) => match self.outbox.reserve().await {
                        Some(slot) => Some(slot),
                        None => return Ok(()),
                    },
                    None => None,
                };
                let cmd = Command::Event(EventRequest {
                    sub,
                    r#ref: msg.r#ref,
                    name: name[event::LVS_EVT_PREFIX.len()..].to_owned(),
                    payload: msg.payload,
                    slot,
                    received,
                });
                self.send_to_key(&msg.topic, cmd).await;
            }
            other => {
                let reason = format!("unknown event {other:?}");
                tracing::debug!(topic = %msg.topic, "refused: {reason}");
                let reply = frame::reply_error(
                    Some(&joined.join_ref),
                    msg.r#ref.as_deref(),
                    &msg.topic,
                    &reason,
                );
                self.send(reply).await;
            }
        }
        Ok(())
    }

    /// Drop the channels whose subscription the authority ended.
    fn forget_ended(&mut self) {
        while let Ok(sub) = self.ended.try_recv() {
            self.channels.retain(|_, joined| joined.sub != sub);
        }
    }

    /// The topics this socket has joined.
    pub fn joined(&mut self) -> impl Iterator<Item = &str> {
        self.forget_ended();
        self.recount();
        self.channels.keys().map(String::as_str)
    }

    /// Leave every joined topic (the socket is going away).
    pub async fn close(mut self) {
        for (topic, joined) in self.channels.drain() {
            tracing::debug!(topic = %topic, "left (the socket closed)");
            joined.leave().await;
        }
        self.recount();
    }

    async fn send(&self, frame: Text) {
        // A closed outbox means the transport is already going down; nothing to do.
        let _ = self.outbox.push(frame).await;
    }

    /// Send a command to the authority of a joined topic; if it has stopped (it lost its
    /// lease), the channel fails and the client rejoins.
    async fn send_to_key(&mut self, topic: &str, cmd: Command) {
        let Some(Joined {
            target: Target::Key(key),
            ..
        }) = self.channels.get(topic)
        else {
            return;
        };
        if key.send(cmd).await.is_err() {
            tracing::debug!(topic = %topic, "the key's authority stopped: the channel fails");
            if let Some(joined) = self.channels.remove(topic) {
                self.send(frame::error(
                    &joined.join_ref,
                    topic,
                    "the key moved; rejoin",
                ))
                .await;
            }
        }
    }

    async fn join(&mut self, msg: Message) -> Result<(), Close> {
        let received = std::time::Instant::now();
        let Some(r#ref) = msg.r#ref else {
            tracing::debug!(topic = %msg.topic, "refused: phx_join needs a ref");
            return Err(Close::new(close::INVALID_FRAME, "phx_join needs a ref"));
        };
        let join_ref: Arc<str> = msg.join_ref.unwrap_or_else(|| r#ref.clone()).into();
        let topic = msg.topic;
        let refuse = |reason: &str| {
            tracing::debug!(topic = %topic, "join refused: {reason}");
            frame::reply_error(Some(&join_ref), Some(&r#ref), &topic, reason)
        };
        if !msg.payload.is_object() {
            self.send(refuse("join params must be a JSON object")).await;
            return Ok(());
        }
        if self.hub.is_shutting_down() {
            self.send(refuse("server shutting down")).await;
            return Ok(());
        }
        let served = self.hub.serving(&topic).filter(|served| {
            self.serving == Serving::Channels || matches!(served, Served::Process(_))
        });
        let Some(served) = served else {
            tracing::debug!(topic = %topic, "join refused: no channel serves the topic");
            let reply = frame::reply_error(None, Some(&r#ref), &topic, event::UNMATCHED_TOPIC);
            self.send(reply).await;
            return Ok(());
        };
        if let Some(old) = self.channels.remove(&topic) {
            self.send(frame::close(&old.join_ref, &topic)).await;
            old.leave().await;
        }
        if self.channels.len() >= self.hub.limits().max_channels {
            self.send(refuse(event::TOO_MANY_CHANNELS)).await;
            return Ok(());
        }
        let channel = match served {
            Served::Channel(channel) => channel,
            Served::Process(process) => {
                let join = (topic, join_ref, r#ref, msg.payload);
                self.join_process(process, join, received).await;
                return Ok(());
            }
        };
        self.join_channel(channel, (topic, join_ref, r#ref, msg.payload), received)
            .await;
        Ok(())
    }

    /// Start a topic process for a join, and keep it if it says it stays.
    async fn join_process(
        &mut self,
        process: Arc<dyn TopicProcess>,
        (topic, join_ref, r#ref, params): JoinArgs,
        received: std::time::Instant,
    ) {
        let sub = self.hub.node().next_id();
        let (inbox_tx, inbox) = mpsc::channel(process::INBOX);
        let (joined, answered) = oneshot::channel();
        process.start(ProcessJoin {
            topic: topic.clone(),
            join_ref: join_ref.clone(),
            r#ref,
            params,
            socket: self.socket.clone(),
            outbox: self.outbox.clone(),
            inbox,
            joined,
            ended: Ended::new(self.ended_tx.clone(), sub),
            metrics: self.hub.metrics().processes.clone(),
        });
        if let Ok(true) = answered.await {
            self.hub.metrics().join_latency.observe(received.elapsed());
            tracing::debug!(topic = %topic, "joined");
            let target = Target::Process(inbox_tx);
            self.channels.insert(
                topic,
                Joined {
                    join_ref,
                    sub,
                    target,
                },
            );
        }
    }

    /// Join a channel's key (its authority answers the join).
    async fn join_channel(
        &mut self,
        channel: Arc<dyn ErasedChannel>,
        (topic, join_ref, r#ref, params): JoinArgs,
        received: std::time::Instant,
    ) {
        let refuse = |reason: &str| {
            tracing::debug!(topic = %topic, "join refused: {reason}");
            frame::reply_error(Some(&join_ref), Some(&r#ref), &topic, reason)
        };
        let mut ctx = JoinContext {
            topic: topic.clone(),
            socket: self.socket.clone(),
            assigns: Assigns::new(),
            presence: None,
        };
        if let Err(e) = channel.authorize(&topic, &params, &mut ctx).await {
            self.send(refuse(&e.to_string())).await;
            return;
        }
        let hub = self.hub.clone();
        let mut retries = hub.retries();
        while retries.next().await {
            let key = match channel.scope() {
                Scope::Shared => hub.key(&topic, &channel),
                Scope::Connection => {
                    channel.spawn(hub.node().clone(), topic.clone(), Scope::Connection)
                }
            };
            let sub = hub.node().next_id();
            let Some(slot) = self.outbox.reserve().await else {
                return;
            };
            let (jr, r, t) = (join_ref.clone(), r#ref.clone(), topic.clone());
            let reply = move |result: Result<(), &str>| {
                slot.send(match result {
                    Ok(()) => frame::reply_ok(Some(&jr), Some(&r), &t),
                    Err(reason) => {
                        tracing::debug!(topic = %t, "join refused: {reason}");
                        frame::reply_error(Some(&jr), Some(&r), &t, reason)
                    }
                });
            };
            let sink = ChannelSink::new(
                self.outbox.clone(),
                join_ref.clone(),
                self.ended_tx.clone(),
                sub,
            );
            let (joined, attached) = oneshot::channel();
            let req = JoinRequest {
                sub,
                sink: Box::new(sink),
                params: params.clone(),
                ctx: ctx.clone(),
                reply: Box::new(reply),
                joined,
            };
            if key.send(Command::Join(req)).await.is_ok() {
                let answered = attached.await;
                if answered.is_ok() {
                    self.hub.metrics().join_latency.observe(received.elapsed());
                }
                match answered {
                    Ok(true) => {
                        tracing::debug!(topic = %topic, "joined");
                        if channel.scope() == Scope::Connection {
                            self.hub.register_connection(&topic, key.clone());
                        }
                        let target = Target::Key(key);
                        let joined = Joined {
                            join_ref,
                            sub,
                            target,
                        };
                        self.channels.insert(topic, joined);
                        return;
                    }
                    Ok(false) => return,
                    // dropped unanswered: the authority was stopping (its key expired just
                    // now); the next attempt reaches a fresh one
                    Err(_) => {}
                }
            }
        }
        self.send(refuse("the key is unavailable; try again")).await;
    }

    async fn leave(&mut self, msg: Message) {
        let Some(joined) = self.channels.remove(&msg.topic) else {
            return;
        };
        tracing::debug!(topic = %msg.topic, "left");
        let join_ref = joined.join_ref.clone();
        joined.leave().await;
        self.send(frame::reply_ok(
            Some(&join_ref),
            msg.r#ref.as_deref(),
            &msg.topic,
        ))
        .await;
        self.send(frame::close(&join_ref, &msg.topic)).await;
    }
}
