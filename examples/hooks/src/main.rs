//! `cargo run -p hooks [-- --bind ADDR]`: the hooks page at <http://127.0.0.1:4014/>.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = hooks::endpoint();
    let app = live.router().merge(live.views_router());
    livestate::serve_app(bind, "127.0.0.1:4014", app, &live).await
}
