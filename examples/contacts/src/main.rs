//! `cargo run -p contacts [-- --bind ADDR] [--db FILE]`: the contact form at
//! <http://127.0.0.1:4003/>. Contacts are stored in `--db` (default: `$CONTACTS_DB`, else
//! `livestate-contacts.sqlite3` in the temporary directory).

use std::path::PathBuf;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    livestate::logging::init()?;
    let flag = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let path = flag("--db")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CONTACTS_DB").map(PathBuf::from))
        .unwrap_or_else(|| std::env::temp_dir().join("livestate-contacts.sqlite3"));
    let db = contacts::Db::open(&path)
        .map_err(|e| std::io::Error::other(format!("opening {}: {e}", path.display())))?;
    eprintln!("contacts are stored in {}", path.display());
    let live = contacts::endpoint(db);
    let app = contacts::pages().merge(live.router());
    livestate::serve_app(flag("--bind"), "127.0.0.1:4003", app, &live).await
}
