//! Live views served to the stock `phoenix_live_view` client: the [`LiveView`] trait, the
//! app's views and their live sessions ([`Views`]), the first GET's render, and the task
//! that serves a view over the socket (a [topic process] of the engine on `lv:*`).
//!
//! ```
//! use livestate_view::live::{LiveView, Live, Socket, ViewError, Views};
//! use livestate_view::{Assigns, Rendered, html};
//! use serde::Deserialize;
//!
//! #[derive(Clone, Default)]
//! struct Thermostat { celsius: i32 }
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum Event { Inc {}, Dec {} }
//!
//! impl LiveView for Thermostat {
//!     type Event = Event;
//!     type Info = ();
//!
//!     async fn handle_event(&mut self, event: Event, _: &mut Socket<Self>) -> Result<(), ViewError> {
//!         match event {
//!             Event::Inc {} => self.celsius += 1,
//!             Event::Dec {} => self.celsius -= 1,
//!         }
//!         Ok(())
//!     }
//!
//!     fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
//!         html! {
//!             div {
//!                 button phx-click="dec" { "-" }
//!                 span { (@celsius) " °C" }
//!                 button phx-click="inc" { "+" }
//!             }
//!         }
//!     }
//! }
//!
//! let views = Views::builder(b"a secret of at least thirty-two bytes!!")
//!     .live("/thermostat", Thermostat::default())
//!     .build();
//! assert_eq!(views.paths().collect::<Vec<_>>(), ["/thermostat"]);
//! ```
//!
//! # Events
//!
//! A client event `{type, event, value}` reaches [`LiveView::handle_event`] decoded into
//! [`LiveView::Event`] as channel events are (see `livestate_core::event`): the name
//! picks the variant, the value is its content:
//!
//! | binding | value |
//! |---|---|
//! | `phx-click` | the element's `phx-value-*` attributes (`{"id": "7"}`), and `value` if it has one |
//! | `phx-change`, `phx-submit` | the form's fields decoded as Plug does (`user[email]` is `{"user": {"email": ...}}`), untouched fields under `_unused_NAME`, and for `phx-change` `_target`: the changed input's name as a list of its parts |
//! | `phx-keyup`, `phx-keydown` | `{"key": ..., ...}` and the element's `phx-value-*` |
//! | `phx-focus`, `phx-blur` | the element's `phx-value-*` |
//! | a hook's `pushEvent(name, payload)` | the payload as it came; [`Socket::reply`] answers it |
//!
//! `phx-click="lv:clear-flash"` (with `phx-value-key`) clears a flash message without
//! reaching the view. An event the view does not know, or whose value does not fit, is
//! answered with an error naming why; the view stays as it was.
//!
//! # Not supported yet
//!
//! Live components (`cid`), streams, uploads, nested and sticky views: the client uses
//! them only when the server emits their markup, which these views never do.
//!
//! [topic process]: livestate_core::process

mod group;
mod path;
mod process;
#[cfg(test)]
mod render_tests;
mod runner;
mod shared;
#[cfg(test)]
mod shared_tests;
pub mod testing;
#[cfg(test)]
mod tests;
mod tokens;
mod view;

pub use group::{RenderGroup, RenderStats};
pub use shared::{KeyState, Shared, SharedChange};
pub use view::{Flash, Live, LiveView, Navigation, Params, Session, Socket, ViewError, ViewSender};

use futures_util::future::BoxFuture;
use livestate_core::Hub;
use livestate_core::process::{ProcessJoin, TopicProcess};
use path::PathPattern;
use runner::{Failure, Mount, Runner};
use std::sync::Arc;
use tokens::{PageSession, Tokens};

/// The version of `phoenix_live_view` whose wire format views speak, sent in every join's
/// reply (the client warns in its console when its own version differs).
pub const LIVEVIEW_VERSION: &str = "1.2.12";

/// The topic pattern views are joined on.
pub const TOPIC_PATTERN: &str = "lv:*";

/// The name of the live session views join when none is declared.
pub const DEFAULT_LIVE_SESSION: &str = "default";

