//! An admin dashboard with a live presence list: views attached to one shared key, as
//! PhoenixLiveState's `live_state` attaches LiveViews to a state server.
//!
//! Every page is a live view attached to the `doc:` key [`SITE`] (a [`DocChannel`] with
//! presence on, kept while the server lives):
//! - The user pages, `/` and `/about` ([`Visitor`]), attach with join params
//!   `{"presence": {"key": NAME, "meta": {"page": "/", "since": MS}}}`, so each tab is
//!   tracked under its user's name, and count a visit with the doc's `increment` event
//!   (`socket.send_event`). The name comes from the session (a `user` cookie, read by the
//!   axum extractor [`UserCookie`]), else from `?name=`, else it is `guest-N`; a page
//!   without the cookie may rename itself (a live navigation to `?name=NEW`: the old view
//!   leaves the key, the new one joins it). A name that is too long is refused with a
//!   message.
//! - The admin page, `/admin` ([`Admin`]), attaches without being tracked and shows, from
//!   `@shared`, who is online (the presence: how many tabs each, on which pages, since
//!   when) and the visits kept in the key; "Reset" writes 0 with `socket.live_assign`. A
//!   user closing their last tab disappears from the list: the view goes, and with it its
//!   join of the key.
//!
//! What a view refuses (an unknown event, a form that does not fit, a name too long) is
//! shown on its page as a flash message (`handle_refusal`).
//!
//! Run it with `cargo run -p dashboard`, open <http://127.0.0.1:4016/admin>, then
//! <http://127.0.0.1:4016/?name=ann> in other windows (or set a `user` cookie).

use livestate::axum::Router;
use livestate::axum::extract::FromRequestParts;
use livestate::axum::http::request::Parts;
use livestate::view::live::{
    Flash, Live, LiveView, Params, Session, Shared, SharedChange, Socket, ViewError, Views,
};
use livestate::view::{Assigns, Rendered, html};
use livestate::{DocChannel, Endpoint, Ttl};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The shared key every page attaches to: `{"visits": N}`, and who is on the site (its
/// presence).
pub const SITE: &str = "doc:site";

/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 32;

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "dashboard example: a development secret, not for production";

/// The channel of [`SITE`]: a JSON document starting as `{"visits": 0}`, with presence,
/// kept while the server runs (no TTL: the visits stay when nobody is online).
pub fn site_channel() -> DocChannel {
    DocChannel::new(json!({"visits": 0}))
        .presence(true)
        .ttl(Ttl::Never)
}

/// The session of a page: who is logged in, from a `user` cookie (a real app checks a
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

/// Numbers the guests (pages without a name): shared by every user page of the app.
#[derive(Clone, Debug, Default)]
pub struct Guests(Arc<AtomicU64>);

impl Guests {
    /// A new guest's name, `guest-N`; `guest` in the first GET's render (which tracks
    /// nobody), so that a page takes one number only, at its join.
    fn name(&self, connected: bool) -> String {
        if connected {
            format!("guest-{}", self.0.fetch_add(1, Ordering::Relaxed) + 1)
        } else {
            "guest".to_owned()
        }
    }
}

/// A name as given (trimmed), or why it is refused.
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

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `HH:MM:SS UTC` of a time in milliseconds since the Unix epoch.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// `text` for a URL's query: unreserved characters as they are, every other byte `%XX`.
fn encode_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The visits kept in [`SITE`] (0 before the key is read, or if a client wrote something
/// else there).
pub fn visits(shared: &Shared) -> i64 {
    shared.state(SITE)["visits"].as_i64().unwrap_or(0)
}

/// Someone online: a presence key of [`SITE`] and its tabs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Online {
    /// The name the pages are tracked under.
    pub name: String,
    /// How many tabs (joins) are tracked under it.
    pub tabs: usize,
    /// The pages those tabs show, each once, sorted.
    pub pages: Vec<String>,
    /// When the earliest of them joined (`HH:MM:SS UTC`).
    pub since: String,
}

/// Who is online, by name, from [`SITE`]'s presence (empty before the view attached, in
/// the first GET's render).
pub fn online(shared: &Shared) -> Vec<Online> {
    let Some(site) = shared.get(SITE) else {
        return Vec::new();
    };
    let mut online: Vec<Online> = site
        .presence
        .iter()
        .map(|(name, entry)| {
            let metas = entry["metas"].as_array().map_or(&[][..], Vec::as_slice);
            let mut pages: Vec<String> = metas
                .iter()
                .filter_map(|m| m["page"].as_str())
                .map(str::to_owned)
                .collect();
            pages.sort();
            pages.dedup();
            let since = metas.iter().filter_map(|m| m["since"].as_u64()).min();
            Online {
                name: name.clone(),
                tabs: metas.len(),
                pages,
                since: since.map(clock).unwrap_or_default(),
            }
        })
        .filter(|o| o.tabs > 0)
        .collect();
    online.sort_by(|a, b| a.name.cmp(&b.name));
    online
}

/// A user page: tracked in [`SITE`]'s presence under the user's name.
#[derive(Clone, Debug)]
pub struct Visitor {
    /// The page's path, in the presence meta (`"/"`, `"/about"`).
    pub page: &'static str,
    guests: Guests,
    /// The name the page is tracked under.
    pub name: String,
    /// Whether the name comes from the `user` cookie (then the page cannot rename itself).
    pub signed_in: bool,
}

impl Visitor {
    /// The view of the user page at `page`, numbering guests with `guests`.
    pub fn new(page: &'static str, guests: Guests) -> Visitor {
        Visitor {
            page,
            guests,
            name: String::new(),
            signed_in: false,
        }
    }
}

/// What a user page sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitorEvent {
    /// The rename form's submit (`name=...`).
    Rename {
        /// The new name.
        name: String,
    },
}

