//! `cargo run -p counter`: the counter at <http://127.0.0.1:4005/>.

use clap::Parser;

/// A counter with max_version 10, served by livestate.
#[derive(Parser)]
struct Args {
    /// Address to listen on [default: $BIND, else 127.0.0.1:4005]
    #[arg(long)]
    bind: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    livestate_server::cli::init_tracing();
    let live = counter::endpoint();
    let app = counter::pages().merge(live.router());
    livestate_server::cli::serve_app(args.bind, "127.0.0.1:4005", app, &live).await
}
