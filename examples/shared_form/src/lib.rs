//! A form several people edit at once: one record (an event's title, date and notes) kept
//! in the shared `doc:` key [`RECORD`], as PhoenixLiveState's `live_state` keeps a
//! LiveView's state in a state server.
//!
//! Every page is a live view ([`EventForm`]) attached to the key, tracked in its presence
//! under the editor's name (a `user` cookie read by the axum extractor [`UserCookie`], else
//! `?name=`, else `guest-N`):
//! - A field's change (`phx-change`, debounced with `phx-debounce="300"`) is checked; a
//!   valid value is written to the key with `socket.live_assign` (the field, then
//!   `/saved_by`), and reaches every other page as a change of the key: their inputs take
//!   the new value (except the input that has the focus, which the stock client keeps as
//!   the user is typing in it).
//! - A value that does not validate (a blank title, a date that is not `YYYY-MM-DD` or no
//!   such day, notes too long) is never written: the error and the value typed are kept in
//!   the view of the person typing and shown to them alone.
//! - "saved by NAME at version N" comes from `@shared`: the key's `/saved_by` and version.
//! - "Editing now" lists the names in the key's presence.
//!
//! The form says `phx-auto-recover="ignore"`: after a reconnect the stock client would
//! otherwise send the page's old values as a change, and write them over what others saved
//! meanwhile.
//!
//! What a view refuses (an unknown event, a field the form does not have, a name too long)
//! is shown on its page as a flash message (`handle_refusal`).
//!
//! Run it with `cargo run -p shared_form` and open <http://127.0.0.1:4017/?name=ann> and
//! <http://127.0.0.1:4017/?name=bo> side by side.

use livestate::axum::Router;
use livestate::axum::extract::FromRequestParts;
use livestate::axum::http::request::Parts;
use livestate::view::live::{
    Flash, Live, LiveView, Params, Session, Shared, Socket, ViewError, Views,
};
use livestate::view::{Assigns, Rendered, html};
use livestate::{DocChannel, Endpoint, Ttl};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared key holding the record: `{"title", "date", "notes", "saved_by"}`.
pub const RECORD: &str = "doc:offsite";

/// The longest editor's name accepted, in characters.
pub const MAX_NAME: usize = 32;

/// The longest title, in characters.
pub const MAX_TITLE: usize = 80;

/// The longest notes, in characters.
pub const MAX_NOTES: usize = 2000;

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "shared form example: a development secret, not for production";

/// The record before anyone edited it (and after a `reset`).
pub fn initial_record() -> Value {
    json!({"title": "Team offsite", "date": "2026-05-14", "notes": "", "saved_by": null})
}

/// The channel of [`RECORD`]: a JSON document, with presence, kept while the server runs.
pub fn record_channel() -> DocChannel {
    DocChannel::new(initial_record())
        .presence(true)
        .ttl(Ttl::Never)
}

/// The session of a page: who is editing, from a `user` cookie (a real app checks a
/// signed session cookie). Serialized into the session as `{"user": NAME}`.
#[derive(Debug, Serialize)]
pub struct UserCookie {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for UserCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user = parts
            .headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix("user="))
            .map(str::to_owned);
        Ok(UserCookie { user })
    }
}

/// Numbers the guests (pages without a name).
#[derive(Clone, Debug, Default)]
pub struct Guests(Arc<AtomicU64>);

impl Guests {
    /// A new guest's name, `guest-N` (`guest` in the first GET's render, which tracks
    /// nobody).
    fn name(&self, connected: bool) -> String {
        if connected {
            format!("guest-{}", self.0.fetch_add(1, Ordering::Relaxed) + 1)
        } else {
            "guest".to_owned()
        }
    }
}

/// An editor's name as given (trimmed), or why it is refused.
pub fn check_name(name: &str) -> Result<&str, String> {
    let name = name.trim();
    if name.is_empty() {
        Err("a name can't be blank".to_owned())
    } else if name.chars().count() > MAX_NAME {
        Err(format!("a name is at most {MAX_NAME} characters"))
    } else if name.chars().any(char::is_control) {
        Err("a name has no control characters".to_owned())
    } else {
        Ok(name)
    }
}

/// A field of the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `record[title]`: required, at most [`MAX_TITLE`] characters.
    Title,
    /// `record[date]`: a day, `YYYY-MM-DD`.
    Date,
    /// `record[notes]`: at most [`MAX_NOTES`] characters.
    Notes,
}

impl Field {
    /// Every field, in the form's order.
    pub const ALL: [Field; 3] = [Field::Title, Field::Date, Field::Notes];

