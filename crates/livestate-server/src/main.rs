//! The `livestate` binary.
//!
//! ```text
//! livestate serve [--bind 127.0.0.1:4000] [--max-frame-size BYTES] [--max-channels N] ...
//! ```

use anyhow::Context;
use clap::{Parser, Subcommand};
use livestate_core::{DocChannel, Hub};
use livestate_server::cli::{self, ServeArgs};

#[derive(Parser)]
#[command(
    name = "livestate",
    version,
    about = "Live shared state for web clients, LiveState-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the WebSocket endpoint (`/socket/websocket?vsn=2.0.0`) with `doc:` topics.
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    cli::init_tracing();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Serve(args) => {
            let hub = Hub::builder().channel("doc:*", DocChannel::default());
            runtime.block_on(cli::run(args, hub))
        }
    }
}
