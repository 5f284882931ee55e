//! The protocol adapters: how to open a socket, join a topic, publish a message, make a
//! request that is answered, and read a received frame, for each server the loadgen
//! drives. The scenarios are written once against these.
//!
//! | target | socket | join | publish (fan-out) | request (events) |
//! |---|---|---|---|---|
//! | `livestate` | `/socket/websocket?vsn=2.0.0` | `phx_join`, reply, `state:change` | `lvs_evt:put` of `/m` | the same, answered by `phx_reply` |
//! | `socketio` | `/socket.io/?EIO=4&transport=websocket`, `40` | `join(room, ack)` | `msg(room, data)` | `ev(data, ack)` |
//! | `bare` | `/ws` (`/ws?echo` for events) | nothing | a `state:patch`-shaped frame | a frame with a ref, echoed |

use crate::wire::{self, Msg, SioPacket};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server (protocol) the loadgen drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// livestate: Phoenix Channels V2 with LiveState's events, on `doc:` topics.
    Livestate,
    /// Socket.IO 4 (Engine.IO v4 over a raw WebSocket), the peer in `benches/peers/socketio`.
    Socketio,
    /// The bare axum broadcaster (`livestate-bare`), the ceiling of the machine.
    Bare,
}

/// Why a socket could not be opened and joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetupError {
    /// TCP connect or the WebSocket (or Engine.IO) handshake failed.
    Connect(String),
    /// The server closed the socket during setup.
    Closed,
    /// No answer in time.
    Timeout,
    /// The server refused the join (its reason).
    Refused(String),
}

/// What a received frame is, to a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// A frame relaying messages: scan this text with [`wire::for_each_msg`].
    Relay(&'a str),
    /// The answer to the request with this ref.
    Reply {
        /// The request's ref.
        r#ref: &'a str,
        /// Whether the server accepted it.
        ok: bool,
        /// The frame (for the reason of a refusal).
        text: &'a str,
    },
    /// The whole state, sent again: the server gave up on sending this socket every patch.
    Resync,
    /// The server asks for an answer now ([`Target::pong`]).
    Ping,
    /// The server ended the channel (or namespace) on this socket.
    Ended,
    /// Anything else (heartbeat replies, ...).
    Other,
}

