//! The contact form of LiveState's tutorial, storing contacts in a SQLite database
//! (rusqlite, with SQLite compiled in).
//!
//! The state of a join is `{"contacts": [...], "errors": {...}}`. Submitting the form sends
//! `add_contact` `{"name": ..., "email": ...}`: an invalid contact is not refused but
//! answered with `errors` in the state (the page shows them beside the fields); a valid one
//! is inserted and `contacts` is read again from the database.
//!
//! Each join has its own state ([`Settings::connection`], as in LiveState), since the errors
//! belong to whoever submitted; the list is read from the database on join and after each
//! insert.
//!
//! Run it with `cargo run -p contacts [-- --db contacts.sqlite3]` and open
//! <http://127.0.0.1:4003/>.

use livestate::axum::Router;
use livestate::axum::response::Html;
use livestate::axum::routing::get;
use livestate::{Channel, ChannelError, Endpoint, EventContext, JoinContext, Reply, Settings};
use rusqlite::Connection;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Its row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its email address.
    pub email: String,
}

/// The state of a join: every contact, and what was wrong with the last submission.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ContactForm {
    /// The contacts in the database, oldest first.
    pub contacts: Vec<Contact>,
    /// Field name to message, for the last submission; empty when it was stored.
    pub errors: BTreeMap<String, String>,
}

/// The channel behind `contacts`.
pub struct ContactsChannel {
    /// Where contacts are stored.
    pub db: Db,
}

/// What the form sends.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactEvent {
    /// Submitting the form.
    AddContact {
        /// The name field.
        name: String,
        /// The email field.
        email: String,
    },
}

impl Channel for ContactsChannel {
    type State = ContactForm;
    type Event = ContactEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::connection()
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<ContactForm, ChannelError> {
        let contacts = self.db.all().await?;
        Ok(ContactForm {
            contacts,
            errors: BTreeMap::new(),
        })
    }

    async fn handle_event(
        &self,
        event: ContactEvent,
        form: &mut ContactForm,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let ContactEvent::AddContact { name, email } = event;
        let (name, email) = (name.trim().to_owned(), email.trim().to_owned());
        form.errors = validate(&name, &email);
        if form.errors.is_empty() {
            self.db.insert(name, email).await?;
            form.contacts = self.db.all().await?;
        }
        Ok(Reply::none())
    }
}

/// What is wrong with a contact, by field.
fn validate(name: &str, email: &str) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    if name.is_empty() {
        errors.insert("name".to_owned(), "can't be blank".to_owned());
    }
    if email.is_empty() {
        errors.insert("email".to_owned(), "can't be blank".to_owned());
    } else if !email.contains('@') {
        errors.insert("email".to_owned(), "must contain @".to_owned());
    }
    errors
}

/// The `contacts` table of a SQLite database. Queries run on tokio's blocking threads.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Open (or create) the database at `path`, and its table.
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Db> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS contacts (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                email TEXT NOT NULL
            )",
        )?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Every contact, oldest first.
    pub async fn all(&self) -> Result<Vec<Contact>, ChannelError> {
        self.run(|conn| {
            conn.prepare("SELECT id, name, email FROM contacts ORDER BY id")?
                .query_map([], |row| {
                    Ok(Contact {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        email: row.get(2)?,
                    })
                })?
                .collect()
        })
        .await
    }

    /// Store a contact.
    pub async fn insert(&self, name: String, email: String) -> Result<(), ChannelError> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO contacts (name, email) VALUES (?1, ?2)",
                (name, email),
            )
            .map(drop)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ChannelError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            query(&conn.lock().unwrap_or_else(PoisonError::into_inner))
        })
        .await
        // the database failing is the server's trouble: the client is told `internal error`
        .map_err(ChannelError::internal)?
        .map_err(ChannelError::internal)
    }
}

/// livestate's routes with `contacts` routed to a [`ContactsChannel`] on `db`.
pub fn endpoint(db: Db) -> Endpoint {
    Endpoint::builder()
        .channel("contacts", ContactsChannel { db })
        .build()
}

/// The page, at `/`.
pub fn pages() -> Router {
    Router::new().route("/", get(Html(include_str!("../assets/index.html"))))
}
