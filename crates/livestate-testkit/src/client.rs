//! [`Client`]: a Phoenix V2 client over a real WebSocket, with LiveState helpers.
//!
//! Frames are read by a background task into a queue, so a test can look at every frame
//! in order; [`Client::recv`] waits at most [`Client::timeout`] for the next one.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use livestate_protocol::Message;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A frame from the server.
pub type Frame = Message;

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, WsMessage>;

/// What the reader task saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A text frame, decoded.
    Frame(Frame),
    /// A text frame that did not decode (the server should never send one).
    Garbage(String),
    /// The server closed the socket with this code and reason (`None`: no close frame).
    Closed(Option<(u16, String)>),
}

/// A Phoenix V2 client.
pub struct Client {
    sink: Sink,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    next_ref: u64,
    /// How long `recv` waits (default 5 s).
    pub timeout: Duration,
    /// The sub-protocol the server selected, if any.
    pub protocol: Option<String>,
}

impl Client {
    /// Connect to a full WebSocket URL (`ws://host/socket/websocket?vsn=2.0.0`).
    pub async fn connect(url: &str) -> Result<Client> {
        Client::connect_with_protocols(url, &[]).await
    }

    /// Connect, offering these sub-protocols.
    pub async fn connect_with_protocols(url: &str, protocols: &[&str]) -> Result<Client> {
        if protocols.is_empty() {
            return Client::connect_with_headers(url, &[]).await;
        }
        let offered = protocols.join(", ");
        Client::connect_with_headers(url, &[("sec-websocket-protocol", &offered)]).await
    }

