//! `livestate-testserver serve ...`: the `livestate` server with the test channels of
//! [`livestate_testkit::channels`] routed beside `doc:*`, for the Node and browser tests.

use anyhow::Context;
use clap::{Parser, Subcommand};
use livestate_server::cli::{self, ServeArgs};

#[derive(Parser)]
#[command(name = "livestate-testserver", about = "livestate with test channels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve, with the test channels.
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    cli::init_tracing();
    let Command::Serve(args) = Cli::parse().command;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(cli::run(args, livestate_testkit::channels::test_hub()))
}