impl Target {
    /// The target's name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Target::Livestate => "livestate",
            Target::Socketio => "socketio",
            Target::Bare => "bare",
        }
    }

    /// The WebSocket URL for `base` (`ws://HOST:PORT`, or `HOST:PORT`). A `base` with a
    /// path of its own is used as given. `echo`: the bare broadcaster's echo endpoint.
    pub(crate) fn url(self, base: &str, echo: bool) -> String {
        let base = if base.contains("://") {
            base.to_owned()
        } else {
            format!("ws://{base}")
        };
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let has_path = base[after_scheme..]
            .find('/')
            .is_some_and(|i| base.len() > after_scheme + i + 1);
        if has_path {
            return base;
        }
        let base = base.trim_end_matches('/');
        match self {
            Target::Livestate => format!("{base}/socket/websocket?vsn=2.0.0"),
            Target::Socketio => format!("{base}/socket.io/?EIO=4&transport=websocket"),
            Target::Bare if echo => format!("{base}/ws?echo"),
            Target::Bare => format!("{base}/ws"),
        }
    }

    /// A default topic (room) name, unique to this run: `doc:PREFIX-NONCE` for livestate
    /// (and the bare broadcaster, whose frames look like livestate's), `PREFIX-NONCE` for
    /// Socket.IO.
    pub(crate) fn topic(self, prefix: &str, nonce: &str) -> String {
        match self {
            Target::Livestate | Target::Bare => format!("doc:{prefix}-{nonce}"),
            Target::Socketio => format!("{prefix}-{nonce}"),
        }
    }

    /// Open a socket and do the protocol's handshake, by `deadline`.
    pub(crate) async fn open(self, url: &str, deadline: Instant) -> Result<Conn, SetupError> {
        let config = WebSocketConfig::default()
            .read_buffer_size(16 << 10)
            .write_buffer_size(0)
            .max_message_size(Some(64 << 20));
        let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
        let ws = match tokio::time::timeout_at(deadline, connect).await {
            Err(_) => return Err(SetupError::Timeout),
            Ok(Err(e)) => return Err(SetupError::Connect(e.to_string())),
            Ok(Ok((ws, _response))) => ws,
        };
        let mut conn = Conn {
            ws,
            proto: Proto {
                target: self,
                next_ref: 1,
                join_ref: None,
                topic_json: String::from("\"\""),
                heartbeats: 0,
            },
        };
        if self == Target::Socketio {
            // Engine.IO open `0{...}`, then connect to the main namespace
            loop {
                match wire::sio(&conn.read_text(deadline).await?) {
                    SioPacket::Open => break,
                    SioPacket::Disconnect => return Err(SetupError::Closed),
                    _ => {}
                }
            }
            conn.send_by("40".to_owned(), deadline).await?;
            loop {
                let text = conn.read_text(deadline).await?;
                match wire::sio(&text) {
                    SioPacket::Connected => break,
                    SioPacket::ConnectError(reason) => {
                        return Err(SetupError::Refused(reason.to_owned()));
                    }
                    SioPacket::Disconnect => return Err(SetupError::Closed),
                    SioPacket::Ping => conn.send_by("3".to_owned(), deadline).await?,
                    _ => {}
                }
            }
        }
        Ok(conn)
    }

    /// Classify a received text frame.
    pub(crate) fn classify(self, text: &str) -> Incoming<'_> {
        match self {
            Target::Livestate => {
                let Some(h) = wire::head(text) else {
                    return Incoming::Other;
                };
                match h.event {
                    "state:patch" => Incoming::Relay(h.payload),
                    "state:change" => Incoming::Resync,
                    "phx_reply" => match h.r#ref {
                        Some(r#ref) => Incoming::Reply {
                            r#ref,
                            ok: h.payload.contains(r#""status":"ok""#),
                            text,
                        },
                        None => Incoming::Other,
                    },
                    "phx_error" | "phx_close" => Incoming::Ended,
                    _ => Incoming::Other,
                }
            }
            Target::Socketio => match wire::sio(text) {
                SioPacket::Event(args) => Incoming::Relay(args),
                SioPacket::Ack(id, _) => Incoming::Reply {
                    r#ref: id,
                    ok: true,
                    text,
                },
                SioPacket::Ping => Incoming::Ping,
                SioPacket::Disconnect | SioPacket::ConnectError(_) => Incoming::Ended,
                _ => Incoming::Other,
            },
            Target::Bare => match wire::head(text) {
                Some(wire::Head {
                    r#ref: Some(r#ref), ..
                }) => Incoming::Reply {
                    r#ref,
                    ok: true,
                    text,
                },
                _ => Incoming::Relay(text),
            },
        }
    }

    /// What to answer an [`Incoming::Ping`] with.
    pub(crate) fn pong(self) -> Option<&'static str> {
        match self {
            Target::Socketio => Some("3"),
            Target::Livestate | Target::Bare => None,
        }
    }

    /// Whether the client must send heartbeats (livestate closes a silent socket after 60 s).
    pub(crate) fn needs_heartbeat(self) -> bool {
        self == Target::Livestate
    }
}

/// The encoding state of one socket: its refs and the topic it joined. Owned by whoever
/// writes to the socket.
#[derive(Debug)]
pub(crate) struct Proto {
    target: Target,
    next_ref: u64,
    join_ref: Option<String>,
    /// The joined topic (Socket.IO: room), as a JSON string.
    topic_json: String,
    heartbeats: u64,
}

impl Proto {
    fn take_ref(&mut self) -> String {
        let r = self.next_ref.to_string();
        self.next_ref += 1;
        r
    }

