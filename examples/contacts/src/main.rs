//! `cargo run -p contacts`: the contact form at <http://127.0.0.1:4003/>.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

/// LiveState's tutorial contact form, storing contacts in SQLite, served by livestate.
#[derive(Parser)]
struct Args {
    /// Address to listen on [default: $BIND, else 127.0.0.1:4003]
    #[arg(long)]
    bind: Option<String>,
    /// The SQLite database [default: $CONTACTS_DB, else livestate-contacts.sqlite3 in the
    /// temporary directory]
    #[arg(long)]
    db: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    livestate_server::cli::init_tracing();
    let path = args
        .db
        .or_else(|| std::env::var_os("CONTACTS_DB").map(PathBuf::from))
        .unwrap_or_else(|| std::env::temp_dir().join("livestate-contacts.sqlite3"));
    let db = contacts::Db::open(&path).with_context(|| format!("opening {}", path.display()))?;
    eprintln!("contacts are stored in {}", path.display());
    let live = contacts::endpoint(db);
    let app = contacts::pages().merge(live.router());
    livestate_server::cli::serve_app(args.bind, "127.0.0.1:4003", app, &live).await
}