    /// Connect, adding these request headers (`Origin`, `Cookie`, ...).
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Client> {
        let mut request = url.into_client_request().context("building the request")?;
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())?,
                value.parse()?,
            );
        }
        let (ws, response) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (sink, mut stream) = ws.split();
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(msg) = stream.next().await {
                let item = match msg {
                    Ok(WsMessage::Text(text)) => match Message::decode(text.as_str()) {
                        Ok(frame) => Incoming::Frame(frame),
                        Err(_) => Incoming::Garbage(text.to_string()),
                    },
                    Ok(WsMessage::Close(frame)) => {
                        let _ = tx.send(Incoming::Closed(
                            frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                        ));
                        return;
                    }
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if tx.send(item).is_err() {
                    return;
                }
            }
            let _ = tx.send(Incoming::Closed(None));
        });
        Ok(Client {
            sink,
            incoming,
            next_ref: 0,
            timeout: Duration::from_secs(5),
            protocol,
        })
    }

    /// The next ref ("1", "2", ...), as phoenix.js counts.
    pub fn make_ref(&mut self) -> String {
        self.next_ref += 1;
        self.next_ref.to_string()
    }

    /// Send a raw text frame.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<()> {
        self.sink.send(WsMessage::Text(text.into().into())).await?;
        Ok(())
    }

    /// Send a binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.sink.send(WsMessage::Binary(bytes.into())).await?;
        Ok(())
    }

    /// Send `[join_ref, ref, topic, event, payload]`.
    pub async fn send(
        &mut self,
        join_ref: Option<&str>,
        r#ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> Result<()> {
        self.send_text(json!([join_ref, r#ref, topic, event, payload]).to_string())
            .await
    }

    /// Send a join with a fresh ref (which becomes the join_ref); returns it.
    pub async fn push_join(&mut self, topic: &str, params: Value) -> Result<String> {
        let r = self.make_ref();
        self.send(Some(&r), Some(&r), topic, "phx_join", params)
            .await?;
        Ok(r)
    }

    /// Join and wait for the reply; `Ok(join_ref)` when it was ok, `Err` with the reason.
    pub async fn join(&mut self, topic: &str, params: Value) -> Result<String> {
        let join_ref = self.push_join(topic, params).await?;
        let reply = self.reply_to(&join_ref).await?;
        match reply_status(&reply) {
            ("ok", _) => Ok(join_ref),
            (_, response) => bail!("join refused: {response}"),
        }
    }

    /// Push `lvs_evt:NAME` on a joined topic; returns the push's ref.
    pub async fn push_event(
        &mut self,
        join_ref: &str,
        topic: &str,
        name: &str,
        payload: Value,
    ) -> Result<String> {
        let r = self.make_ref();
        self.send(
            Some(join_ref),
            Some(&r),
            topic,
            &format!("lvs_evt:{name}"),
            payload,
        )
        .await?;
        Ok(r)
    }

    /// The next incoming item, or an error after the timeout.
    pub async fn next(&mut self) -> Result<Incoming> {
        tokio::time::timeout(self.timeout, self.incoming.recv())
            .await
            .map_err(|_| anyhow!("no frame within {:?}", self.timeout))?
            .ok_or_else(|| anyhow!("the connection's reader ended"))
    }

    /// The next incoming item if one is already here.
    pub fn try_next(&mut self) -> Option<Incoming> {
        self.incoming.try_recv().ok()
    }

    /// The next frame; an error if the socket closed or nothing came.
    pub async fn recv(&mut self) -> Result<Frame> {
        match self.next().await? {
            Incoming::Frame(f) => Ok(f),
            other => bail!("expected a frame, got {other:?}"),
        }
    }

    /// Skip frames until one matches; returns it.
    pub async fn recv_until(&mut self, mut pred: impl FnMut(&Frame) -> bool) -> Result<Frame> {
        loop {
            let f = self.recv().await?;
            if pred(&f) {
                return Ok(f);
            }
        }
    }

    /// The `phx_reply` to `r#ref` (skipping other frames).
    pub async fn reply_to(&mut self, r#ref: &str) -> Result<Frame> {
        self.recv_until(|f| f.event == "phx_reply" && f.r#ref.as_deref() == Some(r#ref))
            .await
    }

    /// Whatever arrives within `wait`, without failing when nothing does.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Incoming> {
        let mut out = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(wait, self.incoming.recv()).await {
            out.push(item);
        }
        out
    }

    /// Wait for the server to close the socket; returns the close code and reason.
    pub async fn closed(&mut self) -> Result<Option<(u16, String)>> {
        loop {
            if let Incoming::Closed(c) = self.next().await? {
                return Ok(c);
            }
        }
    }

    /// Close the socket from this side.
    pub async fn close(mut self) {
        let _ = self.sink.send(WsMessage::Close(None)).await;
    }

    /// Start a close handshake with `code`, keeping the client to read the answer
    /// ([`Client::closed`] then gives the server's close frame).
    pub async fn send_close(&mut self, code: u16, reason: &str) -> Result<()> {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.to_owned().into(),
        };
        self.sink.send(WsMessage::Close(Some(frame))).await?;
        Ok(())
    }
}

/// `("ok" | "error", response)` of a `phx_reply`.
pub fn reply_status(frame: &Frame) -> (&str, &Value) {
    let status = frame.payload["status"].as_str().unwrap_or("");
    (status, &frame.payload["response"])
}

/// A topic's state as phx-live-state keeps it: `state:change` replaces it, a
/// `state:patch` applies when its version is the last plus one or 0, and anything else
/// is a gap (the client would send `lvs_refresh`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveView {
    /// The state, once a `state:change` came.
    pub state: Option<Value>,
    /// The last version seen.
    pub version: Option<u64>,
    /// How many patches were refused for their version.
    pub gaps: u64,
}

/// What a frame did to a [`LiveView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A `state:change`.
    Change,
    /// A `state:patch` that applied.
    Patch,
    /// A `state:patch` with an unexpected version, ignored.
    Gap,
    /// A frame that is neither.
    Other,
}

impl LiveView {
    /// Take a frame into account.
    pub fn apply(&mut self, frame: &Frame) -> Result<Seen> {
        match frame.event.as_str() {
            "state:change" => {
                self.state = Some(frame.payload["state"].clone());
                self.version = frame.payload["version"].as_u64();
                Ok(Seen::Change)
            }
            "state:patch" => {
                let version = frame.payload["version"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("patch without a version: {frame:?}"))?;
                let expected = self.version.map(|v| v + 1);
                if Some(version) != expected && version != 0 {
                    self.gaps += 1;
                    return Ok(Seen::Gap);
                }
                let state = self
                    .state
                    .as_mut()
                    .ok_or_else(|| anyhow!("patch before any state"))?;
                let ops: json_patch::Patch =
                    serde_json::from_value(frame.payload["patch"].clone())?;
                json_patch::patch(state, &ops).context("applying a patch")?;
                self.version = Some(version);
                Ok(Seen::Patch)
            }
            _ => Ok(Seen::Other),
        }
    }
}
