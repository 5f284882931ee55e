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
    let bind = args.bind.or_else(|| std::env::var("BIND").ok());
    let bind = bind.unwrap_or_else(|| "127.0.0.1:4002".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let stop = livestate_server::cli::shutdown_signal();
    livestate_server::serve(listener, app, &live, stop).await?;
    Ok(())
}
