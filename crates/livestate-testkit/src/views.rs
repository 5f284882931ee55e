//! Live views for the browser and protocol tests, served by `livestate-view-testapp`
//! ([`endpoint`]): one per behaviour the stock `phoenix_live_view` client must see work.
//!
//! | path | what it shows |
//! |---|---|
//! | `/counter` | clicks with values, the title, flash with `lv:clear-flash`, a handler error, a panic, a timer |
//! | `/form` | `phx-change` validation with `_target`, `phx-submit` |
//! | `/keys` | `phx-keyup` |
//! | `/hook` | a hook's `pushEvent` with its reply, and `push_event` to `handleEvent` |
//! | `/patch` | `live_patch` links and `push_patch`, back and forward |
//! | `/nav/{page}` | navigation between two views of one live session, flash across it |
//! | `/private` | an `on_mount` hook that sends a page without a user to `/login` |
//! | `/bindings` | `phx-debounce`, `phx-throttle`, `phx-update="ignore"` |

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use livestate_server::Endpoint;
use livestate_view::live::{
    Flash, Halt, Live, LiveView, Params, Session, Socket, ViewError, Views,
};
use livestate_view::{Assigns, Js, Rendered, html};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;

/// The secret the test app signs with: the same across restarts, so a restarted server
/// accepts the pages of the one before.
pub const SECRET: &str = "the livestate test app's secret key base, 64 bytes long.........";

/// The hooks the test pages use.
const HEAD: &str = r#"<script>
window.livestateHooks = {
  Pinger: {
    mounted() {
      this.handleEvent("pong-pushed", ({n}) => { this.el.dataset.pushed = String(n); });
      this.el.addEventListener("click", () => {
        this.pushEvent("ping", {n: Number(this.el.dataset.n || 0) + 1}, (reply) => {
          this.el.dataset.n = String(reply.n);
          this.el.dataset.reply = JSON.stringify(reply);
        });
      });
    },
  },
};
</script>"#;

/// The test app's endpoint: its views, with a session from the `user` cookie.
pub fn endpoint() -> Endpoint {
    let views = Views::builder(SECRET)
        .head(HEAD)
        .live("/counter", Counter::default())
        .live("/form", Signup::default())
        .live("/keys", Keys::default())
        .live("/hook", Hook::default())
        .live("/patch", Patch::default())
        .live("/bindings", Bindings::default())
        .live("/login", Login)
        .live_session("nav", |s| s.live("/nav/{page}", Nav::default()))
        .live_session("private", |s| {
            s.on_mount(|m| match m.session.get("user") {
                Some(serde_json::Value::String(_)) => Ok(()),
                _ => Err(Halt::redirect("/login").with_flash("error", "log in first")),
            })
            .live("/private", Private::default())
        })
        .build();
    Endpoint::builder()
        .views(views)
        .view_session::<UserCookie>()
        .build()
}

/// The session of a test page: the `user` cookie, if any.
#[derive(Debug, Serialize)]
pub struct UserCookie {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for UserCookie {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let user = parts
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|p| p.trim().strip_prefix("user="))
            .next()
            .map(str::to_owned);
        Ok(UserCookie { user })
    }
}

/// The flash messages, each with a button that clears it.
fn flash(flash: &Flash) -> Rendered<'_> {
    html! {
        div id="flash" {
            @for (kind, message) in flash.iter() key (kind) {
                p class=(format!("flash-{kind}")) phx-click="lv:clear-flash" phx-value-key=(kind) {
                    (message)
                }
            }
        }
    }
}

/// Clicks, the title, flash, errors, a panic and a timer.
#[derive(Clone, Default)]
pub struct Counter {
    count: i64,
    ticks: u32,
}

/// The counter's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterEvent {
    /// `phx-click="add" phx-value-by="2"`: values come as strings.
    Add {
        /// How much.
        by: String,
    },
    /// Put a flash message.
    Flash {},
    /// A handler that fails: the client gets the error, the view stays.
    Fail {},
    /// A handler that panics: the view crashes and the client mounts it afresh.
    Crash {},
    /// Start a timer that ticks three times.
    Tick {},
}

