//! `cargo run -p chat [-- --bind ADDR]`: chat rooms at <http://127.0.0.1:4002/> (`/?room=NAME`).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = chat::endpoint();
    let app = chat::pages().merge(live.router());
    livestate::serve_app(bind, "127.0.0.1:4002", app, &live).await
}
