//! `cargo run -p join_params`: join params at <http://127.0.0.1:4004/>, errors at `/errors`.

use clap::Parser;

/// Join params and join errors, served by livestate.
#[derive(Parser)]
struct Args {
    /// Address to listen on [default: $BIND, else 127.0.0.1:4004]
    #[arg(long)]
    bind: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    livestate_server::cli::init_tracing();
    let live = join_params::endpoint();
    let app = join_params::pages().merge(live.router());
    livestate_server::cli::serve_app(args.bind, "127.0.0.1:4004", app, &live).await
}