/// The cookie that holds a browser's CSRF secret (its token is in the page's meta tag).
pub const CSRF_COOKIE: &str = "_livestate_csrf";

/// The socket assign a transport sets to `true` when the socket's `_csrf_token` matched
/// the browser's CSRF cookie; a view join on any other socket is refused `stale`.
pub const CSRF_VERIFIED: &str = "_livestate_csrf_verified";

/// The cookie a `redirect` carries its flash in (the client sets it).
pub const FLASH_COOKIE: &str = "__phoenix_flash__";

/// An app's views: their routes, grouped in live sessions, the tokens' secret and the
/// layout of their pages.
#[derive(Clone)]
pub struct Views {
    inner: Arc<Inner>,
}

struct Inner {
    /// The engine the views run on, once the endpoint serving them is built.
    hub: std::sync::OnceLock<Hub>,
    tokens: Tokens,
    routes: Vec<Route>,
    sessions: Vec<LiveSession>,
    layout: Layout,
    head: String,
    /// What the views share: decoded patches, renders.
    groups: Arc<group::Groups>,
}

struct Route {
    path: PathPattern,
    session: usize,
    view: Arc<dyn ErasedView>,
}

struct LiveSession {
    name: String,
    on_mount: Vec<OnMount>,
}

type OnMount = Arc<dyn Fn(&mut Mounting<'_>) -> Result<(), Halt> + Send + Sync>;

/// A page's layout: the whole HTML document around the view.
pub type Layout = Arc<dyn Fn(&Page<'_>) -> String + Send + Sync>;

/// What a layout puts together.
#[derive(Debug)]
pub struct Page<'a> {
    /// The page's title (escaped), for `<title>`: the client updates it when the view
    /// sets another.
    pub title: &'a str,
    /// What goes into `<head>`: the CSRF meta tag, the client's script and the app's
    /// extra head.
    pub head: &'a str,
    /// The view's root element with its first render.
    pub main: &'a str,
}

/// The layout used when the app sets none: a minimal HTML5 document.
pub fn default_layout(page: &Page<'_>) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n{}\n\
         <title>{}</title>\n</head>\n<body>\n{}\n</body>\n</html>\n",
        page.head, page.title, page.main
    )
}

/// What an `on_mount` hook sees: it may read and add to the session, and halt the mount
/// with a redirect ([`Halt`]).
#[derive(Debug)]
pub struct Mounting<'a> {
    /// The page's session (what the app's session extractor made of the first request).
    pub session: &'a mut Session,
    /// The URL's params.
    pub params: &'a Params,
    /// The URL.
    pub uri: &'a str,
    /// Whether this is the join (true) or the first GET (false).
    pub connected: bool,
}

/// An `on_mount` hook's halt: the page goes elsewhere (a 302 for the first GET, a
/// redirect for the join), with a flash message if one is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    to: String,
    flash: Flash,
}

impl Halt {
    /// Halt and send the page to `to`.
    pub fn redirect(to: impl Into<String>) -> Halt {
        Halt {
            to: to.into(),
            flash: Flash::default(),
        }
    }

    /// With a flash message shown by the page it goes to.
    pub fn with_flash(mut self, kind: impl Into<String>, message: impl Into<String>) -> Halt {
        self.flash.put(kind.into(), message.into());
        self
    }
}

/// Builds [`Views`].
pub struct ViewsBuilder {
    tokens: Tokens,
    sessions: Vec<LiveSessionBuilder>,
    layout: Layout,
    head: String,
    shared_render: bool,
}

/// Builds one live session: its views and its `on_mount` hooks. Navigation between the
/// views of one live session happens without a page load.
pub struct LiveSessionBuilder {
    name: String,
    on_mount: Vec<OnMount>,
    routes: Vec<(PathPattern, Arc<dyn ErasedView>)>,
}

impl LiveSessionBuilder {
    /// Serve `view` at `path` (`/`, `/users/{id}`: a `{name}` segment is a param).
    ///
    /// # Panics
    /// When the path is not one (see above).
    pub fn live<V: LiveView>(mut self, path: &str, view: V) -> LiveSessionBuilder {
        self.routes
            .push((PathPattern::parse(path), Arc::new(Erased(view))));
        self
    }

