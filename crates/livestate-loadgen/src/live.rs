//! A LiveView client, as the stock `phoenix_live_view` client behaves on the wire, that
//! applies nothing: it GETs a view's page (its root div's tokens, the CSRF meta tag and
//! cookie), opens `/live/websocket?vsn=2.0.0&_csrf_token=...` with the cookie, joins
//! `lv:<id>` with `{url, params: {_csrf_token, _mounts: 0}, session, static}` and sends
//! `event` pushes `{type, event, value}`; it counts bytes and times answers. And the
//! same counter on a phx-live-state socket (`/socket/websocket`, `lvs_evt:NAME`), for
//! the comparison.
//!
//! The page is fetched over plain HTTP/1.1 on its own connection (`Connection: close`);
//! frames are read with [`crate::wire::head`], not parsed into values.

use crate::target::{SetupError, Ws};
use crate::wire;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The cookie holding a browser's CSRF secret.
const CSRF_COOKIE: &str = "_livestate_csrf";

/// The largest page the client reads.
const MAX_RESPONSE: usize = 16 << 20;

/// Where the server is: `HOST:PORT`, from `ws://HOST:PORT`, `http://HOST:PORT/...` or
/// `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    /// `HOST:PORT`.
    pub(crate) authority: String,
}

impl Server {
    pub(crate) fn parse(url: &str) -> Server {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest).to_owned();
        Server { authority }
    }

    /// `http://HOST:PORT` + `path`: what a page's client sends as the join's `url`.
    pub(crate) fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.authority)
    }

    /// `ws://HOST:PORT` + `path`.
    pub(crate) fn ws(&self, path: &str) -> String {
        format!("ws://{}{path}", self.authority)
    }
}

/// An HTTP response, read whole.
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    /// Header names in lower case.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpResponse {
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on its own connection (`Connection: close`), by `deadline`.
pub(crate) async fn get(
    server: &Server,
    path: &str,
    deadline: Instant,
) -> Result<HttpResponse, SetupError> {
    let work = async {
        let mut tcp = TcpStream::connect(&server.authority)
            .await
            .map_err(|e| SetupError::Connect(format!("GET {path}: {e}")))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\naccept: text/html\r\nconnection: close\r\n\r\n",
            server.authority
        );
        tcp.write_all(request.as_bytes())
            .await
            .map_err(|e| SetupError::Connect(format!("GET {path}: {e}")))?;
        let mut raw = Vec::new();
        (&mut tcp)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| SetupError::Connect(format!("GET {path}: {e}")))?;
        parse_response(&raw).ok_or_else(|| SetupError::Connect(format!("GET {path}: not HTTP")))
    };
    tokio::time::timeout_at(deadline, work)
        .await
        .map_err(|_| SetupError::Timeout)?
}

/// A whole HTTP/1.1 response: status line, headers, a body by `content-length`, chunks or
/// up to the end.
pub(crate) fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..len)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// What a view's first GET gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    /// The view's path (`/thermostat`).
    pub(crate) path: String,
    /// The root div's id: the topic is `lv:` + id.
    pub(crate) id: String,
    /// `data-phx-session`.
    pub(crate) session: String,
    /// `data-phx-static`.
    pub(crate) static_token: String,
    /// The CSRF meta tag's token.
    pub(crate) csrf_token: String,
    /// The `_livestate_csrf` cookie set.
    pub(crate) csrf_cookie: String,
    /// The whole page's HTML, in bytes (the response's body).
    pub(crate) html_bytes: usize,
}

/// GET a view's page and read its tokens.
pub(crate) async fn page(
    server: &Server,
    path: &str,
    deadline: Instant,
) -> Result<Page, SetupError> {
    let response = get(server, path, deadline).await?;
    if response.status != 200 {
        return Err(SetupError::Refused(format!(
            "GET {path}: status {}",
            response.status
        )));
    }
    read_page(path, &response)
        .ok_or_else(|| SetupError::Refused(format!("GET {path}: not a view's page")))
}

/// A page's tokens, from its HTML and its `Set-Cookie`.
pub(crate) fn read_page(path: &str, response: &HttpResponse) -> Option<Page> {
    let body = &response.body;
    let main_at = body.find("data-phx-main")?;
    let open = body[..main_at].rfind("<div ")?;
    let close = body[open..].find('>')? + open;
    let div = &body[open..=close];
    let meta_at = body.find("<meta name=\"csrf-token\"")?;
    let meta_end = body[meta_at..].find('>')? + meta_at;
    let meta = &body[meta_at..=meta_end];
    let csrf_cookie = response.header("set-cookie").find_map(|c| {
        let (k, v) = c.split(';').next()?.split_once('=')?;
        (k.trim() == CSRF_COOKIE).then(|| v.trim().to_owned())
    })?;
    Some(Page {
        path: path.to_owned(),
        id: attribute(div, "id")?,
        session: attribute(div, "data-phx-session")?,
        static_token: attribute(div, "data-phx-static")?,
        csrf_token: attribute(meta, "content")?,
        csrf_cookie,
        html_bytes: body.len(),
    })
}

