//! Running an application: [`serve`] until a signal, then a graceful shutdown (every socket
//! closed with 1001); [`serve_app`], which also binds and prints `listening on ADDR`;
//! [`shutdown_signal`] (SIGINT or SIGTERM).

use crate::{Endpoint, timed_io};
use axum::Router;
use std::future::Future;
use std::io;

/// Serve `app` (which nests `endpoint`'s router somewhere) until `signal` completes; then
/// refuse new joins, close every socket with 1001 (so clients reconnect elsewhere), and
/// return once they are closed (or after [`ServerConfig::shutdown_grace`](crate::ServerConfig::shutdown_grace)).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    endpoint: &Endpoint,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = endpoint.clone();
    let grace = endpoint.grace();
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<usize>();
    // Small frames go out at once: with Nagle's algorithm a frame written while the last
    // one is unacknowledged waits for the client's delayed ACK (40 ms on Linux).
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let listener = timed_io::WriteTimeout::new(listener, endpoint.write_timeout());
    // with each connection's peer address, for the logs
    let app = app.into_make_service_with_connect_info::<crate::observe::PeerAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("shutting down: closing every socket with 1001");
            let open = stopping.shutdown(grace).await;
            let _ = stopped_tx.send(open);
        })
        .await?;
    if let Ok(open) = stopped_rx.await {
        if open > 0 {
            tracing::warn!("{open} sockets still open after {grace:?}; exiting anyway");
        }
    }
    Ok(())
}

/// A future that completes on SIGINT or SIGTERM. The handlers are registered when this is
/// called (not when the future is first polled), so a signal that comes right after
/// start-up is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                (term, interrupt) => {
                    tracing::warn!(
                        "cannot listen for signals ({:?}, {:?}); falling back to Ctrl-C",
                        term.err(),
                        interrupt.err()
                    );
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Serve an app that nests `endpoint`'s router, as the examples do: listen on `bind`
/// (else `$BIND`, else `default_bind`), print `listening on ADDR` on stdout, and run until
/// SIGINT or SIGTERM (then close every socket with 1001).
///
/// ```no_run
/// # async fn demo(app: axum::Router, live: livestate_server::Endpoint) -> std::io::Result<()> {
/// livestate_server::serve_app(None, "127.0.0.1:4001", app, &live).await
/// # }
/// ```
pub async fn serve_app(
    bind: Option<String>,
    default_bind: &str,
    app: Router,
    endpoint: &Endpoint,
) -> io::Result<()> {
    let bind = bind
        .or_else(|| std::env::var("BIND").ok())
        .unwrap_or_else(|| default_bind.to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {bind}: {e}")))?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener, app, endpoint, shutdown_signal()).await
}
