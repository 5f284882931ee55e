//! `cargo run -p dashboard [-- --bind ADDR]`: the user pages at <http://127.0.0.1:4016/>
//! (a `user` cookie, `?name=`, or a guest name), the admin dashboard at
//! <http://127.0.0.1:4016/admin>.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = dashboard::endpoint();
    // the views' pages, /live/websocket and /live/live.js only (see `dashboard::app`)
    let app = dashboard::app(&live);
    livestate::serve_app(bind, "127.0.0.1:4016", app, &live).await
}