    /// Run `hook` before every mount of this session's views, at the first GET and again
    /// at the join (the place for authentication): it may add to the session, or halt.
    pub fn on_mount<F>(mut self, hook: F) -> LiveSessionBuilder
    where
        F: Fn(&mut Mounting<'_>) -> Result<(), Halt> + Send + Sync + 'static,
    {
        self.on_mount.push(Arc::new(hook));
        self
    }
}

impl Views {
    /// Start building an app's views. `secret_key_base` signs the pages' tokens: keep it
    /// secret, the same across restarts and on every node of a cluster, so that no page
    /// reloads when its node restarts or its socket lands on another node.
    ///
    /// # Panics
    /// When the secret is shorter than 32 bytes.
    pub fn builder(secret_key_base: impl AsRef<[u8]>) -> ViewsBuilder {
        ViewsBuilder {
            tokens: Tokens::new(secret_key_base.as_ref()),
            sessions: vec![LiveSessionBuilder {
                name: DEFAULT_LIVE_SESSION.to_owned(),
                on_mount: Vec::new(),
                routes: Vec::new(),
            }],
            layout: Arc::new(default_layout),
            head: String::new(),
            shared_render: true,
        }
    }

    /// The paths of every view, as written (`/users/{id}`: axum's syntax).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.inner.routes.iter().map(|r| r.path.as_str())
    }

    /// The topic process serving `lv:*` joins.
    pub fn process(&self) -> Arc<dyn TopicProcess> {
        Arc::new(self.clone())
    }

    /// Run the views on `hub` (the one whose routes serve [`Views::process`]): the engine
    /// their shared keys live in. The endpoint does it when it is built; the first call
    /// wins. The hub and the views then hold each other for as long as they live.
    pub fn bind(&self, hub: &Hub) {
        let _ = self.inner.hub.set(hub.clone());
    }

    /// The engine the views run on, once bound.
    pub(crate) fn hub(&self) -> Option<Hub> {
        self.inner.hub.get().cloned()
    }

    /// What the views share.
    pub(crate) fn groups(&self) -> Arc<group::Groups> {
        self.inner.groups.clone()
    }

    /// How many renders the views shared so far (see [`ViewsBuilder::shared_render`]).
    pub fn render_stats(&self) -> RenderStats {
        self.inner.groups.stats()
    }

    /// A new CSRF secret for a browser's [`CSRF_COOKIE`].
    pub fn new_csrf_secret() -> String {
        tokens::random(24)
    }

    /// Whether `token` (the socket's `_csrf_token`) is the one of the browser's CSRF
    /// secret.
    pub fn csrf_matches(&self, token: &str, secret: &str) -> bool {
        !secret.is_empty() && self.inner.tokens.csrf_matches(token, secret)
    }

