//! `cargo run -p todo [-- --bind ADDR] [--delay-ms N]`: the todo list at
//! <http://127.0.0.1:4001/> (React: `/react`). Adding a todo takes `--delay-ms` (default
//! 500, as LiveState's testbed).

use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    let flag = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let delay_ms = match flag("--delay-ms") {
        Some(ms) => ms.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("--delay-ms {ms}: {e}"),
            )
        })?,
        None => 500,
    };
    let delay = Duration::from_millis(delay_ms);
    let live = todo::endpoint(todo::TodoChannel { delay });
    let app = todo::pages().merge(live.router());
    livestate::serve_app(flag("--bind"), "127.0.0.1:4001", app, &live).await
}
