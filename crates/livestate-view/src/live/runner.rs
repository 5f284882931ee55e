//! [`Runner`]: one mounted view, its callbacks run with a fresh [`Socket`] each, panics
//! caught, what changed collected, and its renders encoded. The socket's task and the test
//! harness drive views through it.

use super::ViewError;
use super::group::{Groups, RenderGroup, RenderKey, SharedRender, shared_id};
use super::shared::{Incoming, Links, Shared, SharedChange};
use super::view::{self, Flash, Live, LiveView, Navigation, Params, Session, Socket};
use crate::form;
use crate::{Changed, Encoder, RenderError};
use futures_util::FutureExt;
use livestate_core::Hub;
use livestate_core::event::decode_event;
use serde_json::{Map, Value, json};
use std::any::TypeId;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What a view mounts with.
pub(crate) struct Mount<'a> {
    pub(crate) params: &'a Params,
    pub(crate) session: &'a Session,
    pub(crate) uri: String,
    pub(crate) flash: Flash,
    pub(crate) connected: bool,
    /// The engine, for shared keys (none in a harness without one).
    pub(crate) hub: Option<Hub>,
    /// What the views of the app share (none: this view shares nothing).
    pub(crate) groups: Option<Arc<Groups>>,
}

/// Why a callback did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// It returned an error: the view stays, the sender is told.
    Error(ViewError),
    /// It panicked: the view ends.
    Panic(String),
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Failure {
        Failure::Panic(e.to_string())
    }
}

/// What a callback asked for besides changing the view.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// `push_event`s: `[name, payload]` each.
    pub(crate) events: Vec<Value>,
    /// A hook's reply.
    pub(crate) reply: Option<Value>,
    pub(crate) navigation: Option<Navigation>,
}

/// Run one callback of a runner's view with a fresh socket (inline, so the callback's
/// future may borrow both), catch its panic, and take back what it changed.
macro_rules! call {
    ($runner:expr, $kind:expr, |$view:ident, $socket:ident| $body:expr) => {{
        let runner = &mut *$runner;
        let mut socket = runner.socket($kind);
        let result = {
            let $view = &mut runner.live.view;
            let $socket = &mut socket;
            AssertUnwindSafe($body).catch_unwind().await
        };
        runner.take(socket, result)
    }};
}

/// A mounted view.
pub(crate) struct Runner<V: LiveView> {
    pub(crate) live: Live<V>,
    encoder: Encoder,
    /// What changed since the last render.
    changed: Changed,
    info: mpsc::UnboundedSender<V::Info>,
    /// The view's socket to shared keys, when it has an engine.
    links: Option<Links>,
    /// Changes of attached keys not yet given to `handle_shared`.
    shared_changes: VecDeque<SharedChange>,
    /// Where shared renders are found.
    groups: Option<Arc<Groups>>,
}

impl<V: LiveView> Runner<V> {
    /// Mount a clone of `proto`, then run `handle_params` (and `handle_shared` for the
    /// keys it attached to).
    pub(crate) async fn mount(
        proto: &V,
        mount: Mount<'_>,
        info: mpsc::UnboundedSender<V::Info>,
    ) -> Result<(Runner<V>, Outcome), Failure> {
        let Mount {
            params,
            session,
            uri,
            flash,
            connected,
            hub,
            groups,
        } = mount;
        let links_groups = groups
            .clone()
            .unwrap_or_else(|| Arc::new(Groups::new(false)));
        let mut runner = Runner {
            live: Live {
                view: proto.clone(),
                flash,
                connected,
                uri: uri.clone(),
                shared: Shared::default(),
            },
            encoder: Encoder::new(),
            changed: Changed::all(),
            info,
            links: hub.map(|hub| Links::new(hub, session.clone(), links_groups)),
            shared_changes: VecDeque::new(),
            groups: groups.filter(|g| g.renders_on),
        };
        let mut outcome = call!(&mut runner, None, |view, socket| view
            .mount(params, session, socket))?;
        // a mount that navigates away needs no params
        if outcome.navigation.is_none() {
            let more = call!(&mut runner, None, |view, socket| view
                .handle_params(params, &uri, socket))?;
            outcome.merge(more);
        }
        let outcome = runner.then_shared(Ok(outcome)).await?;
        Ok((runner, outcome))
    }