    /// The route matching `path`, with its params.
    fn route(&self, path: &str) -> Option<(usize, Params)> {
        self.inner
            .routes
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.path.matches(path).map(|params| (i, params)))
    }

    /// Run the live session's `on_mount` hooks.
    fn on_mount(&self, session: usize, mounting: &mut Mounting<'_>) -> Result<(), Halt> {
        self.inner.sessions[session]
            .on_mount
            .iter()
            .try_for_each(|hook| hook(mounting))
    }

    /// The first GET of a view's page: the whole page, or where to go instead.
    ///
    /// `url` is the page's URL (a path with its query, or absolute); `session` what the
    /// app's session extractor made of the request; `flash` the [`FLASH_COOKIE`]'s
    /// value; `csrf_secret` the browser's [`CSRF_COOKIE`] (a new one when it has none).
    pub async fn dead_render(&self, req: DeadRequest<'_>) -> DeadResponse {
        let Some((path, query)) = path::parse_url(req.url) else {
            return DeadResponse::NotFound;
        };
        let Some((index, mut params)) = self.route(&path) else {
            return DeadResponse::NotFound;
        };
        params.extend(query);
        let route = &self.inner.routes[index];
        let mut session = req.session;
        let mut mounting = Mounting {
            session: &mut session,
            params: &params,
            uri: req.url,
            connected: false,
        };
        if let Err(halt) = self.on_mount(route.session, &mut mounting) {
            return self.redirect(halt.to, &halt.flash);
        }
        let flash = self.inner.tokens.verify_flash(req.flash);
        let mount = Mount {
            params: &params,
            session: &session,
            uri: req.url.to_owned(),
            flash,
            connected: false,
            hub: req.hub,
            groups: None,
        };
        let dead = route.view.dead(mount).await;
        let dead = match dead {
            Ok(dead) => dead,
            Err(Failure::Error(e)) => return DeadResponse::Error(e.0),
            Err(Failure::Panic(p)) => {
                tracing::error!(url = req.url, "a view panicked in its first render: {p}");
                return DeadResponse::Error("internal error".to_owned());
            }
        };
        if let Some(navigation) = dead.navigation {
            let to = match navigation {
                Navigation::Patch { to, .. }
                | Navigation::Navigate { to, .. }
                | Navigation::Redirect { to } => to,
            };
            return self.redirect(to, &dead.flash);
        }
        let id = format!("phx-{}", tokens::random(12));
        let page = PageSession {
            id: id.clone(),
            live_session: self.inner.sessions[route.session].name.clone(),
            data: session,
        };
        let tokens = &self.inner.tokens;
        let main = format!(
            "<div id=\"{id}\" data-phx-main data-phx-session=\"{}\" data-phx-static=\"{}\">{}</div>",
            tokens.session(&page),
            tokens.static_token(&id, &dead.flash),
            dead.html
        );
        let head = format!(
            "<meta name=\"csrf-token\" content=\"{}\">\n<script defer src=\"/live/live.js\"></script>{}",
            tokens.csrf_token(req.csrf_secret),
            self.inner.head
        );
        let title = crate::escape(dead.title.as_deref().unwrap_or_default());
        DeadResponse::Page((self.inner.layout)(&Page {
            title: &title,
            head: &head,
            main: &main,
        }))
    }

    fn redirect(&self, to: String, flash: &Flash) -> DeadResponse {
        DeadResponse::Redirect {
            to,
            flash: self.inner.tokens.flash(flash),
        }
    }
}

impl ViewsBuilder {
    /// Serve `view` at `path` in the default live session (see
    /// [`LiveSessionBuilder::live`]).
    pub fn live<V: LiveView>(mut self, path: &str, view: V) -> ViewsBuilder {
        let default = self.sessions.remove(0);
        self.sessions.insert(0, default.live(path, view));
        self
    }

