//! What every route of an [`Endpoint`](crate::Endpoint) shares ([`AppState`]): the hub,
//! the transport's config, the open sockets, the connect callback and the origin policy;
//! and the connect callback's types.

use crate::ServerConfig;
use axum::http::{HeaderMap, HeaderValue, header};
use futures_util::future::BoxFuture;
use livestate_core::{Assigns, Hub};
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// What a `connect` callback sees of a socket that wants to connect.
#[derive(Debug, Clone)]
pub struct ConnectInfo {
    /// The connect params (the query string, `k[sub]=v` nested into objects; values are
    /// strings), without `vsn`.
    pub params: Assigns,
    /// The token phoenix.js 1.8 sends with its `authToken` option (in the
    /// `Sec-WebSocket-Protocol` header), decoded.
    pub auth_token: Option<String>,
    /// The upgrade request's headers (cookies, `Origin`, ...).
    pub headers: HeaderMap,
}

/// A refused connection: the upgrade is answered `403 Forbidden` with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRefused(pub String);

impl ConnectRefused {
    /// A refusal with a reason.
    pub fn new(reason: impl Into<String>) -> ConnectRefused {
        ConnectRefused(reason.into())
    }
}

pub(crate) type ConnectFn =
    Arc<dyn Fn(ConnectInfo) -> BoxFuture<'static, Result<Assigns, ConnectRefused>> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Hub,
    pub(crate) config: Arc<ServerConfig>,
    /// Every open socket holds a token of this tracker, so shutdown can wait for them.
    pub(crate) sockets: TaskTracker,
    pub(crate) connect: Option<ConnectFn>,
    /// When set, a WebSocket upgrade whose `Origin` is not listed is refused (403).
    pub(crate) origins: Option<Arc<[HeaderValue]>>,
    /// When set, the HTTP state API needs `Authorization: Bearer <token>`.
    pub(crate) api_token: Option<Arc<str>>,
    /// The live views and how a page's session is made.
    #[cfg(feature = "view")]
    pub(crate) views: Option<ViewState>,
}

/// Makes a view page's session from its first request.
#[cfg(feature = "view")]
pub(crate) type SessionFn = Arc<
    dyn Fn(
            axum::http::request::Parts,
        )
            -> BoxFuture<'static, Result<livestate_view::live::Session, axum::response::Response>>
        + Send
        + Sync,
>;

/// What the view routes share: the views, and how a page's session is made.
#[cfg(feature = "view")]
#[derive(Clone)]
pub(crate) struct ViewState {
    pub(crate) views: livestate_view::live::Views,
    pub(crate) session: Option<SessionFn>,
}

impl AppState {
    /// The request's `Origin` when it must be refused: `allow_origins` is set, the request
    /// sends an `Origin`, and it is not listed. A request without one (not from a browser)
    /// passes, as with Phoenix's `check_origin`.
    pub(crate) fn foreign_origin<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let allowed = self.origins.as_ref()?;
        let origin = headers.get(header::ORIGIN)?;
        (!allowed.contains(origin)).then_some(origin)
    }
}
