//! Test a view in process, without a browser or a socket: mount it, click, change and
//! submit forms, press keys, push hook events, patch the URL, send it messages, and read
//! its HTML, its flash and where it navigated. The view's callbacks run exactly as they
//! do behind a socket (the same event decoding, form decoding and change tracking).
//!
//! ```
//! use livestate_view::live::testing::{TestError, ViewTest};
//! use livestate_view::live::{Live, LiveView, Socket, ViewError};
//! use livestate_view::{Assigns, Rendered, html};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Clone, Default)]
//! struct Counter { count: i64 }
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Event { Add { by: String } }
//!
//! impl LiveView for Counter {
//!     type Event = Event;
//!     type Info = ();
//!
//!     async fn handle_event(&mut self, event: Event, socket: &mut Socket<Self>) -> Result<(), ViewError> {
//!         let Event::Add { by } = event;
//!         self.count += by.parse::<i64>().map_err(|_| ViewError::new("by is not a number"))?;
//!         socket.put_flash("info", "added");
//!         Ok(())
//!     }
//!
//!     fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
//!         html! { p id="count" { (@count) } button phx-click="add" phx-value-by="1" { "+" } }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TestError> {
//! let mut view = ViewTest::new(Counter::default()).mount("/counter").await?;
//! assert!(view.html()?.contains(r#"<p id="count">0</p>"#));
//! view.click("add", json!({"by": "2"})).await?;
//! assert!(view.html()?.contains(r#"<p id="count">2</p>"#));
//! assert_eq!(view.flash().get("info"), Some("added"));
//! // what the view refuses is an error naming why, and the view stays
//! let refused = view.click("add", json!({"by": "two"})).await.unwrap_err();
//! assert_eq!(refused, TestError::Refused("by is not a number".into()));
//! # Ok(()) }
//! ```

use super::path::{PathPattern, absolute, parse_url};
use super::runner::{Failure, Mount, Outcome, Runner};
use super::view::{Flash, LiveView, Navigation, Params, Session};
use livestate_core::Hub;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// Why a test step failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestError {
    /// The view refused (its callback's error), or the event did not decode (the reason
    /// names why).
    Refused(String),
    /// A callback or the template panicked: behind a socket the view would crash and
    /// mount afresh.
    Crashed(String),
    /// The URL does not decode, or a test asked for something the view did not do.
    Usage(String),
}

impl std::fmt::Display for TestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestError::Refused(reason) => write!(f, "refused: {reason}"),
            TestError::Crashed(panic) => write!(f, "the view crashed: {panic}"),
            TestError::Usage(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for TestError {}

impl From<Failure> for TestError {
    fn from(failure: Failure) -> TestError {
        match failure {
            Failure::Error(e) => TestError::Refused(e.0),
            Failure::Panic(p) => TestError::Crashed(p),
        }
    }
}

/// What one step sent the client.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    /// The diff (without `r` and `e`): only what changed.
    pub diff: Map<String, Value>,
    /// A hook's reply ([`Socket::reply`](super::Socket::reply)).
    pub reply: Option<Value>,
    /// Events pushed to the page's hooks: `[name, payload]` each.
    pub events: Vec<Value>,
    /// Where the view sent the page, if it did. A patch within the view has already
    /// run `handle_params`.
    pub navigation: Option<Navigation>,
}

/// Mounts a view for a test.
pub struct ViewTest<V: LiveView> {
    view: V,
    hub: Option<Hub>,
    session: Session,
    path: Option<String>,
    connected: bool,
    flash: Flash,
}

impl<V: LiveView> ViewTest<V> {
    /// A test of `view` (the value a route would be given).
    pub fn new(view: V) -> ViewTest<V> {
        ViewTest {
            view,
            hub: None,
            session: Session::new(),
            path: None,
            connected: true,
            flash: Flash::default(),
        }
    }

    /// The engine whose shared keys the view attaches to (`socket.attach`): a `Hub` with
    /// the app's channels. Without one, attaching fails.
    pub fn hub(mut self, hub: Hub) -> ViewTest<V> {
        self.hub = Some(hub);
        self
    }

    /// Mount with this session (default: empty).
    pub fn session(mut self, session: Session) -> ViewTest<V> {
        self.session = session;
        self
    }

    /// The route's path, with its `{name}` params (default: the mounted URL's path).
    pub fn path(mut self, path: &str) -> ViewTest<V> {
        self.path = Some(path.to_owned());
        self
    }

    /// Mount as the first GET does (not connected).
    pub fn disconnected(mut self) -> ViewTest<V> {
        self.connected = false;
        self
    }

    /// Mount with a flash message, as after a redirect.
    pub fn flash(mut self, kind: &str, message: &str) -> ViewTest<V> {
        self.flash.put(kind.to_owned(), message.to_owned());
        self
    }

    /// Mount the view at `url` (a path with its query): `mount`, then `handle_params`.
    pub async fn mount(self, url: &str) -> Result<TestView<V>, TestError> {
        let (path, query) =
            parse_url(url).ok_or_else(|| TestError::Usage(format!("{url:?} does not decode")))?;
        let pattern = PathPattern::parse(self.path.as_deref().unwrap_or(&path));
        let mut params = pattern.matches(&path).ok_or_else(|| {
            TestError::Usage(format!("{url:?} is not a URL of {}", pattern.as_str()))
        })?;
        params.extend(query);
        let (info_tx, info) = mpsc::unbounded_channel();
        let mount = Mount {
            params: &params,
            session: &self.session,
            uri: url.to_owned(),
            flash: self.flash,
            connected: self.connected,
            hub: self.hub,
            groups: None,
        };
        let (mut runner, mut outcome) = Runner::mount(&self.view, mount, info_tx).await?;
        let navigation = outcome.navigation.take();
        let diff = runner.diff(&mut outcome)?;
        Ok(TestView {
            runner,
            pattern,
            info,
            mounted: Step {
                diff,
                reply: None,
                events: outcome.events,
                navigation,
            },
        })
    }
}