/// The value of attribute `name` in a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// The client sockets' configuration (as the other targets').
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 << 10)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
}

/// Open a WebSocket, with a `Cookie` header when one is given.
async fn open_ws(url: &str, cookie: Option<&str>, deadline: Instant) -> Result<Ws, SetupError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| SetupError::Connect(e.to_string()))?;
    if let Some(cookie) = cookie {
        let value =
            HeaderValue::from_str(cookie).map_err(|e| SetupError::Connect(e.to_string()))?;
        request.headers_mut().insert("cookie", value);
    }
    let connect = tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), true);
    match tokio::time::timeout_at(deadline, connect).await {
        Err(_) => Err(SetupError::Timeout),
        Ok(Err(e)) => Err(SetupError::Connect(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// The next text frame, by `deadline`.
pub(crate) async fn read_text(ws: &mut Ws, deadline: Instant) -> Result<String, SetupError> {
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Err(SetupError::Timeout),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => {
                return Err(SetupError::Closed);
            }
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.as_str().to_owned()),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn send_by(ws: &mut Ws, text: String, deadline: Instant) -> Result<(), SetupError> {
    match tokio::time::timeout_at(deadline, ws.send(Message::text(text))).await {
        Err(_) => Err(SetupError::Timeout),
        Ok(Err(_)) => Err(SetupError::Closed),
        Ok(Ok(())) => Ok(()),
    }
}

/// The bytes a server's text frame of `len` bytes takes on the wire: the text and the
/// WebSocket frame header (unmasked, server to client).
pub(crate) fn ws_frame_bytes(len: usize) -> usize {
    len + match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    }
}

/// A JSON string.
fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A joined view: its socket and its encoding state.
pub(crate) struct ViewConn {
    pub(crate) ws: Ws,
    topic_json: String,
    join_ref: String,
    next_ref: u64,
    heartbeats: u64,
}

/// What a join answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Joined {
    /// The join reply's text frame, in bytes (the rendered view inside it).
    pub(crate) reply_bytes: usize,
}

impl ViewConn {
    /// Open the view socket as the page's JavaScript does (the meta tag's token in the
    /// query, the CSRF cookie sent) and join the page's view.
    pub(crate) async fn open(
        server: &Server,
        page: &Page,
        deadline: Instant,
    ) -> Result<(ViewConn, Joined), SetupError> {
        let url = server.ws(&format!(
            "/live/websocket?vsn=2.0.0&_csrf_token={}",
            page.csrf_token
        ));
        let cookie = format!("{CSRF_COOKIE}={}", page.csrf_cookie);
        let ws = open_ws(&url, Some(&cookie), deadline).await?;
        let mut conn = ViewConn {
            ws,
            topic_json: json_str(&format!("lv:{}", page.id)),
            join_ref: String::new(),
            next_ref: 1,
            heartbeats: 0,
        };
        let r = conn.take_ref();
        let payload = serde_json::json!({
            "url": server.http(&page.path),
            "params": {"_csrf_token": page.csrf_token, "_mounts": 0},
            "session": page.session,
            "static": page.static_token,
        });
        let frame = format!(r#"["{r}","{r}",{},"phx_join",{payload}]"#, conn.topic_json);
        send_by(&mut conn.ws, frame, deadline).await?;
        loop {
            let text = read_text(&mut conn.ws, deadline).await?;
            let Some(h) = wire::head(&text) else { continue };
            if h.event == "phx_reply" && h.r#ref == Some(r.as_str()) {
                if !h.payload.contains(r#""status":"ok""#) {
                    let reason = wire::string_member(h.payload, "reason")
                        .unwrap_or(h.payload)
                        .to_owned();
                    return Err(SetupError::Refused(reason));
                }
                conn.join_ref = r;
                return Ok((
                    conn,
                    Joined {
                        reply_bytes: text.len(),
                    },
                ));
            }
        }
    }

    fn take_ref(&mut self) -> String {
        let r = self.next_ref.to_string();
        self.next_ref += 1;
        r
    }

    /// A click on `phx-click=EVENT` with `value` (a JSON object: the `phx-value-*`): the
    /// frame and its ref.
    pub(crate) fn click(&mut self, event: &str, value: &str) -> (String, String) {
        let r = self.take_ref();
        let frame = format!(
            r#"["{}","{r}",{},"event",{{"type":"click","event":{},"value":{value}}}]"#,
            self.join_ref,
            self.topic_json,
            json_str(event)
        );
        (frame, r)
    }

    /// A heartbeat.
    pub(crate) fn heartbeat(&mut self) -> String {
        self.heartbeats += 1;
        format!(
            r#"[null,"hb{}","phoenix","heartbeat",{{}}]"#,
            self.heartbeats
        )
    }
}

/// A socket joined to a counter channel (phx-live-state).
pub(crate) struct ChannelConn {
    pub(crate) ws: Ws,
    topic_json: String,
    join_ref: String,
    next_ref: u64,
}

impl ChannelConn {
    /// Open `/socket/websocket?vsn=2.0.0` and join `topic`: its reply, then the first
    /// `state:change`.
    pub(crate) async fn open(
        server: &Server,
        topic: &str,
        deadline: Instant,
    ) -> Result<ChannelConn, SetupError> {
        let ws = open_ws(&server.ws("/socket/websocket?vsn=2.0.0"), None, deadline).await?;
        let mut conn = ChannelConn {
            ws,
            topic_json: json_str(topic),
            join_ref: String::new(),
            next_ref: 1,
        };
        let r = conn.take_ref();
        let frame = format!(r#"["{r}","{r}",{},"phx_join",{{}}]"#, conn.topic_json);
        send_by(&mut conn.ws, frame, deadline).await?;
        let mut replied = false;
        loop {
            let text = read_text(&mut conn.ws, deadline).await?;
            let Some(h) = wire::head(&text) else { continue };
            if h.event == "phx_reply" && h.r#ref == Some(r.as_str()) {
                if !h.payload.contains(r#""status":"ok""#) {
                    let reason = wire::string_member(h.payload, "reason")
                        .unwrap_or(h.payload)
                        .to_owned();
                    return Err(SetupError::Refused(reason));
                }
                replied = true;
            } else if h.event == "state:change" && replied {
                conn.join_ref = r;
                return Ok(conn);
            }
        }
    }

    fn take_ref(&mut self) -> String {
        let r = self.next_ref.to_string();
        self.next_ref += 1;
        r
    }

    /// The event `lvs_evt:NAME` with an empty payload: the frame and its ref.
    pub(crate) fn event(&mut self, name: &str) -> (String, String) {
        let r = self.take_ref();
        let frame = format!(
            r#"["{}","{r}",{},"lvs_evt:{name}",{{}}]"#,
            self.join_ref, self.topic_json
        );
        (frame, r)
    }
}

/// The diff of an event's ok reply payload `{"status":"ok","response":{"diff":{...}}}`,
/// re-encoded (compact, as the server writes it), or `None` when it is not one.
pub(crate) fn reply_diff(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    if v.get("status")?.as_str()? != "ok" {
        return None;
    }
    Some(v.get("response")?.get("diff")?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_from_urls() {
        for url in [
            "ws://127.0.0.1:4000",
            "127.0.0.1:4000",
            "http://127.0.0.1:4000/rows",
        ] {
            assert_eq!(Server::parse(url).authority, "127.0.0.1:4000", "{url}");
        }
        let s = Server::parse("ws://h:1/");
        assert_eq!(s.http("/rows"), "http://h:1/rows");
        assert_eq!(s.ws("/live/websocket"), "ws://h:1/live/websocket");
    }

    #[test]
    fn reads_responses_by_length_chunks_or_end() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\n\r\nhello, and more",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "hello"));
        assert_eq!(r.header("set-cookie").collect::<Vec<_>>(), ["a=1"]);
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, "abcde");
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\n\r\nnone").unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "none"));
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn reads_a_pages_tokens() {
        let body = "<html><head><meta name=\"csrf-token\" content=\"CSRF.sig\">\n</head><body>\
                    <div id=\"phx-abc\" data-phx-main data-phx-session=\"S.s\" data-phx-static=\"T.t\">x</div></body></html>";
        let response = HttpResponse {
            status: 200,
            headers: vec![(
                "set-cookie".into(),
                "_livestate_csrf=secret; Path=/; HttpOnly".into(),
            )],
            body: body.into(),
        };
        let page = read_page("/rows", &response).unwrap();
        assert_eq!(
            page,
            Page {
                path: "/rows".into(),
                id: "phx-abc".into(),
                session: "S.s".into(),
                static_token: "T.t".into(),
                csrf_token: "CSRF.sig".into(),
                csrf_cookie: "secret".into(),
                html_bytes: body.len(),
            }
        );
        let no_cookie = HttpResponse {
            headers: Vec::new(),
            ..response
        };
        assert!(read_page("/rows", &no_cookie).is_none());
    }

    #[test]
    fn frames_and_sizes() {
        assert_eq!(ws_frame_bytes(125), 127);
        assert_eq!(ws_frame_bytes(126), 130);
        assert_eq!(ws_frame_bytes(70_000), 70_010);
        assert_eq!(
            reply_diff(r#"{"status":"ok","response":{"diff":{"0":"21"}}}"#).as_deref(),
            Some(r#"{"0":"21"}"#)
        );
        assert_eq!(reply_diff(r#"{"status":"ok","response":{}}"#), None);
        assert_eq!(
            reply_diff(r#"{"status":"error","response":{"diff":{}}}"#),
            None
        );
    }
}
