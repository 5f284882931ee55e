//! `cargo run -p thermostat [-- --bind ADDR]`: the thermostat at <http://127.0.0.1:4010/>.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = thermostat::endpoint();
    // the views' pages, /live/websocket and /live/live.js beside livestate's own routes
    let app = live.router().merge(live.views_router());
    livestate::serve_app(bind, "127.0.0.1:4010", app, &live).await
}
