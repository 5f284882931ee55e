//! `cargo run -p chat`: chat rooms at <http://127.0.0.1:4002/> (`/?room=NAME`).

use clap::Parser;

/// Chat rooms, served by livestate.
#[derive(Parser)]
struct Args {
    /// Address to listen on [default: $BIND, else 127.0.0.1:4002]
    #[arg(long)]
    bind: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    livestate_server::cli::init_tracing();
    let live = chat::endpoint();
    let app = chat::pages().merge(live.router());
    livestate_server::cli::serve_app(args.bind, "127.0.0.1:4002", app, &live).await
}
