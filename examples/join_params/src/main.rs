//! `cargo run -p join_params [-- --bind ADDR]`: join params at <http://127.0.0.1:4004/>, errors at `/errors`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = join_params::endpoint();
    let app = join_params::pages().merge(live.router());
    livestate::serve_app(bind, "127.0.0.1:4004", app, &live).await
}
