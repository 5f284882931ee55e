//! `livestate-view-bench-server [--bind 127.0.0.1:0]`: livestate serving the live-view
//! benchmark's views (`/thermostat`, `/rows`) and the same counter as a channel
//! (`counter:*` on `/socket/websocket`), with the default `ServerConfig` (see
//! `livestate_loadgen::viewbench`). Prints `livestate-view-bench-server listening on ADDR`
//! first; SIGTERM or SIGINT stops it.

use anyhow::Context;
use clap::Parser;
use livestate_server::ServerConfig;
use std::net::SocketAddr;

/// The benchmark server's command line.
#[derive(Parser)]
#[command(
    version,
    about = "livestate serving the live-view benchmark's views and its counter channel"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
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
            let listener = tokio::net::TcpListener::bind(args.bind)
                .await
                .with_context(|| format!("binding {}", args.bind))?;
            let addr = listener.local_addr()?;
            println!("livestate-view-bench-server listening on {addr}");
            livestate_loadgen::viewbench::serve(
                listener,
                ServerConfig::default(),
                livestate_server::shutdown_signal(),
            )
            .await?;
            Ok(())
        })
}
