//! `livestate-view-testapp [--bind ADDR]`: the test views of [`livestate_testkit::views`]
//! served for the browser and protocol tests; prints `listening on ADDR`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .skip_while(|a| a != "--bind")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let live = livestate_testkit::views::endpoint();
    let app = live.router().merge(live.views_router());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    livestate_server::serve(listener, app, &live, livestate_server::shutdown_signal()).await
}
