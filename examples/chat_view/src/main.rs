//! `cargo run -p chat_view [-- --bind ADDR] [--redis URL [--node-id ID] [--lease-ms MS]]`:
//! the chat at <http://127.0.0.1:4015/> (other rooms at `/?room=NAME`). With `--redis`,
//! a node of a cluster: start several on the same Redis (and the same `SECRET_KEY_BASE`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_view: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    livestate::logging::init().map_err(|e| e.to_string())?;
    let args = chat_view::Args::parse(std::env::args().skip(1))?;
    let live = chat_view::endpoint_for(&args)
        .await
        .map_err(|e| e.to_string())?;
    // the views' pages, /live/websocket and /live/live.js beside livestate's own routes
    let app = live.router().merge(live.views_router());
    livestate::serve_app(args.bind, chat_view::DEFAULT_BIND, app, &live)
        .await
        .map_err(|e| e.to_string())
}