/// A mounted view under test.
pub struct TestView<V: LiveView> {
    runner: Runner<V>,
    pattern: PathPattern,
    info: mpsc::UnboundedReceiver<V::Info>,
    mounted: Step,
}

impl<V: LiveView> TestView<V> {
    /// What the mount sent: the whole first render, events, and where it navigated.
    pub fn mounted(&self) -> &Step {
        &self.mounted
    }

    /// The view's whole HTML now.
    pub fn html(&self) -> Result<String, TestError> {
        Ok(self.runner.html()?)
    }

    /// The view itself (its fields).
    pub fn view(&self) -> &V {
        &self.runner.live.view
    }

    /// The flash messages.
    pub fn flash(&self) -> &Flash {
        &self.runner.live.flash
    }

    /// The page's title, as the view set it last.
    pub fn title(&self) -> Option<&str> {
        self.runner.title()
    }

    /// The URL the view shows.
    pub fn uri(&self) -> &str {
        &self.runner.live.uri
    }

    /// A `phx-click` with its values (`phx-value-*`, strings).
    pub async fn click(&mut self, event: &str, value: Value) -> Result<Step, TestError> {
        self.push(json!({"type": "click", "event": event, "value": value}))
            .await
    }

    /// A `phx-keyup` with its key.
    pub async fn keyup(&mut self, event: &str, key: &str) -> Result<Step, TestError> {
        let value = json!({"key": key});
        self.push(json!({"type": "keyup", "event": event, "value": value}))
            .await
    }

    /// A `phx-change` of a form (its fields URL-encoded, as the client sends them) whose
    /// input `target` (its name, `user[email]`) changed.
    pub async fn change(
        &mut self,
        event: &str,
        form: &str,
        target: &str,
    ) -> Result<Step, TestError> {
        let meta = json!({"_target": target});
        self.push(json!({"type": "form", "event": event, "value": form, "meta": meta}))
            .await
    }

    /// A `phx-submit` of a form (its fields URL-encoded).
    pub async fn submit(&mut self, event: &str, form: &str) -> Result<Step, TestError> {
        self.push(json!({"type": "form", "event": event, "value": form}))
            .await
    }

    /// A hook's `pushEvent(event, payload)`; the step's `reply` is what its callback gets.
    pub async fn hook(&mut self, event: &str, payload: Value) -> Result<Step, TestError> {
        self.push(json!({"type": "hook", "event": event, "value": payload}))
            .await
    }

    /// An `event` push as the client sends it: `{type, event, value, meta}`.
    pub async fn push(&mut self, payload: Value) -> Result<Step, TestError> {
        let outcome = self.runner.client_event(&payload).await?;
        self.settle(outcome).await
    }

    /// A live patch to `url` (a `patch` link, the browser's back button): `handle_params`.
    pub async fn patch(&mut self, url: &str) -> Result<Step, TestError> {
        let params = self.params_of(url)?;
        let outcome = self.runner.params(&params, url.to_owned()).await?;
        self.settle(outcome).await
    }

    /// Send the view a message (its `handle_info`).
    pub async fn info(&mut self, info: V::Info) -> Result<Step, TestError> {
        let outcome = self.runner.info(info).await?;
        self.settle(outcome).await
    }

    /// Handle the next message the view sent itself (`send_after`) or server code sent it,
    /// waiting for it (under tokio's paused clock, timers fire at once).
    pub async fn next_info(&mut self) -> Result<Step, TestError> {
        let info = self
            .info
            .recv()
            .await
            .ok_or_else(|| TestError::Usage("no message can come".into()))?;
        self.info(info).await
    }

    /// Handle the next change of a key the view attached to, waiting for it.
    pub async fn next_shared(&mut self) -> Result<Step, TestError> {
        let frame = self.runner.recv_shared().await;
        let outcome = self.runner.shared_frame(frame).await?;
        self.settle(outcome).await
    }

    /// The attached keys as the view sees them.
    pub fn shared(&self) -> &super::Shared {
        &self.runner.live.shared
    }

    fn params_of(&self, url: &str) -> Result<Params, TestError> {
        let (path, query) =
            parse_url(url).ok_or_else(|| TestError::Usage(format!("{url:?} does not decode")))?;
        let mut params = self
            .pattern
            .matches(&path)
            .ok_or_else(|| TestError::Usage(format!("{url:?} is not a URL of this view")))?;
        params.extend(query);
        Ok(params)
    }

    /// A patch within the view runs `handle_params`, as behind a socket; then the diff.
    async fn settle(&mut self, mut outcome: Outcome) -> Result<Step, TestError> {
        if let Some(Navigation::Patch { to, .. }) = &outcome.navigation {
            if let Ok(params) = self.params_of(to) {
                let uri = absolute(&self.runner.live.uri, to);
                let more = self.runner.params(&params, uri).await?;
                outcome.events.extend(more.events);
            }
        }
        let navigation = outcome.navigation.take();
        let mut diff = self.runner.diff(&mut outcome)?;
        let reply = diff.remove("r");
        let events = match diff.remove("e") {
            Some(Value::Array(events)) => events,
            _ => Vec::new(),
        };
        Ok(Step {
            diff,
            reply,
            events,
            navigation,
        })
    }
}