    /// Its name in the form and in the key.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Date => "date",
            Field::Notes => "notes",
        }
    }

    fn pointer(self) -> &'static str {
        match self {
            Field::Title => "/title",
            Field::Date => "/date",
            Field::Notes => "/notes",
        }
    }

    /// What is wrong with `value` for this field, if anything.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            Field::Title if value.trim().is_empty() => Err("title is required".to_owned()),
            Field::Title if value.chars().count() > MAX_TITLE => {
                Err(format!("title is at most {MAX_TITLE} characters"))
            }
            Field::Date => check_date(value),
            Field::Notes if value.chars().count() > MAX_NOTES => {
                Err(format!("notes are at most {MAX_NOTES} characters"))
            }
            _ => Ok(()),
        }
    }
}

/// A date as `YYYY-MM-DD`, and a day of the calendar.
pub fn check_date(value: &str) -> Result<(), String> {
    let b = value.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err("date must be YYYY-MM-DD".to_owned());
    }
    let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    if day == 0 || day > days {
        return Err(format!("{value} is not a day of the calendar"));
    }
    Ok(())
}

/// A value typed in this page that does not validate: shown here, never written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The value as typed.
    pub value: String,
    /// What is wrong with it.
    pub error: String,
}

/// The form of one editor.
#[derive(Clone, Debug, Default)]
pub struct EventForm {
    guests: Guests,
    /// The editor's name: in the presence and in `/saved_by`.
    pub name: String,
    /// This page's values that do not validate, by field.
    pub drafts: BTreeMap<Field, Draft>,
}

impl EventForm {
    /// The form's view, numbering guests with `guests`.
    pub fn new(guests: Guests) -> EventForm {
        EventForm {
            guests,
            ..EventForm::default()
        }
    }

    /// Check `value` for `field`; write it to the key when it validates (and differs),
    /// else keep it as this page's draft. Whether it validated.
    async fn take(
        &mut self,
        field: Field,
        value: String,
        socket: &mut Socket<Self>,
    ) -> Result<bool, ViewError> {
        if let Err(error) = field.check(&value) {
            self.drafts.insert(field, Draft { value, error });
            return Ok(false);
        }
        self.drafts.remove(&field);
        if socket.shared().state(RECORD)[field.name()].as_str() != Some(value.as_str()) {
            socket
                .live_assign(RECORD, field.pointer(), json!(value))
                .await?;
            socket
                .live_assign(RECORD, "/saved_by", json!(self.name))
                .await?;
        }
        Ok(true)
    }
}

/// The form's fields as the client sends them: `record[title]=...&record[date]=...`.
/// Untouched fields also come as `record[_unused_title]`, which this form does not need.
#[derive(Debug, Default, Deserialize)]
pub struct RecordParams {
    /// `record[title]`.
    pub title: Option<String>,
    /// `record[date]`.
    pub date: Option<String>,
    /// `record[notes]`.
    pub notes: Option<String>,
}

impl RecordParams {
    fn take(&mut self, field: Field) -> Option<String> {
        match field {
            Field::Title => self.title.take(),
            Field::Date => self.date.take(),
            Field::Notes => self.notes.take(),
        }
    }
}

/// What the page sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `phx-change`: the whole form, and the input that changed.
    Change {
        /// The fields.
        record: RecordParams,
        /// The changed input's name as a list of its parts: `["record", "title"]`.
        #[serde(rename = "_target", default)]
        target: Vec<String>,
    },
    /// `phx-submit` (Enter in an input): every field.
    Save {
        /// The fields.
        record: RecordParams,
    },
}

