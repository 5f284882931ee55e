//! `cargo run -p shared_form [-- --bind ADDR]`: the shared form at
//! <http://127.0.0.1:4017/> (`?name=ann`, or a `user` cookie, names the editor).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = shared_form::endpoint();
    // the views' pages, /live/websocket and /live/live.js only (see `shared_form::app`)
    let app = shared_form::app(&live);
    livestate::serve_app(bind, "127.0.0.1:4017", app, &live).await
}
