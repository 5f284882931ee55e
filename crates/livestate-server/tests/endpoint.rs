//! Mounting livestate into an application: nesting, the connect callback, the auth token,
//! origin checks and CORS.

use anyhow::Result;
use axum::Router;
use axum::routing::get;
use livestate_core::event::AnyEvent;
use livestate_core::{Assigns, Channel, ChannelError, Doc, EventContext, JoinContext, Reply};
use livestate_server::{ConnectRefused, Endpoint};
use livestate_testkit::{Client, TestServer, http};
use serde::de::IgnoredAny;
use serde_json::json;

/// A channel that tells the sender what its socket assigns say.
struct WhoAmI;

impl Channel for WhoAmI {
    type State = Doc;
    type Event = AnyEvent;
    type Params = IgnoredAny;
    async fn init(&self, _: &IgnoredAny, ctx: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"first_joiner": ctx.get("user")})))
    }
    async fn handle_event(
        &self,
        _: AnyEvent,
        _: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        Ok(Reply::event(
            "you_are",
            json!({"user": ctx.get("user"), "token": ctx.get("token")}),
        ))
    }
}

fn guarded() -> Endpoint {
    Endpoint::builder()
        .channel("me:*", WhoAmI)
        .connect(|info| async move {
            let user = info
                .params
                .get("user")
                .cloned()
                .ok_or_else(|| ConnectRefused::new("who are you?"))?;
            let mut assigns = Assigns::new();
            assigns.insert("user".into(), user);
            assigns.insert("token".into(), json!(info.auth_token));
            Ok(assigns)
        })
        .build()
}

/// Serve `endpoint` nested at `/live` beside an application route.
async fn nested(endpoint: Endpoint) -> Result<(TestServer, String)> {
    let app_route = Router::new().route("/", get(|| async { "the app" }));
    let server = TestServer::start_app(endpoint, |live| app_route.nest("/live", live)).await?;
    let url = format!("ws://{}/live/socket/websocket?vsn=2.0.0", server.addr);
    Ok((server, url))
}

#[tokio::test]
async fn the_router_nests_into_an_application() -> Result<()> {
    let (server, url) = nested(Endpoint::builder().channel("me:*", WhoAmI).build()).await?;
    assert_eq!(http::get(server.addr, "/").await?.body, "the app");
    assert_eq!(http::get(server.addr, "/live/health").await?.status, 200);
    let js = http::get(server.addr, "/live/livestate.js").await?;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let mut c = Client::connect(&url).await?;
    c.join("me:1", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn without_a_callback_the_connect_params_are_the_assigns() -> Result<()> {
    let (_server, url) = nested(Endpoint::builder().channel("me:*", WhoAmI).build()).await?;
    let mut c = Client::connect(&format!("{url}&user=ann&token[kind]=x")).await?;
    let jr = c.join("me:1", json!({})).await?;
    c.push_event(&jr, "me:1", "who", json!({})).await?;
    let reply = c.recv_until(|f| f.event == "you_are").await?;
    assert_eq!(
        reply.payload,
        json!({"user": "ann", "token": {"kind": "x"}})
    );
    Ok(())
}

#[tokio::test]
async fn the_connect_callback_refuses_with_403_and_sets_the_assigns() -> Result<()> {
    let (server, url) = nested(guarded()).await?;
    let refused = http::request(
        server.addr,
        "GET",
        "/live/socket/websocket?vsn=2.0.0",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "",
    )
    .await?;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body.trim(), "who are you?");
    assert!(Client::connect(&url).await.is_err());

    // phoenix 1.8's authToken: btoa(token) without padding (standard alphabet, here a '/')
    let token = "a token>?";
    let encoded = "YSB0b2tlbj4/";
    let mut c = Client::connect_with_protocols(
        &format!("{url}&user=bob"),
        &[
            "phoenix",
            &format!("base64url.bearer.phx.{}", encoded.trim_end_matches('=')),
        ],
    )
    .await?;
    assert_eq!(c.protocol.as_deref(), Some("phoenix"));
    let jr = c.join("me:2", json!({})).await?;
    let change = c.recv_until(|f| f.event == "state:change").await?;
    assert_eq!(change.payload["state"], json!({"first_joiner": "bob"}));
    c.push_event(&jr, "me:2", "who", json!({})).await?;
    let reply = c.recv_until(|f| f.event == "you_are").await?;
    assert_eq!(reply.payload, json!({"user": "bob", "token": token}));
    Ok(())
}

#[tokio::test]
async fn allowed_origins_are_checked_on_upgrade_and_answered_with_cors() -> Result<()> {
    let endpoint = Endpoint::builder()
        .channel("me:*", WhoAmI)
        .allow_origins(["https://app.example"])
        .build();
    let (server, url) = nested(endpoint).await?;
    Client::connect_with_headers(&url, &[("origin", "https://app.example")]).await?;
    let err = Client::connect_with_headers(&url, &[("origin", "https://evil.example")])
        .await
        .err()
        .expect("a foreign origin is refused");
    assert!(format!("{err:#}").contains("403"), "{err:#}");
    // as Phoenix's check_origin: only browsers send an Origin, and only they need the check
    Client::connect(&url)
        .await
        .expect("no Origin header (not a browser): let through");

    let ok = http::request(
        server.addr,
        "GET",
        "/live/health",
        &[("Origin", "https://app.example")],
        "",
    )
    .await?;
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let preflight = http::request(
        server.addr,
        "OPTIONS",
        "/live/health",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "PUT"),
        ],
        "",
    )
    .await?;
    assert_eq!(preflight.status, 200);
    assert!(
        preflight
            .header("access-control-allow-methods")
            .unwrap_or("")
            .contains("PUT")
    );
    let foreign = http::request(
        server.addr,
        "GET",
        "/live/health",
        &[("Origin", "https://evil.example")],
        "",
    )
    .await?;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
    Ok(())
}

#[tokio::test]
async fn allow_any_origin_is_permissive() -> Result<()> {
    let endpoint = Endpoint::builder()
        .channel("me:*", WhoAmI)
        .allow_any_origin()
        .build();
    let (server, url) = nested(endpoint).await?;
    Client::connect_with_headers(&url, &[("origin", "https://anywhere.example")]).await?;
    let r = http::request(
        server.addr,
        "GET",
        "/live/health",
        &[("Origin", "https://anywhere.example")],
        "",
    )
    .await?;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    Ok(())
}

#[tokio::test]
async fn hub_send_reaches_every_joiner_as_a_patch() -> Result<()> {
    let (server, url) = nested(
        Endpoint::builder()
            .channel("doc:*", livestate_core::DocChannel::default())
            .build(),
    )
    .await?;
    let mut c = Client::connect(&url).await?;
    c.join("doc:pubsub", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    // DocChannel ignores messages (the default handle_message): the version still moves
    let version = server.hub().send("doc:pubsub", json!({"hello": 1})).await?;
    let patch = c.recv_until(|f| f.event == "state:patch").await?;
    assert_eq!(patch.payload, json!({"patch": [], "version": version}));
    let err = server.hub().send("nope:1", json!({})).await.unwrap_err();
    assert_eq!(err.to_string(), "no channel serves \"nope:1\"");
    Ok(())
}
