//! Live views' routes (feature `view`): each view's page (the first GET), the socket at
//! `/live/websocket` and the stock client at `/live/live.js`.
//!
//! The socket is the same as `/socket/websocket` (one session per socket, the same codec,
//! heartbeat, outbox, limits and close codes); views are its `lv:*` topics, and only they:
//! a channel's topic is `unmatched topic` there, since this socket does not go through the
//! channels' `connect` callback. What differs is who may open it:
//! - **Origin**: with `allow_origins` set, as for `/socket`; without it, a browser's
//!   upgrade must come from the page's own host (its `Origin` names the `Host` it
//!   connects to), so another site cannot open a socket with the user's cookies.
//! - **CSRF**: the page's meta tag holds a token of the browser's CSRF secret (the
//!   `_livestate_csrf` cookie, set by the first GET). A socket whose `_csrf_token` does
//!   not match the cookie connects, but every view join on it is refused `stale`, which
//!   makes the client load the page again (and get a fresh cookie and token).
//!
//! A page's first GET: the app's session extractor (see
//! [`EndpointBuilder::view_session`](crate::EndpointBuilder::view_session)) makes the
//! session of the request; `on_mount` hooks run, and may answer a 302; the view mounts and
//! renders into the layout. 404 for a path no view serves (only the views' paths are
//! routed here), 500 with the reason when a view fails to mount.

use crate::app::AppState;
use crate::observe::{Peer, refuse};
use crate::{params, ws};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use livestate_view::live::{CSRF_COOKIE, DeadRequest, DeadResponse, FLASH_COOKIE, Session, Views};
use serde_json::Value;

/// The stock `phoenix_live_view` client (1.2) with `phoenix` and a bootstrap that connects
/// it to `/live` (built by `clients/js/build.mjs`, committed, so it works offline).
pub const LIVE_JS: &str = include_str!("../assets/live.js");

/// The socket assign that says whether the socket's CSRF token matched the browser's
/// cookie; views refuse joins on a socket without it.
pub use livestate_view::live::CSRF_VERIFIED;

/// The routes of `app`'s views (empty without views).
pub(crate) fn router(app: &AppState) -> Router {
    let Some(state) = &app.views else {
        return Router::new();
    };
    let mut router = Router::new()
        .route("/live/websocket", get(socket))
        .route("/live/live.js", get(live_js));
    for path in state.views.paths() {
        router = router.route(path, get(page));
    }
    router
        .route_layer(axum::middleware::from_fn(crate::observe::log_refusals))
        .with_state(app.clone())
}

async fn live_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LIVE_JS,
    )
}

/// The value of cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn page(State(app): State<AppState>, request: Request) -> Response {
    let Some(state) = app.views.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (parts, _) = request.into_parts();
    let url = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let headers = parts.headers.clone();
    let session = match &state.session {
        None => Session::new(),
        Some(make) => match make(parts).await {
            Ok(session) => session,
            Err(refused) => return refused,
        },
    };
    let known_secret = cookie(&headers, CSRF_COOKIE).filter(|s| !s.is_empty());
    let secret = known_secret.map_or_else(Views::new_csrf_secret, str::to_owned);
    let flash = cookie(&headers, FLASH_COOKIE).filter(|s| !s.is_empty());
    let request = DeadRequest {
        url: &url,
        session,
        flash,
        csrf_secret: &secret,
        hub: Some(app.hub.clone()),
    };
    let mut response = match state.views.dead_render(request).await {
        DeadResponse::Page(html) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        DeadResponse::Redirect { to, flash } => {
            let mut response = (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
            if let Some(flash) = flash {
                let cookie = format!("{FLASH_COOKIE}={flash}; Max-Age=60; Path=/; SameSite=Lax");
                set_cookie(&mut response, &cookie);
            }
            return response;
        }
        DeadResponse::NotFound => return refuse(StatusCode::NOT_FOUND, "no view serves this path"),
        DeadResponse::Error(reason) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, reason),
    };
    if known_secret.is_none() {
        let cookie = format!("{CSRF_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax");
        set_cookie(&mut response, &cookie);
    }
    if flash.is_some() {
        // shown once
        set_cookie(
            &mut response,
            &format!("{FLASH_COOKIE}=; Max-Age=0; Path=/"),
        );
    }
    response
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn socket(
    State(app): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    Peer(peer): Peer,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Some(state) = &app.views else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let foreign = match app.origins {
        Some(_) => app.foreign_origin(&headers),
        None => foreign_host(&headers),
    };
    if let Some(refused) = ws::refuse_upgrade(&app, &query, foreign) {
        return refused;
    }
    let token = query
        .iter()
        .find(|(k, _)| k == "_csrf_token")
        .map(|(_, v)| v.as_str());
    let verified = match (token, cookie(&headers, CSRF_COOKIE)) {
        (Some(token), Some(secret)) => state.views.csrf_matches(token, secret),
        _ => false,
    };
    let mut assigns = params::nest(&query);
    // set last: a client's own `_livestate_csrf_verified` param does not count
    assigns.insert(CSRF_VERIFIED.to_owned(), Value::Bool(verified));
    ws::accept(app.clone(), assigns, peer, upgrade, ws::Serves::Views)
}

/// The `Origin` of a browser's upgrade when it is not the page's own host.
fn foreign_host(headers: &HeaderMap) -> Option<&HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => None,
        _ => Some(origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pages_own_host_may_open_the_view_socket() {
        let headers = |origin: &str, host: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            h
        };
        assert!(foreign_host(&headers("http://localhost:4000", "localhost:4000")).is_none());
        assert!(foreign_host(&headers("https://App.example", "app.example")).is_none());
        assert!(foreign_host(&headers("http://evil.example", "localhost:4000")).is_some());
        assert!(foreign_host(&headers("http://localhost:4001", "localhost:4000")).is_some());
        assert!(foreign_host(&headers("null", "localhost:4000")).is_some());
        // no Origin: not a browser
        assert!(foreign_host(&HeaderMap::new()).is_none());
        let mut cookies = HeaderMap::new();
        cookies.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; _livestate_csrf=xyz"),
        );
        assert_eq!(cookie(&cookies, CSRF_COOKIE), Some("xyz"));
        assert_eq!(cookie(&cookies, "b"), None);
    }
}
