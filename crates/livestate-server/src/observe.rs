//! What an operator sees of the transport: HTTP refusals logged at WARN with their
//! reason, and the peer address of each connection for the socket's logs.
//!
//! A route that refuses a request puts the reason in the response's extensions
//! ([`Refused`]); [`log_refusals`], a layer on the endpoint's routes, logs every 4xx with
//! the method, the path (never the query: it may hold a token) and that reason.

use crate::timed_io::WriteTimeout;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use std::net::SocketAddr;

/// Why a request was refused, carried from the route to [`log_refusals`].
#[derive(Debug, Clone)]
pub(crate) struct Refused(pub(crate) String);

/// A plain-text refusal that says why (with a newline, for people with curl) and carries
/// its reason to the log.
pub(crate) fn refuse(status: StatusCode, reason: impl Into<String>) -> Response {
    let reason = reason.into();
    let mut response = (status, format!("{reason}\n")).into_response();
    response.extensions_mut().insert(Refused(reason));
    response
}

/// Log the endpoint's 4xx answers at WARN: method, path, status and reason.
pub(crate) async fn log_refusals(request: Request, next: Next) -> Response {
    // clones of shared bytes, not copies: nothing is allocated for a request that passes
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        let reason = response
            .extensions()
            .get::<Refused>()
            .map_or("", |r| r.0.as_str());
        tracing::warn!(
            %method,
            path = %uri.path(),
            status = status.as_u16(),
            %reason,
            "HTTP request refused"
        );
    }
    response
}

/// A connection's peer address, as `serve` records it for every
/// connection (`into_make_service_with_connect_info::<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(SocketAddr);

impl<L> Connected<IncomingStream<'_, WriteTimeout<L>>> for PeerAddr
where
    L: Listener<Addr = SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, WriteTimeout<L>>) -> PeerAddr {
        PeerAddr(*stream.remote_addr())
    }
}

/// The peer's address, when the app is served with it (by `serve`, or by
/// an app's own `axum::serve` with `ConnectInfo<SocketAddr>`): the logs of a socket name
/// it.
pub(crate) struct Peer(pub(crate) Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Peer, Self::Rejection> {
        let ours = parts.extensions.get::<ConnectInfo<PeerAddr>>();
        let theirs = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(Peer(ours.map(|c| c.0.0).or(theirs.map(|c| c.0))))
    }
}