    fn set_topic(&mut self, topic: &str) {
        self.topic_json = serde_json::Value::from(topic).to_string();
    }

    /// A message to everyone on the topic.
    pub(crate) fn publish(&mut self, m: Msg) -> String {
        let body = wire::encode_msg(m);
        match self.target {
            Target::Livestate => {
                let r = self.take_ref();
                let jr = self.join_ref.as_deref().unwrap_or("null");
                format!(
                    r#"["{jr}","{r}",{},"lvs_evt:put",{{"path":"/m","value":{body}}}]"#,
                    self.topic_json
                )
            }
            Target::Socketio => format!(r#"42["msg",{},{body}]"#, self.topic_json),
            Target::Bare => format!(
                r#"[null,null,{},"state:patch",{{"patch":[{{"op":"replace","path":"/m","value":{body}}}],"version":0}}]"#,
                self.topic_json
            ),
        }
    }

    /// A request the server answers (to this socket only), and the ref of its answer.
    pub(crate) fn request(&mut self, m: Msg) -> (String, String) {
        let body = wire::encode_msg(m);
        let r = self.take_ref();
        let frame = match self.target {
            Target::Livestate => {
                let jr = self.join_ref.as_deref().unwrap_or("null");
                format!(
                    r#"["{jr}","{r}",{},"lvs_evt:put",{{"path":"/m","value":{body}}}]"#,
                    self.topic_json
                )
            }
            Target::Socketio => format!(r#"42{r}["ev",{body}]"#),
            Target::Bare => format!(
                r#"["1","{r}",{},"lvs_evt:put",{{"path":"/m","value":{body}}}]"#,
                self.topic_json
            ),
        };
        (frame, r)
    }

    /// A heartbeat, if the protocol has client heartbeats.
    pub(crate) fn heartbeat(&mut self) -> Option<String> {
        if !self.target.needs_heartbeat() {
            return None;
        }
        self.heartbeats += 1;
        Some(format!(
            r#"[null,"hb{}","phoenix","heartbeat",{{}}]"#,
            self.heartbeats
        ))
    }
}

/// An open socket and its encoding state.
pub(crate) struct Conn {
    /// The socket.
    pub(crate) ws: Ws,
    /// Its encoding state.
    pub(crate) proto: Proto,
}

impl Conn {
    /// The next text frame, by `deadline`.
    async fn read_text(&mut self, deadline: Instant) -> Result<String, SetupError> {
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(SetupError::Timeout),
                Ok(None | Some(Err(_))) => return Err(SetupError::Closed),
                Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
                Ok(Some(Ok(Message::Close(_)))) => return Err(SetupError::Closed),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    async fn send_by(&mut self, text: String, deadline: Instant) -> Result<(), SetupError> {
        match tokio::time::timeout_at(deadline, self.ws.send(Message::text(text))).await {
            Err(_) => Err(SetupError::Timeout),
            Ok(Err(_)) => Err(SetupError::Closed),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Join `topic` (a Socket.IO room; nothing for the bare broadcaster), by `deadline`.
    /// For livestate this waits for the join's reply and the `state:change` after it.
    pub(crate) async fn join(&mut self, topic: &str, deadline: Instant) -> Result<(), SetupError> {
        self.proto.set_topic(topic);
        match self.proto.target {
            Target::Bare => Ok(()),
            Target::Livestate => {
                let r = self.proto.take_ref();
                let frame = format!(r#"["{r}","{r}",{},"phx_join",{{}}]"#, self.proto.topic_json);
                self.send_by(frame, deadline).await?;
                loop {
                    let text = self.read_text(deadline).await?;
                    let Some(h) = wire::head(&text) else { continue };
                    if h.event == "phx_reply" && h.r#ref == Some(r.as_str()) {
                        if !h.payload.contains(r#""status":"ok""#) {
                            let reason = wire::string_member(h.payload, "reason")
                                .unwrap_or(h.payload)
                                .to_owned();
                            return Err(SetupError::Refused(reason));
                        }
                        self.proto.join_ref = Some(r.clone());
                    } else if h.event == "state:change" && self.proto.join_ref.is_some() {
                        return Ok(());
                    }
                }
            }
            Target::Socketio => {
                let r = self.proto.take_ref();
                let frame = format!(r#"42{r}["join",{}]"#, self.proto.topic_json);
                self.send_by(frame, deadline).await?;
                loop {
                    let text = self.read_text(deadline).await?;
                    match wire::sio(&text) {
                        SioPacket::Ack(id, _) if id == r => return Ok(()),
                        SioPacket::Ping => self.send_by("3".to_owned(), deadline).await?,
                        SioPacket::Disconnect | SioPacket::ConnectError(_) => {
                            return Err(SetupError::Closed);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// Send `text`, giving up after `limit` (a server that stopped reading).
pub(crate) async fn send_within(ws: &mut Ws, text: String, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, ws.send(Message::text(text))).await,
        Ok(Ok(()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Target::Livestate.url("127.0.0.1:4000", false),
            "ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0"
        );
        assert_eq!(
            Target::Socketio.url("ws://h:1/", false),
            "ws://h:1/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(Target::Bare.url("ws://h:1", true), "ws://h:1/ws?echo");
        assert_eq!(Target::Bare.url("ws://h:1/other", true), "ws://h:1/other");
    }

    #[test]
    fn frames_of_each_target() {
        let m = Msg {
            sender: 1,
            seq: 2,
            sent_ns: 3,
        };
        let mut p = Proto {
            target: Target::Livestate,
            next_ref: 5,
            join_ref: Some("4".into()),
            topic_json: String::new(),
            heartbeats: 0,
        };
        p.set_topic("doc:x");
        assert_eq!(
            p.publish(m),
            r#"["4","5","doc:x","lvs_evt:put",{"path":"/m","value":{"s":1,"n":2,"t":3}}]"#
        );
        let (frame, r) = p.request(m);
        assert_eq!(r, "6");
        assert!(frame.starts_with(r#"["4","6","doc:x""#));
        assert_eq!(
            p.heartbeat().as_deref(),
            Some(r#"[null,"hb1","phoenix","heartbeat",{}]"#)
        );
        p.target = Target::Socketio;
        assert_eq!(p.publish(m), r#"42["msg","doc:x",{"s":1,"n":2,"t":3}]"#);
        assert_eq!(p.request(m).0, r#"427["ev",{"s":1,"n":2,"t":3}]"#);
        assert_eq!(p.heartbeat(), None);
        p.target = Target::Bare;
        let frame = p.publish(m);
        assert_eq!(
            Target::Livestate.classify(&frame),
            Incoming::Relay(
                r#"{"patch":[{"op":"replace","path":"/m","value":{"s":1,"n":2,"t":3}}],"version":0}"#
            )
        );
        assert_eq!(Target::Bare.classify(&frame), Incoming::Relay(&frame));
        let (echo, r) = p.request(m);
        assert!(
            matches!(Target::Bare.classify(&echo), Incoming::Reply { r#ref, ok: true, .. } if r#ref == r)
        );
    }

    #[test]
    fn classifies_livestate_frames() {
        let t = Target::Livestate;
        assert_eq!(
            t.classify(r#"[null,null,"doc:x","state:change",{"state":{},"version":1}]"#),
            Incoming::Resync
        );
        let err = r#"["1","7","doc:x","phx_reply",{"status":"error","response":{"reason":"no"}}]"#;
        assert_eq!(
            t.classify(err),
            Incoming::Reply {
                r#ref: "7",
                ok: false,
                text: err
            }
        );
        assert_eq!(
            t.classify(r#"["1","1","doc:x","phx_error",{}]"#),
            Incoming::Ended
        );
        assert_eq!(t.classify("garbage"), Incoming::Other);
    }
}
