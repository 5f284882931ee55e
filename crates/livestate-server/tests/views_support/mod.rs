//! Helpers for `tests/views.rs`: a page's first GET parsed (its root div, its CSRF meta
//! tag, its cookies), the view socket opened as the page's JavaScript opens it, joins as
//! the stock client sends them, and a client-side copy of the rendered tree (merged as
//! `rendered.js` merges it) to read what the page would show.

#![allow(dead_code, unreachable_pub)]

use anyhow::{Context, Result, anyhow, bail, ensure};
use livestate_testkit::http::{self, Response};
use livestate_testkit::{Client, Frame, TestServer};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// How long a single wait for a frame may take: generous, the machine may be busy.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The test views' server (`livestate_testkit::views::endpoint()`), in this process.
pub async fn server() -> Result<TestServer> {
    let endpoint = livestate_testkit::views::endpoint();
    let views = endpoint.views_router();
    TestServer::start_app(endpoint, move |r| r.merge(views)).await
}

/// `GET path`, with a `Cookie` header when `cookie` is given.
pub async fn get(server: &TestServer, path: &str, cookie: Option<&str>) -> Result<Response> {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    http::request(server.addr, "GET", path, &headers, "").await
}

/// Every `Set-Cookie` of a response.
pub fn set_cookies(response: &Response) -> Vec<&str> {
    response
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The `Set-Cookie` of cookie `name`, whole (`name=value; Path=/; ...`).
pub fn set_cookie<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    set_cookies(response).into_iter().find(|c| {
        c.split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(k, _)| k.trim())
            == Some(name)
    })
}

/// The value a `Set-Cookie` line sets.
pub fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map_or("", |(_, v)| v.trim())
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_in<'c>(header: &'c str, name: &str) -> Option<&'c str> {
    header
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// What a view's first GET gave: the root div's id and tokens, the CSRF meta tag's token
/// and the browser's CSRF cookie (the one set, or the one sent).
#[derive(Debug, Clone)]
pub struct Page {
    /// The root div's id (`phx-...`): the topic is `lv:` + id.
    pub id: String,
    /// `data-phx-session`.
    pub session: String,
    /// `data-phx-static`.
    pub static_token: String,
    /// `<meta name="csrf-token" content=...>`.
    pub csrf_token: String,
    /// The `_livestate_csrf` cookie's value.
    pub csrf_cookie: String,
    /// The whole response.
    pub response: Response,
}

impl Page {
    /// `lv:` + id.
    pub fn topic(&self) -> String {
        format!("lv:{}", self.id)
    }
}

/// The value of attribute `name` in the tag `tag` (`<div id=... name="value">`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// GET a view's page and read it; fails unless it is a 200 page with the root div and the
/// meta tag.
pub async fn page(server: &TestServer, path: &str, cookie: Option<&str>) -> Result<Page> {
    let response = get(server, path, cookie).await?;
    ensure!(
        response.status == 200,
        "GET {path}: {} {:?}",
        response.status,
        response.body
    );
    let body = &response.body;
    let main_at = body
        .find("data-phx-main")
        .ok_or_else(|| anyhow!("GET {path}: no root div in {body:?}"))?;
    let open = body[..main_at]
        .rfind("<div ")
        .context("the root div's start")?;
    let close = body[open..].find('>').context("the root div's end")? + open;
    let div = &body[open..=close];
    let meta_at = body
        .find("<meta name=\"csrf-token\"")
        .ok_or_else(|| anyhow!("GET {path}: no csrf meta tag in {body:?}"))?;
    let meta_end = body[meta_at..].find('>').context("the meta tag's end")? + meta_at;
    let meta = &body[meta_at..=meta_end];
    let csrf_cookie = match set_cookie(&response, "_livestate_csrf") {
        Some(set) => cookie_value(set).to_owned(),
        None => cookie
            .and_then(|c| cookie_in(c, "_livestate_csrf"))
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("GET {path}: no _livestate_csrf cookie set nor sent"))?,
    };
    Ok(Page {
        id: attribute(div, "id").context("the root div's id")?,
        session: attribute(div, "data-phx-session").context("data-phx-session")?,
        static_token: attribute(div, "data-phx-static").context("data-phx-static")?,
        csrf_token: attribute(meta, "content").context("the meta tag's content")?,
        csrf_cookie,
        response,
    })
}