impl LiveView for Counter {
    type Event = CounterEvent;
    type Info = u32;

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.page_title("Counter 0");
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: CounterEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            CounterEvent::Add { by } => {
                let by: i64 = by
                    .parse()
                    .map_err(|_| ViewError::new("by must be a number"))?;
                self.count += by;
                socket.page_title(format!("Counter {}", self.count));
            }
            CounterEvent::Flash {} => socket.put_flash("info", format!("count is {}", self.count)),
            CounterEvent::Fail {} => return Err(ViewError::new("this handler fails")),
            CounterEvent::Crash {} => panic!("the counter crashed on purpose"),
            CounterEvent::Tick {} => socket.send_after(1, Duration::from_millis(10)),
        }
        Ok(())
    }

    async fn handle_info(&mut self, tick: u32, socket: &mut Socket<Self>) -> Result<(), ViewError> {
        self.ticks = tick;
        if tick < 3 {
            socket.send_after(tick + 1, Duration::from_millis(10));
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                (flash(&@flash))
                p { "count: " span id="count" { (@count) } }
                p { "ticks: " span id="ticks" { (@ticks) } }
                p { "connected: " span id="connected" { (@connected) } }
                button id="inc" phx-click="add" phx-value-by="1" { "+1" }
                button id="dec" phx-click=(Js::new().push_value("add", serde_json::json!({"by": "-1"}))) { "-1" }
                button id="flash-btn" phx-click="flash" { "flash" }
                button id="fail" phx-click="fail" { "fail" }
                button id="crash" phx-click="crash" { "crash" }
                button id="tick" phx-click="tick" { "tick" }
                button id="unknown" phx-click="no_such_event" { "unknown" }
            }
        }
    }
}

/// A signup form validated as it is typed.
#[derive(Clone, Default)]
pub struct Signup {
    email: String,
    error: Option<String>,
    target: String,
    saved: Vec<String>,
}

/// The form's fields.
#[derive(Deserialize)]
pub struct SignupFields {
    #[serde(default)]
    email: String,
}

/// The form's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupEvent {
    /// `phx-change`: the fields and the changed one.
    Validate {
        /// The fields.
        user: SignupFields,
        /// The changed input's name, as its parts.
        #[serde(rename = "_target")]
        target: Vec<String>,
    },
    /// `phx-submit`.
    Save {
        /// The fields.
        user: SignupFields,
    },
}

fn email_error(email: &str) -> Option<String> {
    (!email.contains('@')).then(|| "an email needs an @".to_owned())
}

impl LiveView for Signup {
    type Event = SignupEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: SignupEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            SignupEvent::Validate { user, target } => {
                self.error = email_error(&user.email);
                self.email = user.email;
                self.target = target.join(".");
            }
            SignupEvent::Save { user } => {
                self.error = email_error(&user.email);
                if self.error.is_none() {
                    socket.put_flash("info", format!("saved {}", user.email));
                    self.saved.push(user.email);
                    self.email.clear();
                }
            }
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                (flash(&@flash))
                form id="signup" phx-change="validate" phx-submit="save" {
                    input id="email" type="text" name="user[email]" value=(@email);
                    @if let Some(error) = &@error { p id="error" { (error) } }
                    button id="save" type="submit" { "save" }
                }
                p { "target: " span id="target" { (@target) } }
                ul id="saved" {
                    @for email in &@saved key (email) { li { (email) } }
                }
            }
        }
    }
}

/// Keys pressed in an input.
#[derive(Clone, Default)]
pub struct Keys {
    last: String,
    count: u32,
}

/// The keys' events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeysEvent {
    /// `phx-keyup`.
    Key {
        /// The key.
        key: String,
    },
}

impl LiveView for Keys {
    type Event = KeysEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: KeysEvent,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let KeysEvent::Key { key } = event;
        self.last = key;
        self.count += 1;
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                input id="keys" type="text" phx-keyup="key";
                p { "last: " span id="last" { (@last) } " count: " span id="key-count" { (@count) } }
            }
        }
    }
}

/// A hook's `pushEvent` answered with a reply, and an event pushed to it.
#[derive(Clone, Default)]
pub struct Hook {
    pings: u32,
}

/// The hook's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// The hook's `pushEvent("ping", {n})`.
    Ping {
        /// A number the reply doubles.
        n: u32,
    },
}

impl LiveView for Hook {
    type Event = HookEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: HookEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let HookEvent::Ping { n } = event;
        self.pings += 1;
        socket.reply(serde_json::json!({"n": n * 2, "pings": self.pings}));
        socket.push_event("pong-pushed", serde_json::json!({"n": self.pings}));
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                button id="pinger" phx-hook="Pinger" data-n="0" { "ping" }
                p { "pings: " span id="pings" { (@pings) } }
            }
        }
    }
}

