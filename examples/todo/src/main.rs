//! `cargo run -p todo`: the todo list at <http://127.0.0.1:4001/> (React: `/react`).

use clap::Parser;
use std::time::Duration;

/// LiveState's testbed todo list, served by livestate.
#[derive(Parser)]
struct Args {
    /// Address to listen on [default: $BIND, else 127.0.0.1:4001]
    #[arg(long)]
    bind: Option<String>,
    /// How long adding a todo takes, in milliseconds
    #[arg(long, default_value_t = 500)]
    delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    livestate_server::cli::init_tracing();
    let delay = Duration::from_millis(args.delay_ms);
    let live = todo::endpoint(todo::TodoChannel { delay });
    let app = todo::pages().merge(live.router());
    let bind = args.bind.or_else(|| std::env::var("BIND").ok());
    let bind = bind.unwrap_or_else(|| "127.0.0.1:4001".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let stop = livestate_server::cli::shutdown_signal();
    livestate_server::serve(listener, app, &live, stop).await?;
    Ok(())
}
