//! `livestate-view-bench-server [--bind 127.0.0.1:0] [--no-shared-render]
//! [--coalesce-ms N] [--redis URL [--node-id ID]]`: livestate serving the live-view
//! benchmark's views (`/thermostat`, `/rows`, `/board`), the same counter as a channel
//! (`counter:*` on `/socket/websocket`) and `doc:*` documents, with the default
//! `ServerConfig` (see `livestate_loadgen::viewbench`). Prints
//! `livestate-view-bench-server listening on ADDR` first; SIGTERM or SIGINT stops it.
//!
//! With `--redis`, a node of a cluster: start several on the same Redis and every key
//! (`doc:board` among them) is shared between them.

use anyhow::Context;
use clap::Parser;
use livestate_loadgen::viewbench::Options;
use livestate_server::ServerConfig;
use std::net::SocketAddr;
use std::time::Duration;

/// The benchmark server's command line.
#[derive(Parser)]
#[command(
    version,
    about = "livestate serving the live-view benchmark's views and its channels"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Every view renders alone (views attached to one key share no render).
    #[arg(long)]
    no_shared_render: bool,
    /// Coalesce each `doc:` key's changes within this many milliseconds.
    #[arg(long)]
    coalesce_ms: Option<u64>,
    /// A node of the cluster on this Redis (redis://127.0.0.1:6379).
    #[arg(long)]
    redis: Option<String>,
    /// This node's id in the cluster (default: one made from the process).
    #[arg(long, requires = "redis")]
    node_id: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    rt.enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(async move {
            let mut options = Options {
                shared_render: !args.no_shared_render,
                coalesce: args.coalesce_ms.map(Duration::from_millis),
                ..Options::default()
            };
            if let Some(url) = &args.redis {
                let mut opts = livestate_redis::RedisOptions::new(url.clone());
                if let Some(node) = &args.node_id {
                    opts.node.clone_from(node);
                }
                let backplane = livestate_redis::RedisBackplane::connect(opts)
                    .await
                    .with_context(|| format!("joining the cluster on {url}"))?;
                options.backplane = Some(backplane);
            }
            let listener = tokio::net::TcpListener::bind(args.bind)
                .await
                .with_context(|| format!("binding {}", args.bind))?;
            let addr = listener.local_addr()?;
            println!("livestate-view-bench-server listening on {addr}");
            livestate_loadgen::viewbench::serve_with(
                listener,
                ServerConfig::default(),
                options,
                livestate_server::shutdown_signal(),
            )
            .await?;
            Ok(())
        })
}
