//! The [`LiveView`] trait, what its callbacks see ([`Socket`]) and what its template reads
//! ([`Live`]).

use super::group::RenderGroup;
use super::shared::{Links, Shared, SharedChange};
use crate::{Assigns, Changed, Rendered};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::time::Duration;
use tokio::sync::mpsc;

/// URL params: the path's `{name}` segments and the query string (`a[b]=c` nested into
/// objects), values as strings.
pub type Params = Map<String, Value>;

/// The session: what the app's session extractor made of the first request (its cookies,
/// its headers), signed into the page and given to every mount of the page's views.
pub type Session = Map<String, Value>;

/// A live view: its state is the value itself; the callbacks change it, [`render`]
/// shows it.
///
/// One value per route is given at start-up; every mount starts from a clone of it (keep
/// what all views share, a database pool say, behind an `Arc`). A view is mounted twice
/// per page: once for the first GET (not connected: the HTML a crawler or a page without
/// JavaScript sees), and again when the client joins over the socket, where it lives until
/// the page goes away.
///
/// Every callback may fail with a [`ViewError`]: a failed event answers the client with
/// the reason (or, with [`LiveView::handle_refusal`], shows it on the page); what the
/// callback changed before it failed stays, and shows with the next render. A failed mount
/// refuses the join. A callback
/// that panics ends that view alone: its client rejoins and the view mounts afresh.
///
/// [`render`]: LiveView::render
pub trait LiveView: Clone + Send + Sync + 'static {
    /// The client's events (`phx-click="inc"`, forms, keys, hooks' `pushEvent`), decoded
    /// as serde decodes an enum: the event's name picks the variant, its value is the
    /// content. See [`crate::live`] for what each kind of event carries.
    type Event: DeserializeOwned + Send + 'static;

    /// Messages from server code and timers ([`Socket::sender`], [`Socket::send_after`]),
    /// handled by [`handle_info`](LiveView::handle_info). `()` for none.
    type Info: Send + 'static;

    /// Set the view up for a page: `params` of the URL, the `session`. Runs for the first
    /// GET (`socket.connected()` false) and again at the join.
    fn mount(
        &mut self,
        params: &Params,
        session: &Session,
        socket: &mut Socket<Self>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send {
        let _ = (params, session, socket);
        async { Ok(()) }
    }

    /// The URL changed: after `mount`, and on every live patch (a `patch` link,
    /// [`Socket::push_patch`], the browser's back and forward) within this view.
    fn handle_params(
        &mut self,
        params: &Params,
        uri: &str,
        socket: &mut Socket<Self>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send {
        let _ = (params, uri, socket);
        async { Ok(()) }
    }

    /// A client event.
    fn handle_event(
        &mut self,
        event: Self::Event,
        socket: &mut Socket<Self>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// A message from server code or a timer.
    fn handle_info(
        &mut self,
        info: Self::Info,
        socket: &mut Socket<Self>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send {
        let _ = (info, socket);
        async { Ok(()) }
    }

    /// An attached key changed ([`Socket::attach`]) after the attach (which returns the
    /// state it found): `change` says what (PhoenixLiveState's kinds; a `reset` says
    /// whether the key was reset or only sent again); `socket.shared()` holds every
    /// attached key's state now. A refused `send_event` changes nothing and calls nothing. The template reads
    /// `@shared` whether or not this does anything; override it to copy the state into
    /// typed fields or to react to a kind of change (say, a reset). Runs on the view's own
    /// task, never on the key's authority. An override that changes some of the view's
    /// fields names them with [`Socket::changed`] (one that names none re-renders
    /// everything, and its view then renders alone: no shared render).
    fn handle_shared(
        &mut self,
        change: &SharedChange,
        socket: &mut Socket<Self>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send {
        let _ = change;
        // nothing of the view changed: only `@shared`, so views can share the render
        socket.changed([]);
        async { Ok(()) }
    }

    /// A client event was refused: it did not decode (an unknown event, a value that does
    /// not fit, a form string the decoder refuses; `reason` names why) or `handle_event`
    /// returned an error. Show it on the page (`socket.put_flash("error", reason)`, an
    /// assign) and return true: the client gets the page's diff. Return false, the
    /// default, and the client gets an error reply naming the reason (which the stock
    /// client only logs). A hook's `pushEvent` reply callback is not called for an error
    /// reply, and gets no reply when the refusal is shown.
    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        let _ = (reason, socket);
        false
    }

    /// The assigns besides `@shared` that the slots showing shared keys read, with their
    /// values: a change of an attached key is rendered and encoded once for all the views
    /// of this type on the node whose values (and keys, and pages there) are equal. By
    /// default none: views share the render of slots that read `@shared` alone. A view
    /// showing one of many rooms names the room: `group.assign("room", &self.room)`.
    /// Name only assigns whose value decides what those slots show.
    fn render_group(&self, group: &mut RenderGroup) {
        let _ = group;
    }

    /// The view's template: `@name` reads the view's field `name` (and `@flash`,
    /// `@connected`, `@uri` what [`Live`] adds).
    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_>;

    /// Temporary assigns: called after every render, to drop values that were shown once
    /// and need not stay in memory (say, messages a `phx-update="append"` list keeps on
    /// the page). Does nothing by default.
    fn clear_temporary(&mut self) {}
}

/// What a view's template reads: the view's own fields (through `Deref`), and what the
/// runtime keeps beside them.
#[derive(Debug, Clone)]
pub struct Live<V> {
    /// The view.
    pub view: V,
    /// Flash messages by kind (`"info"`, `"error"`), put by [`Socket::put_flash`] or
    /// carried across a redirect; a `phx-click="lv:clear-flash"` (with `phx-value-key`)
    /// clears one.
    pub flash: Flash,
    /// Whether the client is connected (false in the first GET's render).
    pub connected: bool,
    /// The page's URL as the client shows it.
    pub uri: String,
    /// The shared keys the view attached to ([`Socket::attach`]): their states.
    pub shared: Shared,
}

impl<V> Deref for Live<V> {
    type Target = V;

    fn deref(&self) -> &V {
        &self.view
    }
}

impl<V> DerefMut for Live<V> {
    fn deref_mut(&mut self) -> &mut V {
        &mut self.view
    }
}

/// Flash messages by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Flash(BTreeMap<String, String>);

impl Flash {
    /// The message of `kind`.
    pub fn get(&self, kind: &str) -> Option<&str> {
        self.0.get(kind).map(String::as_str)
    }

    /// Every message, by kind.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there is no message.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn put(&mut self, kind: String, message: String) {
        self.0.insert(kind, message);
    }

    pub(crate) fn clear(&mut self, kind: Option<&str>) {
        match kind {
            Some(kind) => {
                self.0.remove(kind);
            }
            None => self.0.clear(),
        }
    }
}

/// A view callback's failure: the reason reaches the client (an event's error reply, a
/// join refused) and the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewError(pub String);

impl ViewError {
    /// A failure with `reason`.
    pub fn new(reason: impl Into<String>) -> ViewError {
        ViewError(reason.into())
    }
}

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ViewError {}

/// Where a callback sent the page ([`Socket::push_patch`], [`Socket::push_navigate`],
/// [`Socket::redirect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Navigation {
    /// A live patch: the same view, its params callback, no join.
    Patch {
        /// The URL.
        to: String,
        /// Whether the browser's current history entry is replaced.
        replace: bool,
    },
    /// Live navigation to another view of the same live session: a join, no page load.
    Navigate {
        /// The URL.
        to: String,
        /// Whether the browser's current history entry is replaced.
        replace: bool,
    },
    /// A page load.
    Redirect {
        /// The URL.
        to: String,
    },
}

/// What a callback sees of the view's connection, and what it asks of it: flash, events
/// pushed to hooks, a reply to a hook, navigation, the title, which assigns changed,
/// messages to itself.
pub struct Socket<V: LiveView> {
    pub(crate) connected: bool,
    pub(crate) flash: Flash,
    pub(crate) flash_changed: bool,
    pub(crate) events: Vec<Value>,
    pub(crate) reply: Option<Value>,
    pub(crate) navigation: Option<Navigation>,
    pub(crate) title: Option<String>,
    pub(crate) changed: Option<Changed>,
    pub(crate) kind: Option<String>,
    pub(crate) info: mpsc::UnboundedSender<V::Info>,
    /// The view's in-process socket to shared keys (none without a hub, in some tests).
    pub(crate) links: Option<Links>,
    pub(crate) shared: Shared,
    pub(crate) shared_changes: Vec<SharedChange>,
}

impl<V: LiveView> Socket<V> {
    pub(crate) fn new(
        connected: bool,
        flash: Flash,
        info: mpsc::UnboundedSender<V::Info>,
    ) -> Socket<V> {
        Socket {
            connected,
            flash,
            flash_changed: false,
            events: Vec::new(),
            reply: None,
            navigation: None,
            title: None,
            changed: None,
            kind: None,
            info,
            links: None,
            shared: Shared::default(),
            shared_changes: Vec::new(),
        }
    }

    /// Whether the client is connected (false while rendering the first GET).
    pub fn connected(&self) -> bool {
        self.connected
    }

    /// The kind of the event being handled: `"click"`, `"form"`, `"keyup"`, `"keydown"`,
    /// `"focus"`, `"blur"`, `"hook"` (none outside `handle_event`, and none for an event
    /// pushed by `liveSocket.execJS`, which sends no kind).
    pub fn event_kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// Show a flash message of `kind` (`"info"`, `"error"`): the template reads `@flash`.
    pub fn put_flash(&mut self, kind: impl Into<String>, message: impl Into<String>) {
        self.flash.put(kind.into(), message.into());
        self.flash_changed = true;
    }

    /// The flash messages the page shows now (with this callback's changes).
    pub fn flash(&self) -> &Flash {
        &self.flash
    }

    /// Remove the flash message of `kind`, or every one.
    pub fn clear_flash(&mut self, kind: Option<&str>) {
        self.flash.clear(kind);
        self.flash_changed = true;
    }

    /// Push an event to the page's hooks (`this.handleEvent(name, ...)`) and
    /// `phx:`-prefixed window listeners.
    pub fn push_event(&mut self, name: impl Into<String>, payload: impl Into<Value>) {
        self.events.push(Value::Array(vec![
            Value::String(name.into()),
            payload.into(),
        ]));
    }

    /// Answer the hook whose `pushEvent` is being handled (its reply callback gets it).
    pub fn reply(&mut self, value: impl Into<Value>) {
        self.reply = Some(value.into());
    }

    /// Change the URL within this view: `handle_params` runs with the new params, the
    /// browser's history gets an entry (or the current one replaced).
    pub fn push_patch(&mut self, to: impl Into<String>, replace: bool) {
        self.navigation = Some(Navigation::Patch {
            to: to.into(),
            replace,
        });
    }

    /// Go to another view of the same live session without a page load (the flash goes
    /// along).
    pub fn push_navigate(&mut self, to: impl Into<String>, replace: bool) {
        self.navigation = Some(Navigation::Navigate {
            to: to.into(),
            replace,
        });
    }

    /// Load another page (the flash goes along).
    pub fn redirect(&mut self, to: impl Into<String>) {
        self.navigation = Some(Navigation::Redirect { to: to.into() });
    }

    /// Set the page's title (`<title>`).
    pub fn page_title(&mut self, title: impl Into<String>) {
        self.title = Some(title.into());
    }

    /// Say which assigns this callback changed; the next render computes only the slots
    /// that read them. Without it every assign counts as changed: every slot is computed
    /// and only the ones whose text differs are sent. A faster render, at the price of
    /// naming every field the callback changed.
    pub fn changed(&mut self, names: impl IntoIterator<Item = &'static str>) {
        let changed = self.changed.get_or_insert_with(Changed::none);
        for name in names {
            changed.insert(name);
        }
    }

    /// The attached keys' states (what `@shared` reads).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Attach the view to the shared key `key` (a topic of any channel: a `doc:` document, a
    /// typed channel's key), as one more subscriber of its authority: the key's state is in
    /// `@shared` from now on, and every change re-renders the view (and reaches
    /// [`LiveView::handle_shared`]). Connected, the view joins the key as a socket does (it
    /// counts for presence and TTL, is the key's group for the ACL, and joins again by
    /// itself when the key's authority moves); in the first GET's render the key is read
    /// once and nothing is attached (`null` when nobody started the key yet). Refused with
    /// the channel's reason when the join is.
    pub async fn attach(&mut self, key: &str) -> Result<&Value, ViewError> {
        self.attach_with(key, Value::Object(Map::new())).await
    }

    /// [`Socket::attach`] with join params for the key's channel.
    pub async fn attach_with(&mut self, key: &str, params: Value) -> Result<&Value, ViewError> {
        let links = self
            .links
            .as_mut()
            .ok_or_else(|| ViewError::new("this view has no engine to attach to"))?;
        if self.connected {
            links
                .attach(key, params, &mut self.shared, &mut self.shared_changes)
                .await?;
        } else {
            let current = links.read(key).await?;
            self.shared.insert_read(key, current);
        }
        Ok(self.shared.state(key))
    }

    /// Send the attached key `key`'s channel the event `name` with `payload`, as the key's
    /// group, exactly as a socket's event: handled by the key's authority under its ACL,
    /// and answered once committed (in Redis, in a cluster), or refused with the reason.
    /// The change reaches the view (and every other subscriber) as a change of the key.
    pub async fn send_event(
        &mut self,
        key: &str,
        name: &str,
        payload: Value,
    ) -> Result<(), ViewError> {
        let links = self
            .links
            .as_mut()
            .ok_or_else(|| ViewError::new("this view has no engine to attach to"))?;
        links.event(key, name, payload).await?;
        links
            .apply_held(&mut self.shared, &mut self.shared_changes)
            .await;
        Ok(())
    }

    /// Set the value at `path` (a JSON Pointer) of the attached key `key`, as
    /// PhoenixLiveState's `live_assign`: only for keys whose channel takes direct writes
    /// (the `doc:` channel's `put`); a typed channel's keys are written through its events
    /// ([`Socket::send_event`]).
    pub async fn live_assign(
        &mut self,
        key: &str,
        path: &str,
        value: Value,
    ) -> Result<(), ViewError> {
        let payload = serde_json::json!({"path": path, "value": value});
        match self.send_event(key, "put", payload).await {
            Err(e) if e.0.starts_with("unknown event") => Err(ViewError::new(format!(
                "live_assign writes only keys whose channel takes direct writes (doc:); {key:?} is written through its channel's events"
            ))),
            other => other,
        }
    }

    /// A handle to send this view messages (its `handle_info`) from server code. Sending
    /// to a view that has gone fails quietly.
    pub fn sender(&self) -> ViewSender<V::Info> {
        ViewSender(self.info.clone())
    }

    /// The engine the view runs on (none in a harness without one): its server API, say
    /// to reset a key (`socket.hub().map(|h| h.api())`).
    pub fn hub(&self) -> Option<&livestate_core::Hub> {
        self.links.as_ref().map(Links::hub)
    }

    /// Send this view `info` after `delay` (a timer; the view's `handle_info` gets it).
    /// Nothing is sent while rendering the first GET.
    pub fn send_after(&self, info: V::Info, delay: Duration) {
        if !self.connected {
            return;
        }
        let tx = self.info.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(info);
        });
    }
}

/// Sends a view messages (see [`Socket::sender`]).
pub struct ViewSender<I>(mpsc::UnboundedSender<I>);

impl<I> Clone for ViewSender<I> {
    fn clone(&self) -> Self {
        ViewSender(self.0.clone())
    }
}

impl<I> std::fmt::Debug for ViewSender<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewSender")
    }
}

impl<I: Send + 'static> ViewSender<I> {
    /// Send the view `info`; false when the view has gone.
    pub fn send(&self, info: I) -> bool {
        self.0.send(info).is_ok()
    }

    /// Whether the view has gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Render `live` into `Rendered` with the assigns `changed`.
pub(crate) fn render<'a, V: LiveView>(live: &'a Live<V>, changed: &'a Changed) -> Rendered<'a> {
    V::render(Assigns::new(live, changed))
}
