//! `cargo run -p vote [-- --bind ADDR]`: the vote at <http://127.0.0.1:4019/> (a live view)
//! and <http://127.0.0.1:4019/plain> (phx-live-state), on the same key.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = vote::endpoint();
    let app = vote::app(&live);
    livestate::serve_app(bind, "127.0.0.1:4019", app, &live).await
}