impl LiveView for Visitor {
    type Event = VisitorEvent;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        // the cookie's user, else `?name=`, else a guest
        let from_cookie = session
            .get("user")
            .and_then(Value::as_str)
            .map(|n| (n, true));
        let from_query = params
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(|n| (n, false));
        self.signed_in = false;
        self.name = match from_cookie.or(from_query) {
            Some((name, cookie)) => match check_name(name) {
                Ok(name) => {
                    self.signed_in = cookie;
                    name.to_owned()
                }
                Err(reason) => {
                    let guest = self.guests.name(socket.connected());
                    socket.put_flash("error", format!("name refused ({reason}): you are {guest}"));
                    guest
                }
            },
            None => self.guests.name(socket.connected()),
        };
        // connected, this tracks the page; in the first GET's render it reads the key once
        let meta = json!({"page": self.page, "since": now_ms()});
        let params = json!({"presence": {"key": self.name, "meta": meta}});
        socket.attach_with(SITE, params).await?;
        if socket.connected() {
            // a visit not counted (another client wrote something else there) is no
            // reason to refuse the page: it says so
            let visit = json!({"path": "/visits", "by": 1});
            if let Err(e) = socket.send_event(SITE, "increment", visit).await {
                socket.put_flash("error", format!("your visit was not counted: {e}"));
            }
        }
        socket.page_title(format!("Hello {}", self.name));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: VisitorEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            VisitorEvent::Rename { name } => {
                if self.signed_in {
                    return Err(ViewError::new(format!(
                        "you are signed in as {} (your cookie names you)",
                        self.name
                    )));
                }
                let name = check_name(&name).map_err(ViewError::new)?;
                // a new view at the new URL: the old one leaves the key, the new one
                // joins it under the new name
                let to = format!("{}?name={}", self.page, encode_query(name));
                socket.push_navigate(to, false);
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
            main id="visitor" {
                (flash(&@flash))
                h1 { "Hello, " span id="name" { (@name) } }
                p {
                    "You are on " code id="page" { (@page) } ". "
                    "Online now: " span id="online-count" { (online(&@shared).len()) } ". "
                    "Visits so far: " span id="visits" { (visits(&@shared)) } "."
                }
                @if !@signed_in {
                    form id="rename" phx-submit="rename" {
                        label {
                            "Your name "
                            input type="text" name="name" value=(@name) autocomplete="off";
                        }
                        " "
                        button id="rename-button" type="submit" { "Rename" }
                    }
                }
                nav {
                    a href="/" { "Home" } " · " a href="/about" { "About" } " · "
                    a href="/admin" { "Admin" }
                }
            }
        }
    }
}

/// The admin dashboard: who is online and the visits, live.
#[derive(Clone, Debug, Default)]
pub struct Admin {
    /// How many people are online, as `handle_shared` last counted them (the title).
    pub online: usize,
}

/// What the dashboard sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminEvent {
    /// Set the visits back to 0.
    ResetVisits {},
}

impl LiveView for Admin {
    type Event = AdminEvent;
    type Info = ();

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        // attached without presence params: the dashboard sees everyone and is not seen
        socket.attach(SITE).await?;
        socket.page_title("Dashboard");
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: AdminEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            AdminEvent::ResetVisits {} => {
                socket.live_assign(SITE, "/visits", json!(0)).await?;
                socket.put_flash("info", "visits reset");
            }
        }
        Ok(())
    }

    async fn handle_shared(
        &mut self,
        _: &SharedChange,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let online = online(socket.shared()).len();
        if online != self.online {
            self.online = online;
            socket.page_title(format!("Dashboard: {online} online"));
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="admin" {
                (flash(&@flash))
                h1 { "Dashboard" }
                p {
                    span id="visits" { (visits(&@shared)) } " visits "
                    button id="reset" phx-click="reset_visits" { "Reset" }
                }
                h2 { span id="online-count" { (online(&@shared).len()) } " online" }
                table id="online" {
                    thead { tr { th { "Name" } th { "Tabs" } th { "Pages" } th { "Since" } } }
                    tbody {
                        @for user in online(&@shared) key (user.name) {
                            tr {
                                td class="name" { (user.name) }
                                td class="tabs" { (user.tabs) }
                                td class="pages" { (user.pages.join(", ")) }
                                td class="since" { (user.since) }
                            }
                        }
                    }
                }
                @if !@connected { p { "(connecting: the list shows once the page is live)" } }
            }
        }
    }
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

/// A little style for the pages.
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25rem 0.75rem; text-align: left; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
.flash.info { background: #dfd; }
</style>";

/// The views: the user pages at `/` and `/about`, the dashboard at `/admin`.
pub fn views() -> Views {
    let secret = std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.into());
    let guests = Guests::default();
    Views::builder(secret)
        .head(STYLE)
        .live("/", Visitor::new("/", guests.clone()))
        .live("/about", Visitor::new("/about", guests))
        .live("/admin", Admin::default())
        .build()
}

/// livestate's routes with the pages, their `/live` socket, and the [`SITE`] key's
/// channel; a page's session is its `user` cookie.
pub fn endpoint() -> Endpoint {
    Endpoint::builder()
        .channel(SITE, site_channel())
        .views(views())
        .view_session::<UserCookie>()
        .build()
}

/// The app's routes: the views' pages, `/live/websocket` and `/live/live.js`, and nothing
/// else. livestate's own routes ([`Endpoint::router`]: `/socket` and the HTTP state API)
/// are left out on purpose: the views and any socket that joins [`SITE`] are alike the
/// key's *group* for its ACL, so a browser on `/socket` could write the key (and track
/// itself in its presence) as the views do. The views' socket serves views only.
pub fn app(live: &Endpoint) -> Router {
    live.views_router()
}