/// `ws://ADDR/live/websocket?vsn=2.0.0&_csrf_token=TOKEN` (no token: none in the query).
pub fn socket_url(server: &TestServer, csrf_token: Option<&str>) -> String {
    let mut url = format!("ws://{}/live/websocket?vsn=2.0.0", server.addr);
    if let Some(token) = csrf_token {
        url.push_str("&_csrf_token=");
        url.push_str(token);
    }
    url
}

/// Open the view socket with these headers; the client waits [`PATIENCE`] for frames.
pub async fn connect_with(
    server: &TestServer,
    csrf_token: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<Client> {
    let mut client = Client::connect_with_headers(&socket_url(server, csrf_token), headers).await?;
    client.timeout = PATIENCE;
    Ok(client)
}

/// Open the view socket as the page's JavaScript does: the meta tag's token in the query,
/// the browser's CSRF cookie sent.
pub async fn connect(server: &TestServer, page: &Page) -> Result<Client> {
    let cookie = format!("_livestate_csrf={}", page.csrf_cookie);
    connect_with(server, Some(&page.csrf_token), &[("cookie", &cookie)]).await
}

/// A page's URL on `server` (what the client sends as the join's `url`).
pub fn url(server: &TestServer, path: &str) -> String {
    server.http(path)
}

/// The join payload the stock client sends for a page's first mount.
pub fn join_payload(page: &Page, url: &str) -> Value {
    json!({
        "url": url,
        "params": {"_csrf_token": page.csrf_token, "_mounts": 0},
        "session": page.session,
        "static": page.static_token,
    })
}

/// Send `[jr, jr, topic, "phx_join", payload]` and wait for its reply: (join_ref, reply).
pub async fn join_with(
    client: &mut Client,
    topic: &str,
    payload: Value,
) -> Result<(String, Frame)> {
    let jr = client.push_join(topic, payload).await?;
    let reply = client.reply_to(&jr).await?;
    Ok((jr, reply))
}

/// Join a page's view at `url`: (join_ref, reply).
pub async fn join(client: &mut Client, page: &Page, url: &str) -> Result<(String, Frame)> {
    join_with(client, &page.topic(), join_payload(page, url)).await
}

/// A joined view: its topic, join_ref and what the client holds of its render.
pub struct Joined {
    /// `lv:<id>`.
    pub topic: String,
    /// The join's ref.
    pub join_ref: String,
    /// The page as the client holds it.
    pub tree: Tree,
}

/// Join and require an ok reply with `rendered` and `liveview_version: "1.2.12"`.
pub async fn join_ok(client: &mut Client, page: &Page, url: &str) -> Result<Joined> {
    let (join_ref, reply) = join(client, page, url).await?;
    let tree = joined_tree(&reply, &page.topic(), &join_ref)?;
    Ok(Joined {
        topic: page.topic(),
        join_ref,
        tree,
    })
}

/// Check a join's ok reply (exact frame but for the rendered) and build its tree.
pub fn joined_tree(reply: &Frame, topic: &str, join_ref: &str) -> Result<Tree> {
    ensure!(
        reply.join_ref.as_deref() == Some(join_ref)
            && reply.r#ref.as_deref() == Some(join_ref)
            && reply.topic == topic
            && reply.event == "phx_reply"
            && reply.payload["status"] == "ok",
        "not an ok join reply: {}",
        show(reply)
    );
    let response = reply.payload["response"]
        .as_object()
        .ok_or_else(|| anyhow!("no response: {}", show(reply)))?;
    let keys: Vec<&str> = response.keys().map(String::as_str).collect();
    ensure!(
        keys == ["liveview_version", "rendered"],
        "the join's response has {keys:?}: {}",
        show(reply)
    );
    ensure!(
        response["liveview_version"] == "1.2.12",
        "version: {}",
        show(reply)
    );
    let rendered = &response["rendered"];
    ensure!(
        rendered.get("s").is_some_and(Value::is_array),
        "rendered without s: {rendered}"
    );
    let mut tree = Tree::default();
    tree.merge(rendered)?;
    Ok(tree)
}

/// A frame as the JSON array it was sent as.
pub fn as_json(frame: &Frame) -> Value {
    json!([
        frame.join_ref,
        frame.r#ref,
        frame.topic,
        frame.event,
        frame.payload
    ])
}

/// A frame, for messages.
pub fn show(frame: &Frame) -> String {
    as_json(frame).to_string()
}

/// `[jr, ref, topic, "phx_reply", {"status": "error", "response": {"reason": reason}}]`.
pub fn error_reply(jr: Option<&str>, r#ref: &str, topic: &str, reason: &str) -> Value {
    json!([jr, r#ref, topic, "phx_reply", {"status": "error", "response": {"reason": reason}}])
}

/// `[jr, ref, topic, "phx_reply", {"status": "ok", "response": response}]`.
pub fn ok_reply(jr: &str, r#ref: &str, topic: &str, response: Value) -> Value {
    json!([jr, r#ref, topic, "phx_reply", {"status": "ok", "response": response}])
}

impl Joined {
    /// Send `event` with `payload` on this join; returns the ref.
    pub async fn push(&self, client: &mut Client, event: &str, payload: Value) -> Result<String> {
        let r = client.make_ref();
        client
            .send(Some(&self.join_ref), Some(&r), &self.topic, event, payload)
            .await?;
        Ok(r)
    }

    /// Send an `event` push and wait for its reply.
    pub async fn call(
        &self,
        client: &mut Client,
        event: &str,
        payload: Value,
    ) -> Result<(String, Frame)> {
        let r = self.push(client, event, payload).await?;
        let reply = client.reply_to(&r).await?;
        Ok((r, reply))
    }

    /// A `click` event `name` with `value`; the reply.
    pub async fn click(
        &self,
        client: &mut Client,
        name: &str,
        value: Value,
    ) -> Result<(String, Frame)> {
        self.call(
            client,
            "event",
            json!({"type": "click", "event": name, "value": value}),
        )
        .await
    }

    /// Require an ok reply `{diff}` to `r` (exactly: status ok, a response with `diff`
    /// alone), merge the diff and return it.
    pub fn take_diff(&mut self, r: &str, reply: &Frame) -> Result<Value> {
        ensure!(
            reply.join_ref.as_deref() == Some(self.join_ref.as_str())
                && reply.r#ref.as_deref() == Some(r)
                && reply.topic == self.topic
                && reply.event == "phx_reply"
                && reply.payload["status"] == "ok",
            "not an ok reply to {r}: {}",
            show(reply)
        );
        let response = reply.payload["response"]
            .as_object()
            .ok_or_else(|| anyhow!("no response: {}", show(reply)))?;
        let keys: Vec<&str> = response.keys().map(String::as_str).collect();
        ensure!(
            keys == ["diff"],
            "the reply has {keys:?}, not a diff alone: {}",
            show(reply)
        );
        let diff = response["diff"].clone();
        self.tree.merge(&diff)?;
        Ok(diff)
    }
}

/// What the client holds of a view's render, merged as `rendered.js` merges diffs (1.1 /
/// 1.2 format: `s` strings or an index into the diff's `p`, numbered dynamics, nested
/// renders, keyed lists `k` with `kc`), and the page title.
#[derive(Debug, Default, Clone)]
pub struct Tree {
    root: Option<Value>,
    /// The title (`t`) last sent.
    pub title: Option<String>,
}

impl Tree {
    /// Merge a diff (a join's `rendered`, an event's `diff`, a `diff` push).
    pub fn merge(&mut self, diff: &Value) -> Result<()> {
        let mut diff = diff
            .as_object()
            .cloned()
            .ok_or_else(|| anyhow!("a diff must be an object: {diff}"))?;
        if let Some(title) = diff.remove("t") {
            self.title = Some(title.as_str().context("t must be a string")?.to_owned());
        }
        // the event reply and pushed events are not part of the tree
        diff.remove("r");
        diff.remove("e");
        let templates = diff.remove("p").unwrap_or(Value::Null);
        let mut diff = Value::Object(diff);
        resolve(&mut diff, &templates)?;
        self.root = Some(match self.root.take() {
            None => diff,
            Some(old) => merge(old, diff)?,
        });
        Ok(())
    }

    /// The whole inner HTML of the view.
    pub fn html(&self) -> Result<String> {
        let mut out = String::new();
        render(
            self.root.as_ref().context("nothing rendered yet")?,
            &mut out,
        )?;
        Ok(out)
    }

    /// The text of the element with `id` (up to its first `<`).
    pub fn text(&self, id: &str) -> Result<String> {
        let html = self.html()?;
        let needle = format!("id=\"{id}\"");
        let at = html
            .find(&needle)
            .ok_or_else(|| anyhow!("no #{id} in {html}"))?;
        let start = html[at..].find('>').context("the tag's end")? + at + 1;
        let end = html[start..].find('<').map_or(html.len(), |e| e + start);
        Ok(html[start..end].to_owned())
    }
}

/// Replace every `s` that is an index by the statics of the diff's `p`.
fn resolve(value: &mut Value, templates: &Value) -> Result<()> {
    match value {
        Value::Object(map) => {
            if let Some(Value::Number(n)) = map.get("s") {
                let i = n.as_u64().context("s index")?.to_string();
                let statics = templates
                    .get(&i)
                    .ok_or_else(|| anyhow!("s: {i} is not in p: {templates}"))?
                    .clone();
                map.insert("s".into(), statics);
            }
            for (k, v) in map.iter_mut() {
                if k != "s" {
                    resolve(v, templates)?;
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                resolve(item, templates)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `rendered.js`'s merge: a diff with `s` replaces, otherwise key by key; keyed lists by
/// their entries.
fn merge(old: Value, diff: Value) -> Result<Value> {
    if diff.get("s").is_some() {
        return Ok(diff);
    }
    let (Value::Object(mut old), Value::Object(diff)) = (old, diff.clone()) else {
        return Ok(diff);
    };
    for (key, value) in diff {
        if key == "k" {
            let held = old.remove("k").unwrap_or_else(|| json!({}));
            old.insert("k".into(), merge_keyed(held, value)?);
            continue;
        }
        let merged = match (old.remove(&key), value) {
            (Some(held @ Value::Object(_)), value @ Value::Object(_)) => merge(held, value)?,
            (_, value) => value,
        };
        old.insert(key, merged);
    }
    Ok(Value::Object(old))
}

fn merge_keyed(held: Value, diff: Value) -> Result<Value> {
    let held = held.as_object().cloned().unwrap_or_default();
    let diff = diff.as_object().cloned().context("k must be an object")?;
    let count = diff
        .get("kc")
        .and_then(Value::as_u64)
        .context("k without kc")?;
    let mut out = Map::new();
    for i in 0..count {
        let key = i.to_string();
        let entry = match diff.get(&key) {
            None => held
                .get(&key)
                .cloned()
                .ok_or_else(|| anyhow!("entry {i} neither held nor sent"))?,
            Some(Value::Number(old)) => held
                .get(&old.to_string())
                .cloned()
                .ok_or_else(|| anyhow!("moved from {old}, which is not held"))?,
            Some(Value::Array(moved)) => {
                let [old, change] = moved.as_slice() else {
                    bail!("a move is [old, diff]: {moved:?}");
                };
                let from = held
                    .get(&old.to_string())
                    .cloned()
                    .ok_or_else(|| anyhow!("moved from {old}, which is not held"))?;
                merge(from, change.clone())?
            }
            Some(entry @ Value::Object(_)) => match held.get(&key) {
                Some(h) => merge(h.clone(), entry.clone())?,
                None => entry.clone(),
            },
            Some(other) => bail!("a keyed entry cannot be {other}"),
        };
        out.insert(key, entry);
    }
    out.insert("kc".into(), json!(count));
    Ok(Value::Object(out))
}

fn render(node: &Value, out: &mut String) -> Result<()> {
    match node {
        Value::String(s) => out.push_str(s),
        Value::Object(map) => {
            let statics = map
                .get("s")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("a rendered without statics: {node}"))?;
            let statics: Vec<&str> = statics.iter().map(|s| s.as_str().unwrap_or("")).collect();
            match map.get("k") {
                Some(keyed) => {
                    let count = keyed.get("kc").and_then(Value::as_u64).unwrap_or(0);
                    for i in 0..count {
                        let entry = &keyed[i.to_string()];
                        slots(&statics, entry, out)?;
                    }
                }
                None => slots(&statics, node, out)?,
            }
        }
        other => bail!("cannot render {other}"),
    }
    Ok(())
}

fn slots(statics: &[&str], dynamics: &Value, out: &mut String) -> Result<()> {
    for (i, s) in statics.iter().enumerate() {
        out.push_str(s);
        if i + 1 < statics.len() {
            let slot = dynamics
                .get(i.to_string())
                .ok_or_else(|| anyhow!("slot {i} missing in {dynamics}"))?;
            render(slot, out)?;
        }
    }
    Ok(())
}

/// Whether a JSON value holds the string `needle` anywhere (as a value).
pub fn holds(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s == needle,
        Value::Array(a) => a.iter().any(|v| holds(v, needle)),
        Value::Object(m) => m.values().any(|v| holds(v, needle)),
        _ => false,
    }
}
