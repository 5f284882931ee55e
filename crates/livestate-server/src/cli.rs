//! The command line shared by `livestate` and the test server: `serve` and its flags.

use crate::config::{Config, DocConfig, TtlConfig};
use crate::{Endpoint, ServerConfig, demo_router, serve};
use anyhow::Context;
use livestate_core::{DocChannel, HubBuilder, Limits, StateLimits};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
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
/// until SIGINT or SIGTERM. An error (a bad configuration file, a port in use) is printed
/// as one message and the exit status is 1.
pub fn main(hub: HubBuilder) -> std::process::ExitCode {
    use clap::Parser;
    init_tracing();
    let Command::Serve(args) = Cli::parse().command;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
        .and_then(|runtime| runtime.block_on(run(args, hub)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livestate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The flags of `serve`. A flag given on the command line wins over the configuration
/// file, which wins over the defaults shown.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file (doc key patterns with their ACL, TTL and initial state,
    /// limits, the API token); see the `config` module docs.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4000].
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Largest frame a client may send, in bytes (larger: close 1009) [default: 1048576].
    #[arg(long)]
    pub max_frame_size: Option<usize>,
    /// Channels one socket may join at once [default: 100].
    #[arg(long)]
    pub max_channels: Option<usize>,
    /// Seconds without a frame from a client before its socket is closed (4001)
    /// [default: 60].
    #[arg(long)]
    pub idle_timeout: Option<u64>,
    /// Seconds a client may leave frames unread before it is dropped [default: 30].
    #[arg(long)]
    pub write_timeout: Option<u64>,
    /// Frames queued per socket before its subscriptions lag and are resynced
    /// [default: 1024].
    #[arg(long)]
    pub outbox_capacity: Option<usize>,
    /// Bytes queued per socket before its subscriptions lag and are resynced
    /// [default: 1048576].
    #[arg(long)]
    pub outbox_bytes: Option<usize>,
    /// Seconds a shared key lives after its last subscriber left [default: 60].
    #[arg(long)]
    pub ttl: Option<u64>,
    /// WebSocket read buffer per socket, in bytes [default: 4096].
    #[arg(long)]
    pub read_buffer_size: Option<usize>,
    /// Do not serve the demo page at `/`.
    #[arg(long)]
    pub no_demo: bool,
    /// Share every key with other nodes through this Redis (`redis://host:6379`): one
    /// authority per key across the cluster, failover when a node dies.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// This node's id in the cluster [default: derived from the process].
    #[arg(long)]
    pub node_id: Option<String>,
    /// Milliseconds a key's lease lives without renewal: how long the keys of a dead node
    /// wait before another node takes them over [default: 3000].
    #[arg(long)]
    pub lease_ms: Option<u64>,
    /// The prefix of livestate's Redis keys [default: livestate].
    #[arg(long)]
    pub redis_prefix: Option<String>,
}

/// Run `serve` with `hub`'s routes until SIGINT or SIGTERM. The configuration file's
/// `[[docs]]` patterns are added to them (without any, `doc:*` with the defaults, unless
/// `hub` routes it already).
pub async fn run(args: ServeArgs, hub: HubBuilder) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let defaults = Limits::default();
    let server_defaults = ServerConfig::default();
    let secs = |flag: Option<u64>| flag.map(Duration::from_secs);
    let ttl = match (args.ttl, file.limits.ttl) {
        (Some(s), _) => Some(Duration::from_secs(s)),
        (None, Some(TtlConfig::After(d))) => Some(d),
        // "never" as the default TTL: a very long one (channels may still set their own)
        (None, Some(TtlConfig::Never)) => Some(Duration::from_secs(u64::from(u32::MAX))),
        (None, None) => None,
    };
    let limits = Limits {
        max_channels: args
            .max_channels
            .or(file.limits.max_channels)
            .unwrap_or(defaults.max_channels),
        outbox_capacity: args
            .outbox_capacity
            .or(file.limits.outbox_capacity)
            .unwrap_or(defaults.outbox_capacity),
        outbox_bytes: args
            .outbox_bytes
            .or(file.limits.outbox_bytes)
            .unwrap_or(defaults.outbox_bytes),
        ttl: ttl.unwrap_or(defaults.ttl),
        handler_timeout: file
            .limits
            .handler_timeout
            .unwrap_or(defaults.handler_timeout),
        state: file.limits.state(),
        ..defaults
    };
    let config = ServerConfig {
        max_frame_size: args
            .max_frame_size
            .or(file.limits.max_frame_size)
            .unwrap_or(server_defaults.max_frame_size),
        idle_timeout: secs(args.idle_timeout)
            .or(file.limits.idle_timeout)
            .unwrap_or(server_defaults.idle_timeout),
        write_timeout: secs(args.write_timeout)
            .or(file.limits.write_timeout)
            .unwrap_or(server_defaults.write_timeout),
        read_buffer_size: args
            .read_buffer_size
            .or(file.limits.read_buffer_size)
            .unwrap_or(server_defaults.read_buffer_size),
        body_timeout: file
            .limits
            .body_timeout
            .unwrap_or(server_defaults.body_timeout),
        ..server_defaults
    };
    let mut hub = hub;
    for doc in &file.docs {
        hub = hub.channel(&doc.pattern, doc_channel(doc, limits.state));
    }
    if file.docs.is_empty() && !hub.routes("doc:*") {
        hub = hub.channel("doc:*", DocChannel::default());
    }
    let mut endpoint = Endpoint::builder().hub(hub).limits(limits).config(config);
    if let Some(url) = args.redis.clone().or(file.redis.url.clone()) {
        let mut opts = livestate_redis::RedisOptions::new(url);
        if let Some(node) = args.node_id.clone().or(file.redis.node_id.clone()) {
            opts.node = node;
        }
        if let Some(ms) = args.lease_ms.or(file.redis.lease_ms) {
            opts.lease_time = Duration::from_millis(ms);
        }
        if let Some(prefix) = args.redis_prefix.clone().or(file.redis.prefix.clone()) {
            opts.prefix = prefix;
        }
        let node = opts.node.clone();
        let backplane = livestate_redis::RedisBackplane::connect(opts).await?;
        tracing::info!("cluster node {node} on Redis");
        endpoint = endpoint.backplane(backplane);
    }
    if let Some(token) = &file.api.token {
        endpoint = endpoint.api_token(token.clone());
    }
    match file.api.allow_origins.as_deref() {
        Some([any]) if any == "*" => endpoint = endpoint.allow_any_origin(),
        Some(origins) => endpoint = endpoint.allow_origins(origins),
        None => {}
    }
    let endpoint = endpoint.build();
    let bind = args
        .bind
        .or(file.bind)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4000)));
    let signal = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
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

/// The `doc:` channel a `[[docs]]` entry describes.
fn doc_channel(doc: &DocConfig, base: StateLimits) -> DocChannel {
    let mut channel = DocChannel::new(doc.initial.clone())
        .acl(doc.acl)
        .presence(doc.presence);
    if let Some(limits) = doc.state(base) {
        channel = channel.limits(limits);
    }
    if let Some(ttl) = doc.ttl {
        channel = channel.ttl(ttl.to_ttl());
    }
    if let Some(max) = doc.max_version {
        channel = channel.max_version(max);
    }
    channel
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
/// # async fn demo(app: axum::Router, live: livestate_server::Endpoint) -> anyhow::Result<()> {
/// livestate_server::cli::serve_app(None, "127.0.0.1:4001", app, &live).await
/// # }
/// ```
pub async fn serve_app(
    bind: Option<String>,
    default_bind: &str,
    app: axum::Router,
    endpoint: &Endpoint,
) -> anyhow::Result<()> {
    let bind = bind
        .or_else(|| std::env::var("BIND").ok())
        .unwrap_or_else(|| default_bind.to_owned());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    println!("listening on {}", listener.local_addr()?);
    serve(listener, app, endpoint, shutdown_signal()).await?;
    Ok(())
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
