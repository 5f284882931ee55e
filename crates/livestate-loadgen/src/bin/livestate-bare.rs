//! `livestate-bare [--bind 127.0.0.1:0]`: the bare axum WebSocket broadcaster, the ceiling
//! of the machine in livestate's benchmarks (see `livestate_loadgen::bare`). Prints
//! `livestate-bare listening on ADDR` first; SIGTERM or SIGINT stops it.

use anyhow::Context;
use clap::Parser;
use livestate_loadgen::bare::{self, BareConfig};
use std::net::SocketAddr;

/// The bare broadcaster's command line.
#[derive(Parser)]
#[command(
    version,
    about = "A bare axum WebSocket broadcaster: the ceiling for livestate's benchmarks"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Frames queued per socket before it misses frames.
    #[arg(long, default_value_t = 1024)]
    queue: usize,
    /// WebSocket read buffer per socket, in bytes.
    #[arg(long, default_value_t = 4096)]
    read_buffer_size: usize,
    /// WebSocket write buffer per socket, in bytes.
    #[arg(long, default_value_t = 4096)]
    write_buffer_size: usize,
    /// Leave Nagle's algorithm on for accepted sockets (livestate sets TCP_NODELAY, and so
    /// does this broadcaster unless told).
    #[arg(long)]
    nagle: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = BareConfig {
        queue: args.queue,
        read_buffer_size: args.read_buffer_size,
        write_buffer_size: args.write_buffer_size,
        nodelay: !args.nagle,
        ..BareConfig::default()
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(args.bind)
                .await
                .with_context(|| format!("binding {}", args.bind))?;
            let addr = listener.local_addr()?;
            println!("livestate-bare listening on {addr}");
            bare::serve(listener, config, shutdown_signal()).await?;
            Ok(())
        })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
