//! The command line shared by `livestate` and the test server: `serve` and its flags.

use crate::{Endpoint, ServerConfig, demo_router, serve};
use anyhow::Context;
use livestate_core::{HubBuilder, Limits};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// The command line: `NAME serve [flags]`.
#[derive(clap::Parser)]
#[command(
    version,
    about = "Live shared state for web clients, LiveState-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve the WebSocket endpoint (`/socket/websocket?vsn=2.0.0`), `/health`,
    /// `/livestate.js` and the demo page.
    Serve(ServeArgs),
}

/// The whole of a server binary: parse the command line, log, and serve `hub`'s routes
/// until SIGINT or SIGTERM.
pub fn main(hub: HubBuilder) -> anyhow::Result<()> {
    use clap::Parser;
    init_tracing();
    let Command::Serve(args) = Cli::parse().command;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(run(args, hub))
}

/// The flags of `serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub bind: SocketAddr,
    /// Largest frame a client may send, in bytes (larger: close 1009).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_frame_size: usize,
    /// Channels one socket may join at once.
    #[arg(long, default_value_t = 100)]
    pub max_channels: usize,
    /// Seconds without a frame from a client before its socket is closed (4001).
    #[arg(long, default_value_t = 60)]
    pub idle_timeout: u64,
    /// Seconds a client may leave frames unread before it is dropped.
    #[arg(long, default_value_t = 30)]
    pub write_timeout: u64,
    /// Frames queued per socket before its subscriptions lag and are resynced.
    #[arg(long, default_value_t = 1024)]
    pub outbox_capacity: usize,
    /// Bytes queued per socket before its subscriptions lag and are resynced.
    #[arg(long, default_value_t = 1 << 20)]
    pub outbox_bytes: usize,
    /// Seconds a shared key lives after its last subscriber left.
    #[arg(long, default_value_t = 60)]
    pub ttl: u64,
    /// Do not serve the demo page at `/`.
    #[arg(long)]
    pub no_demo: bool,
    /// WebSocket read buffer per socket, in bytes.
    #[arg(long, default_value_t = 4096)]
    pub read_buffer_size: usize,
}

/// Run `serve` with `hub` (its routes; limits come from `args`) until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs, hub: HubBuilder) -> anyhow::Result<()> {
    let limits = Limits {
        max_channels: args.max_channels,
        outbox_capacity: args.outbox_capacity,
        outbox_bytes: args.outbox_bytes,
        ttl: Duration::from_secs(args.ttl),
        ..Limits::default()
    };
    let config = ServerConfig {
        max_frame_size: args.max_frame_size,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        write_timeout: Duration::from_secs(args.write_timeout),
        read_buffer_size: args.read_buffer_size,
        ..ServerConfig::default()
    };
    let endpoint = Endpoint::from_hub(hub.limits(limits).build(), config);
    let signal = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(
        "livestate listening on http://{addr} (WebSocket: ws://{addr}/socket/websocket?vsn=2.0.0)"
    );
    println!("livestate listening on {addr}");
    let mut app = endpoint.router();
    if !args.no_demo {
        app = app.merge(demo_router());
    }
    serve(listener, app, &endpoint, signal).await?;
    tracing::info!("livestate stopped");
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

/// Log to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}