    /// The next frame of the view's socket to shared keys, or `None` when it is time to
    /// join lost keys again; pending while there is neither. Cancel-safe.
    pub(crate) async fn recv_shared(&mut self) -> Option<Incoming> {
        match self.links.as_mut() {
            Some(links) => links.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Apply a frame of the view's socket to shared keys (or join lost keys again), and
    /// run `handle_shared` for what changed.
    pub(crate) async fn shared_frame(
        &mut self,
        frame: Option<Incoming>,
    ) -> Result<Outcome, Failure> {
        if let Some(links) = self.links.as_mut() {
            let mut changes = Vec::new();
            let was_stale = self.live.shared.stale();
            match frame {
                Some(incoming) => {
                    links
                        .apply(incoming, &mut self.live.shared, &mut changes)
                        .await
                }
                None => links.tick().await,
            }
            // a key lost or found again changes what `@shared.stale()` shows
            if self.live.shared.stale() != was_stale {
                self.changed.insert("shared");
            }
            self.shared_changed(changes);
        }
        self.dispatch_shared().await
    }

    fn shared_changed(&mut self, changes: Vec<SharedChange>) {
        if !changes.is_empty() {
            self.changed.insert("shared");
            self.shared_changes.extend(changes);
        }
    }

    /// Give `handle_shared` the changes of attached keys not yet given.
    async fn dispatch_shared(&mut self) -> Result<Outcome, Failure> {
        let mut outcome = Outcome::default();
        while let Some(change) = self.shared_changes.pop_front() {
            let more = call!(self, None, |view, socket| view
                .handle_shared(&change, socket))?;
            outcome.merge(more);
        }
        Ok(outcome)
    }

    /// A client's `event` push (`{type, event, value, meta}`): decoded, then handled.
    /// What does not decode is a [`Failure::Error`] naming why.
    /// A refusal the view shows on the page (its `handle_refusal`) becomes a plain outcome.
    pub(crate) async fn client_event(&mut self, payload: &Value) -> Result<Outcome, Failure> {
        let done = self.handle_client_event(payload).await;
        self.then_shared(done).await
    }

    async fn handle_client_event(&mut self, payload: &Value) -> Result<Outcome, Failure> {
        let done = match self.decode(payload) {
            Ok(Some((kind, event))) => {
                let kind = (!kind.is_empty()).then_some(kind.as_str());
                call!(self, kind, |view, socket| view.handle_event(event, socket))
            }
            Ok(None) => Ok(Outcome::default()),
            Err(reason) => Err(Failure::Error(ViewError(reason))),
        };
        let Err(Failure::Error(refusal)) = done else {
            return done;
        };
        let mut socket = self.socket(None);
        let view = &mut self.live.view;
        let shown = std::panic::catch_unwind(AssertUnwindSafe(|| {
            view.handle_refusal(&refusal.0, &mut socket)
        }));
        match shown {
            Ok(true) => self.take(socket, Ok(Ok(()))),
            Ok(false) => {
                self.take(socket, Ok(Ok(())))?;
                Err(Failure::Error(refusal))
            }
            Err(panic) => self.take(socket, Err(panic)),
        }
    }

    /// Decode an `event` push (`{type, event, value, meta}`): `Ok(None)` for
    /// `lv:clear-flash` (done here), else the event's kind and the view's event; `Err`
    /// names what does not fit.
    fn decode(&mut self, payload: &Value) -> Result<Option<(String, V::Event)>, String> {
        let payload = payload
            .as_object()
            .ok_or("an event's payload must be an object")?;
        let name = payload
            .get("event")
            .and_then(Value::as_str)
            .ok_or("an event's payload needs its name in \"event\"")?;
        // `liveSocket.execJS` sends `type: null`: a kind of none, as Phoenix takes it
        let kind = match payload.get("type") {
            None | Some(Value::Null) => "",
            Some(Value::String(kind)) => kind,
            Some(_) => return Err("an event's kind (\"type\") must be a string".to_owned()),
        };
        if payload.get("cid").is_some_and(|cid| !cid.is_null()) {
            return Err("live components are not supported".to_owned());
        }
        let value = payload.get("value").cloned().unwrap_or(Value::Null);
        if name == "lv:clear-flash" {
            self.clear_flash(value.get("key").and_then(Value::as_str));
            return Ok(None);
        }
        let value = if kind == "form" {
            let encoded = value
                .as_str()
                .ok_or("a form event's value must be the URL-encoded form")?;
            let mut fields = form::decode(encoded).map_err(|e| e.to_string())?;
            let target = payload
                .get("meta")
                .and_then(|meta| meta.get("_target"))
                .and_then(Value::as_str);
            if let Some(target) = target {
                fields.insert("_target".into(), json!(form::key_path(target)));
            }
            Value::Object(fields)
        } else if value.is_null() {
            Value::Object(Map::new())
        } else {
            value
        };
        let event = decode_event::<V::Event>(name, &value).map_err(|e| e.to_string())?;
        Ok(Some((kind.to_owned(), event)))
    }

    /// The URL changed (a live patch).
    pub(crate) async fn params(
        &mut self,
        params: &Params,
        uri: String,
    ) -> Result<Outcome, Failure> {
        if uri != self.live.uri {
            self.live.uri.clone_from(&uri);
            self.changed.insert("uri");
        }
        let done = call!(self, None, |view, socket| view
            .handle_params(params, &uri, socket));
        self.then_shared(done).await
    }

    /// A message from server code.
    pub(crate) async fn info(&mut self, info: V::Info) -> Result<Outcome, Failure> {
        let done = call!(self, None, |view, socket| view.handle_info(info, socket));
        self.then_shared(done).await
    }

    /// After a callback: `handle_shared` for the changes of attached keys it caused.
    async fn then_shared(&mut self, done: Result<Outcome, Failure>) -> Result<Outcome, Failure> {
        let mut outcome = done?;
        outcome.merge(self.dispatch_shared().await?);
        Ok(outcome)
    }

    /// `lv:clear-flash`: clear one kind, or every one.
    pub(crate) fn clear_flash(&mut self, kind: Option<&str>) {
        self.live.flash.clear(kind);
        self.changed.insert("flash");
    }

    /// A socket for one callback; the view's flash, its shared keys and its socket to
    /// them move into it.
    fn socket(&mut self, kind: Option<&str>) -> Socket<V> {
        let flash = std::mem::take(&mut self.live.flash);
        let mut socket = Socket::new(self.live.connected, flash, self.info.clone());
        socket.kind = kind.map(str::to_owned);
        socket.links = self.links.take();
        socket.shared = std::mem::take(&mut self.live.shared);
        socket
    }

    /// Take back what a callback changed and asked for.
    fn take(
        &mut self,
        socket: Socket<V>,
        result: std::thread::Result<Result<(), ViewError>>,
    ) -> Result<Outcome, Failure> {
        self.live.flash = socket.flash;
        if socket.flash_changed {
            self.changed.insert("flash");
        }
        self.links = socket.links;
        self.live.shared = socket.shared;
        self.shared_changed(socket.shared_changes);
        match socket.changed {
            Some(names) => self.changed.merge(&names),
            None => self.changed.merge(&Changed::all()),
        }
        if let Some(title) = socket.title {
            self.encoder.set_title(title);
        }
        match result {
            Ok(Ok(())) => Ok(Outcome {
                events: socket.events,
                reply: socket.reply,
                navigation: socket.navigation,
            }),
            Ok(Err(e)) => Err(Failure::Error(e)),
            Err(panic) => Err(Failure::Panic(crate::panic_message(panic.as_ref()))),
        }
    }

    /// The diff of what changed since the last render (the whole render the first time),
    /// with the outcome's events and reply; the temporary assigns are cleared after.
    pub(crate) fn diff(&mut self, outcome: &mut Outcome) -> Result<Map<String, Value>, Failure> {
        let rendered = view::render(&self.live, &self.changed);
        let mut diff = self.encoder.diff(rendered)?;
        self.changed = Changed::none();
        self.live.view.clear_temporary();
        if !outcome.events.is_empty() {
            diff.insert(
                "e".into(),
                Value::Array(std::mem::take(&mut outcome.events)),
            );
        }
        if let Some(reply) = outcome.reply.take() {
            diff.insert("r".into(), reply);
        }
        Ok(diff)
    }

    /// The diff of a change of attached keys, shared with the views that render the same
    /// (see `group`): `None` when this view must render alone (what changed, or what its
    /// changed slots read, is its own; its client holds something else; it sets a title),
    /// else the encoded diff (`None` inside: nothing to send). The temporary assigns are
    /// cleared after, as by [`Runner::diff`].
    pub(crate) fn shared_diff(&mut self) -> Option<Result<Option<Arc<str>>, Failure>> {
        let groups = self.groups.clone()?;
        let mut group = RenderGroup::new();
        let view = &self.live.view;
        std::panic::catch_unwind(AssertUnwindSafe(|| view.render_group(&mut group))).ok()?;
        if !self.changed.within(group.names()) {
            return None;
        }
        let live = &self.live;
        let changed = &self.changed;
        let rendered = match std::panic::catch_unwind(AssertUnwindSafe(|| {
            view::render(live, changed)
        })) {
            Ok(rendered) => rendered,
            Err(panic) => return Some(Err(Failure::Panic(crate::panic_message(panic.as_ref())))),
        };
        let statics = rendered.statics();
        // a template that reads no assign computes every slot: nothing to tell apart
        if statics.deps.iter().all(|deps| deps.is_empty()) {
            return None;
        }
        let dirty: Vec<usize> = (0..statics.deps.len())
            .filter(|&i| changed.any(statics.deps[i]))
            .collect();
        let own = dirty
            .iter()
            .flat_map(|&i| statics.deps[i])
            .any(|name| *name != "connected" && !group.names().contains(name));
        if own {
            return None;
        }
        let held = self.encoder.held_hash(statics.fingerprint, &dirty)?;
        let (shared, pins) = shared_id(live.shared.identity());
        let key = RenderKey {
            view: TypeId::of::<V>(),
            held,
            inputs: group.finish(),
            shared,
        };
        let encoder = &mut self.encoder;
        let done = groups.render(key, pins, || {
            let diff = encoder.diff(rendered)?;
            let payload = (!diff.is_empty()).then(|| Arc::from(Value::Object(diff).to_string()));
            Ok::<_, crate::RenderError>(SharedRender {
                payload,
                slots: encoder.share(&dirty),
            })
        });
        let done = match done {
            Ok((render, computed)) => {
                if !computed {
                    self.encoder.adopt(&render.slots);
                }
                Ok(render.payload.clone())
            }
            Err(e) => Err(Failure::from(e)),
        };
        self.changed = Changed::none();
        self.live.view.clear_temporary();
        Some(done)
    }

    /// The whole page as HTML (the first GET's render, the test harness's view of it).
    pub(crate) fn html(&self) -> Result<String, Failure> {
        let all = Changed::all();
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            view::render(&self.live, &all).to_html()
        }))
        .map_err(|panic| Failure::Panic(crate::panic_message(panic.as_ref())))
    }

    /// The title the view set last.
    pub(crate) fn title(&self) -> Option<&str> {
        self.encoder.title()
    }
}

impl Outcome {
    fn merge(&mut self, more: Outcome) {
        self.events.extend(more.events);
        if more.reply.is_some() {
            self.reply = more.reply;
        }
        if more.navigation.is_some() {
            self.navigation = more.navigation;
        }
    }
}
