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
    livestate_server::cli::serve_app(args.bind, "127.0.0.1:4001", app, &live).await
}
