//! `cargo run -p counter [-- --bind ADDR]`: the counter at <http://127.0.0.1:4005/>.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    // `--bind ADDR`, else $BIND, else the default
    let bind = std::env::args().skip_while(|a| a != "--bind").nth(1);
    let live = counter::endpoint();
    let app = counter::pages().merge(live.router());
    livestate::serve_app(bind, "127.0.0.1:4005", app, &live).await
}