    /// An `on_mount` hook for the default live session (see
    /// [`LiveSessionBuilder::on_mount`]).
    pub fn on_mount<F>(mut self, hook: F) -> ViewsBuilder
    where
        F: Fn(&mut Mounting<'_>) -> Result<(), Halt> + Send + Sync + 'static,
    {
        self.sessions[0].on_mount.push(Arc::new(hook));
        self
    }

    /// Declare a live session: views between which the client navigates without a page
    /// load, sharing `on_mount` hooks.
    ///
    /// # Panics
    /// When the name is declared already.
    pub fn live_session(
        mut self,
        name: &str,
        build: impl FnOnce(LiveSessionBuilder) -> LiveSessionBuilder,
    ) -> ViewsBuilder {
        assert!(
            self.sessions.iter().all(|s| s.name != name),
            "livestate: the live session {name:?} is declared twice"
        );
        self.sessions.push(build(LiveSessionBuilder {
            name: name.to_owned(),
            on_mount: Vec::new(),
            routes: Vec::new(),
        }));
        self
    }

    /// The pages' layout (default: [`default_layout`]).
    pub fn layout<F>(mut self, layout: F) -> ViewsBuilder
    where
        F: Fn(&Page<'_>) -> String + Send + Sync + 'static,
    {
        self.layout = Arc::new(layout);
        self
    }

    /// More for every page's `<head>` (after the client's script): styles, and a script
    /// setting `window.livestateHooks` (the client's hooks) or `window.livestateOptions`
    /// (more `LiveSocket` options). Written as it is: HTML.
    pub fn head(mut self, html: impl Into<String>) -> ViewsBuilder {
        self.head = html.into();
        self
    }

    /// Whether views attached to the same keys share renders (default on): when a change
    /// of a key re-renders only slots that read `@shared` (and the assigns a view names in
    /// [`LiveView::render_group`]), views of one type that hold the same there get one
    /// diff, computed and encoded once. Off, every view renders alone (to compare).
    pub fn shared_render(mut self, on: bool) -> ViewsBuilder {
        self.shared_render = on;
        self
    }

    /// The views.
    ///
    /// # Panics
    /// When two views have the same path.
    pub fn build(self) -> Views {
        let mut routes: Vec<Route> = Vec::new();
        let mut sessions = Vec::new();
        for (index, session) in self.sessions.into_iter().enumerate() {
            for (path, view) in session.routes {
                assert!(
                    routes.iter().all(|r| r.path != path),
                    "livestate: the view path {:?} is routed twice",
                    path.as_str()
                );
                routes.push(Route {
                    path,
                    session: index,
                    view,
                });
            }
            sessions.push(LiveSession {
                name: session.name,
                on_mount: session.on_mount,
            });
        }
        Views {
            inner: Arc::new(Inner {
                hub: std::sync::OnceLock::new(),
                tokens: self.tokens,
                routes,
                sessions,
                layout: self.layout,
                head: self.head,
                groups: Arc::new(group::Groups::new(self.shared_render)),
            }),
        }
    }
}

/// The first GET of a view's page (see [`Views::dead_render`]).
#[derive(Debug)]
pub struct DeadRequest<'a> {
    /// The page's URL: a path with its query, or absolute.
    pub url: &'a str,
    /// What the app's session extractor made of the request.
    pub session: Session,
    /// The [`FLASH_COOKIE`]'s value, if the request has one.
    pub flash: Option<&'a str>,
    /// The browser's CSRF secret ([`CSRF_COOKIE`]).
    pub csrf_secret: &'a str,
    /// The engine, whose shared keys views read (`socket.attach`).
    pub hub: Option<Hub>,
}

/// The answer to a view page's first GET.
#[derive(Debug, PartialEq, Eq)]
pub enum DeadResponse {
    /// The whole page.
    Page(String),
    /// Go elsewhere (a 302), with the flash as a token for the [`FLASH_COOKIE`].
    Redirect {
        /// Where.
        to: String,
        /// The flash token, if there is a message.
        flash: Option<String>,
    },
    /// No view serves the path (a 404).
    NotFound,
    /// The view failed to mount (a 500), with the reason the client may see.
    Error(String),
}

/// A view's first render.
struct DeadRender {
    html: String,
    title: Option<String>,
    navigation: Option<Navigation>,
    flash: Flash,
}

/// A view with its type erased, so views of different types fit one table.
trait ErasedView: Send + Sync + 'static {
    /// Mount, not connected, and render the whole view.
    fn dead<'a>(&'a self, mount: Mount<'a>) -> BoxFuture<'a, Result<DeadRender, Failure>>;

    /// Serve a join: mount, answer, then serve the topic until the client goes.
    fn serve(&self, joining: process::Joining) -> BoxFuture<'static, ()>;
}

struct Erased<V>(V);

impl<V: LiveView> ErasedView for Erased<V> {
    fn dead<'a>(&'a self, mount: Mount<'a>) -> BoxFuture<'a, Result<DeadRender, Failure>> {
        Box::pin(async move {
            // no loop reads these messages: nothing is sent while not connected
            let (info, _) = tokio::sync::mpsc::unbounded_channel();
            let (runner, outcome) = Runner::mount(&self.0, mount, info).await?;
            Ok(DeadRender {
                html: runner.html()?,
                title: runner.title().map(str::to_owned),
                navigation: outcome.navigation,
                flash: runner.live.flash.clone(),
            })
        })
    }

    fn serve(&self, joining: process::Joining) -> BoxFuture<'static, ()> {
        Box::pin(process::serve(self.0.clone(), joining))
    }
}

impl TopicProcess for Views {
    fn start(&self, join: ProcessJoin) {
        tokio::spawn(process::join(self.clone(), join));
    }
}