impl LiveView for EventForm {
    type Event = Event;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let from_cookie = session.get("user").and_then(Value::as_str);
        let from_query = params
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        self.name = match from_cookie.or(from_query) {
            Some(name) => match check_name(name) {
                Ok(name) => name.to_owned(),
                Err(reason) => {
                    let guest = self.guests.name(socket.connected());
                    socket.put_flash("error", format!("name refused ({reason}): you are {guest}"));
                    guest
                }
            },
            None => self.guests.name(socket.connected()),
        };
        let params = json!({"presence": {"key": self.name, "meta": {}}});
        socket.attach_with(RECORD, params).await?;
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: Event,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            Event::Change { mut record, target } => {
                let field = match target.as_slice() {
                    [form, name] if form == "record" => {
                        Field::ALL.into_iter().find(|f| f.name() == name)
                    }
                    _ => None,
                };
                let Some(field) = field else {
                    return Err(ViewError::new(format!(
                        "the form has no field {:?}",
                        target.join(".")
                    )));
                };
                let value = record.take(field).ok_or_else(|| {
                    ViewError::new(format!("the change has no value for {}", field.name()))
                })?;
                self.take(field, value, socket).await?;
            }
            Event::Save { mut record } => {
                let mut all = true;
                for field in Field::ALL {
                    if let Some(value) = record.take(field) {
                        all &= self.take(field, value, socket).await?;
                    }
                }
                if all {
                    socket.clear_flash(Some("error"));
                    socket.put_flash("info", "saved");
                } else {
                    let errors: Vec<&str> =
                        self.drafts.values().map(|d| d.error.as_str()).collect();
                    socket.put_flash("error", format!("not saved: {}", errors.join("; ")));
                }
            }
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="shared-form" {
                (flash(&@flash))
                h1 { "The offsite" }
                p {
                    "You are " b id="me" { (@name) } ". Editing now: "
                    span id="editors" { (editors(&@shared).join(", ")) }
                }
                // no recovery after a reconnect: it would write this page's old values
                form id="record" phx-change="change" phx-submit="save" phx-auto-recover="ignore" {
                    p {
                        label {
                            "Title "
                            input type="text" name="record[title]" value=(value(&@shared, &@drafts, Field::Title))
                                phx-debounce="300" autocomplete="off";
                        }
                        @if let Some(error) = error(&@drafts, Field::Title) {
                            " " span id="title-error" class="error" { (error) }
                        }
                    }
                    p {
                        label {
                            "Date "
                            input type="text" name="record[date]" value=(value(&@shared, &@drafts, Field::Date))
                                placeholder="YYYY-MM-DD" phx-debounce="300" autocomplete="off";
                        }
                        @if let Some(error) = error(&@drafts, Field::Date) {
                            " " span id="date-error" class="error" { (error) }
                        }
                    }
                    p {
                        label {
                            "Notes "
                            textarea name="record[notes]" rows="4" cols="50" phx-debounce="300" {
                                (value(&@shared, &@drafts, Field::Notes))
                            }
                        }
                        @if let Some(error) = error(&@drafts, Field::Notes) {
                            " " span id="notes-error" class="error" { (error) }
                        }
                    }
                    button id="save" type="submit" { "Save" }
                }
                p id="saved" { (saved(&@shared)) }
            }
        }
    }
}

/// What the input of `field` shows: this page's draft, else the record's value.
pub fn value<'a>(shared: &'a Shared, drafts: &'a BTreeMap<Field, Draft>, field: Field) -> &'a str {
    match drafts.get(&field) {
        Some(draft) => &draft.value,
        None => shared.state(RECORD)[field.name()]
            .as_str()
            .unwrap_or_default(),
    }
}

/// The error of this page's draft of `field`, if any.
pub fn error(drafts: &BTreeMap<Field, Draft>, field: Field) -> Option<&str> {
    drafts.get(&field).map(|d| d.error.as_str())
}

/// "saved by NAME at version N", from the key's `/saved_by` and version.
pub fn saved(shared: &Shared) -> String {
    let Some(record) = shared.get(RECORD) else {
        return String::new();
    };
    match record.state["saved_by"].as_str() {
        Some(by) => format!("saved by {by} at version {}", record.version),
        None => "not saved yet".to_owned(),
    }
}

/// Who has the form open: the names in the key's presence, sorted.
pub fn editors(shared: &Shared) -> Vec<&str> {
    shared
        .get(RECORD)
        .map(|k| k.presence.keys().map(String::as_str).collect::<Vec<_>>())
        .map(|mut names| {
            names.sort_unstable();
            names
        })
        .unwrap_or_default()
}

/// The flash messages, each a paragraph that clears it when clicked (`lv:clear-flash` is
/// handled by the runtime, not by the view).
fn flash(flash: &Flash) -> Rendered<'_> {
    html! {
        div id="flash" {
            @for (kind, message) in flash.iter() key (kind) {
                p id=(format!("flash-{kind}")) class=(format!("flash {kind}")) role="alert"
                    phx-click="lv:clear-flash" phx-value-key=(kind) title="click to dismiss" {
                    (message)
                }
            }
        }
    }
}

/// A little style for the page.
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; }
.error { color: #b00; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; color: inherit; }
.flash.info { background: #dfd; }
#saved { color: #555; }
</style>";

/// The views: the form at `/`.
pub fn views() -> Views {
    let secret = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.into());
    Views::builder(secret)
        .head(STYLE)
        .live("/", EventForm::new(Guests::default()))
        .build()
}

/// livestate's routes with the form's page, its `/live` socket, and the [`RECORD`] key's
/// channel; a page's session is its `user` cookie.
pub fn endpoint() -> Endpoint {
    Endpoint::builder()
        .channel(RECORD, record_channel())
        .views(views())
        .view_session::<UserCookie>()
        .build()
}

/// The app's routes: the views' pages, `/live/websocket` and `/live/live.js`, and nothing
/// else. livestate's own routes ([`Endpoint::router`]: `/socket` and the HTTP state API)
/// are left out on purpose: the views and any socket that joins [`RECORD`] are alike the
/// key's *group* for its ACL, so a browser on `/socket` could write the key (and track
/// itself in its presence) as the views do. The views' socket serves views only.
pub fn app(live: &Endpoint) -> Router {
    live.views_router()
}