/// Tabs in the URL: `live_patch` links, `push_patch`, back and forward.
#[derive(Clone, Default)]
pub struct Patch {
    tab: String,
    params_calls: u32,
    mounts: u32,
}

/// The patch view's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatchEvent {
    /// Go to tab `c` with `push_patch`.
    ToC {},
    /// Go to another view of another live session with `push_navigate`.
    Away {},
}

impl LiveView for Patch {
    type Event = PatchEvent;
    type Info = ();

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.mounts += 1;
        Ok(())
    }

    async fn handle_params(
        &mut self,
        params: &Params,
        _: &str,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.tab = params
            .get("tab")
            .and_then(|t| t.as_str())
            .unwrap_or("a")
            .to_owned();
        self.params_calls += 1;
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: PatchEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            PatchEvent::ToC {} => socket.push_patch("/patch?tab=c", false),
            PatchEvent::Away {} => socket.push_navigate("/counter", false),
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                a id="tab-a" href="/patch?tab=a" data-phx-link="patch" data-phx-link-state="push" { "a" }
                a id="tab-b" href="/patch?tab=b" data-phx-link="patch" data-phx-link-state="push" { "b" }
                button id="tab-c" phx-click="to_c" { "c" }
                p { "tab: " span id="tab" { (@tab) } }
                p { "params calls: " span id="params-calls" { (@params_calls) } " mounts: " span id="mounts" { (@mounts) } }
                p { "uri: " span id="uri" { (@uri) } }
            }
        }
    }
}

/// Two pages of one live session: navigation between them without a page load.
#[derive(Clone, Default)]
pub struct Nav {
    page: String,
}

/// The navigation view's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NavEvent {
    /// Go to the other page with `push_navigate`, with a flash message.
    Other {},
}

impl LiveView for Nav {
    type Event = NavEvent;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.page = params
            .get("page")
            .and_then(|p| p.as_str())
            .unwrap_or_default()
            .to_owned();
        socket.page_title(format!("Nav {}", self.page));
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: NavEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let NavEvent::Other {} = event;
        let other = if self.page == "one" { "two" } else { "one" };
        socket.put_flash("info", format!("from {}", self.page));
        socket.push_navigate(format!("/nav/{other}"), false);
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                (flash(&@flash))
                h1 id="page" { (@page) }
                a id="to-one" href="/nav/one" data-phx-link="redirect" data-phx-link-state="push" { "one" }
                a id="to-two" href="/nav/two" data-phx-link="redirect" data-phx-link-state="push" { "two" }
                button id="other" phx-click="other" { "other" }
            }
        }
    }
}

/// Behind an `on_mount` hook that wants a user in the session.
#[derive(Clone, Default)]
pub struct Private {
    user: String,
}

impl LiveView for Private {
    type Event = serde_json::Value;
    type Info = ();

    async fn mount(
        &mut self,
        _: &Params,
        session: &Session,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        self.user = session
            .get("user")
            .and_then(|u| u.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(())
    }

    async fn handle_event(
        &mut self,
        _: serde_json::Value,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { main { p { "hello " span id="user" { (@user) } } } }
    }
}

/// Where the `on_mount` hook sends a page without a user: shows the flash.
#[derive(Clone)]
pub struct Login;

impl LiveView for Login {
    type Event = serde_json::Value;
    type Info = ();

    async fn handle_event(
        &mut self,
        _: serde_json::Value,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { main { (flash(&@flash)) h1 { "login" } } }
    }
}

/// Client-side bindings over our diffs: debounce, throttle, `phx-update="ignore"`.
#[derive(Clone, Default)]
pub struct Bindings {
    changes: u32,
    query: String,
    clicks: u32,
}

/// The bindings' events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingsEvent {
    /// A debounced `phx-change`.
    Search {
        /// The search box.
        #[serde(default)]
        q: String,
    },
    /// A throttled click.
    Click {},
}

impl LiveView for Bindings {
    type Event = BindingsEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: BindingsEvent,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            BindingsEvent::Search { q } => {
                self.changes += 1;
                self.query = q;
            }
            BindingsEvent::Click {} => self.clicks += 1,
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                form id="search" phx-change="search" {
                    input id="q" type="text" name="q" phx-debounce="2000";
                }
                p { "changes: " span id="changes" { (@changes) } " query: " span id="query" { (@query) } }
                button id="throttled" phx-click="click" phx-throttle="60000" { "click" }
                p { "clicks: " span id="clicks" { (@clicks) } }
                div id="ignored" phx-update="ignore" { "server: " (@clicks) }
            }
        }
    }
}
