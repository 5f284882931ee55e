//! A view over the socket: the join of `lv:<id>` checked against the page's tokens, then
//! one task per joined view that answers the client's messages and pushes what server code
//! changed.
//!
//! | client sends | answer |
//! |---|---|
//! | `phx_join` with valid tokens | ok `{rendered, liveview_version}` |
//! | `phx_join` without a session token, for another id, a path no view serves | error `{reason: "unauthorized"}` (the client loads the page) |
//! | `phx_join` whose token is expired or tampered with | error `{reason: "stale"}` (the client loads the page) |
//! | `phx_join` of a view of another live session | error `{redirect: {to}}` (a page load) |
//! | `phx_join` an `on_mount` hook halts | error `{redirect: {to, flash}}` |
//! | `event` | ok `{}` or `{diff}` (with `r`, a hook's reply, and `e`, pushed events); error `{reason}` for a payload that does not decode, an unknown event, a view's error |
//! | `live_patch {url}` of this view | ok `{diff}` after `handle_params` |
//! | `live_patch {url}` of another view | ok `{link_redirect: true}` (the client joins it) |
//! | `cids_will_destroy`, `cids_destroyed` | ok `{cids: []}`: there are no components |
//! | anything else | error `{reason: "unknown event ..."}` |
//!
//! A callback that panics ends its view: the client gets `phx_error`, rejoins and the view
//! mounts afresh.

use super::path::{absolute, parse_url};
use super::runner::{Failure, Mount, Outcome, Runner};
use super::tokens::PageSession;
use super::view::{Flash, LiveView, Navigation, Params, Session};
use super::{LIVEVIEW_VERSION, Mounting, Views};
use livestate_core::metrics::ProcessMetrics;
use livestate_core::process::ProcessJoin;
use livestate_protocol::{Message, Status, frame};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

/// A join that passed the checks: the view to mount and what to mount it with.
pub(crate) struct Joining {
    join: ProcessJoin,
    views: Views,
    route: usize,
    params: Params,
    session: Session,
    uri: String,
    flash: Flash,
}

/// Check a join against the page's tokens and start its view, or refuse it.
pub(crate) async fn join(views: Views, join: ProcessJoin) {
    match admit(&views, &join) {
        Ok(admitted) => {
            let view = views.inner.routes[admitted.route].view.clone();
            let joining = Joining {
                join,
                views,
                route: admitted.route,
                params: admitted.params,
                session: admitted.session,
                uri: admitted.uri,
                flash: admitted.flash,
            };
            view.serve(joining).await;
        }
        Err(refusal) => {
            tracing::debug!(topic = %join.topic, "view join refused: {refusal}");
            let reply = frame::reply(
                Some(&join.join_ref),
                Some(&join.r#ref),
                &join.topic,
                Status::Error,
                &refusal,
            );
            let _ = join.outbox.push(reply).await;
            let _ = join.joined.send(false);
        }
    }
}

struct Admitted {
    route: usize,
    params: Params,
    session: Session,
    uri: String,
    flash: Flash,
}

fn admit(views: &Views, join: &ProcessJoin) -> Result<Admitted, Value> {
    let unauthorized = || json!({"reason": "unauthorized"});
    if join.socket.get(super::CSRF_VERIFIED) != Some(&Value::Bool(true)) {
        // a socket opened without the page's CSRF token: the client loads the page again
        return Err(json!({"reason": "stale"}));
    }
    let payload = &join.params;
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    let token = text("session").ok_or_else(unauthorized)?;
    let tokens = &views.inner.tokens;
    let page: PageSession = tokens
        .verify_session(token)
        .map_err(|_| json!({"reason": "stale"}))?;
    let id = join.topic.strip_prefix("lv:").unwrap_or_default();
    if page.id != id {
        return Err(unauthorized());
    }
    let first_flash = match text("static") {
        Some(static_token) => tokens
            .verify_static(static_token, id)
            .ok_or_else(unauthorized)?,
        None => Flash::default(),
    };
    // the flash a live navigation carried, else (the first join, a rejoin) the one the
    // first render showed; the page keeps its static token across navigation
    let flash = match (text("flash"), text("redirect")) {
        (Some(carried), _) => tokens.verify_flash(Some(carried)),
        (None, Some(_)) => Flash::default(),
        (None, None) => first_flash,
    };
    let url = text("url")
        .or_else(|| text("redirect"))
        .ok_or_else(unauthorized)?;
    let (path, query) = parse_url(url).ok_or_else(unauthorized)?;
    let (route, mut params) = views.route(&path).ok_or_else(unauthorized)?;
    let live_session = &views.inner.sessions[views.inner.routes[route].session];
    if live_session.name != page.live_session {
        return Err(json!({"redirect": {"to": url}}));
    }
    params.extend(query);
    let mut session = page.data;
    let mut mounting = Mounting {
        session: &mut session,
        params: &params,
        uri: url,
        connected: true,
    };
    if let Err(halt) = views.on_mount(views.inner.routes[route].session, &mut mounting) {
        return Err(json!({"redirect": {"to": halt.to, "flash": tokens.flash(&halt.flash)}}));
    }
    Ok(Admitted {
        route,
        params,
        session,
        uri: url.to_owned(),
        flash,
    })
}

/// Mount a view for a join, answer it, then serve the topic until the client leaves.
pub(crate) async fn serve<V: LiveView>(proto: V, joining: Joining) {
    let Joining {
        join,
        views,
        route,
        params,
        session,
        uri,
        flash,
    } = joining;
    // what only the join needed is let go now: a view lives long
    let ProcessJoin {
        topic,
        join_ref,
        r#ref,
        params: join_params,
        socket,
        outbox,
        inbox,
        joined,
        ended,
        metrics,
    } = join;
    drop((join_params, socket));
    let (info_tx, mut info) = mpsc::unbounded_channel();
    let mount = Mount {
        params: &params,
        session: &session,
        uri,
        flash,
        connected: true,
        hub: views.hub(),
        groups: Some(views.groups()),
    };
    let mounted = Box::pin(Runner::mount(&proto, mount, info_tx)).await;
    drop((params, session, proto));
    let mut wire = Wire {
        views,
        route,
        topic,
        join_ref,
        outbox,
        metrics: None,
    };
    let (mut runner, mut outcome) = match mounted {
        Ok(mounted) => mounted,
        Err(failure) => {
            let response = wire.failure_reply(failure);
            wire.reply(&r#ref, Status::Error, &response).await;
            let _ = joined.send(false);
            return;
        }
    };
    if let Some(navigation) = outcome.navigation.take() {
        let flash = wire.views.inner.tokens.flash(&runner.live.flash);
        let response = match navigation {
            Navigation::Redirect { to } => json!({"redirect": {"to": to, "flash": flash}}),
            Navigation::Patch { to, replace } | Navigation::Navigate { to, replace } => {
                json!({"live_redirect": {"to": to, "kind": kind(replace), "flash": flash}})
            }
        };
        wire.reply(&r#ref, Status::Error, &response).await;
        let _ = joined.send(false);
        return;
    }
    let rendered = match runner.diff(&mut outcome) {
        Ok(rendered) => rendered,
        Err(failure) => {
            let response = wire.failure_reply(failure);
            wire.reply(&r#ref, Status::Error, &response).await;
            let _ = joined.send(false);
            return;
        }
    };
    let response = json!({"rendered": rendered, "liveview_version": LIVEVIEW_VERSION});
    wire.reply(&r#ref, Status::Ok, &response).await;
    drop(response);
    let _ = joined.send(true);
    // `ended` lives as long as this task: when it ends, the socket forgets the topic
    let _ended = ended;
    let _joined = metrics.joined();
    wire.metrics = Some(metrics);
    let mut inbox = inbox;
    loop {
        // each source only yields here (its future is cancel-safe); the work is done after
        let next = tokio::select! {
            message = inbox.recv() => Next::Client(message),
            Some(message) = info.recv() => Next::Info(message),
            frame = runner.recv_shared() => Next::Shared(frame),
        };
        // the work is boxed: an idle view's task then holds only what it waits on
        let alive = match next {
            Next::Client(Some(message)) => Box::pin(wire.message(&mut runner, *message)).await,
            // the client left, joined again, or the socket closed
            Next::Client(None) => false,
            Next::Info(message) => {
                let done = Box::pin(runner.info(message)).await;
                Box::pin(wire.settle(&mut runner, None, done)).await
            }
            Next::Shared(frame) => {
                let done = Box::pin(runner.shared_frame(frame)).await;
                Box::pin(wire.settle(&mut runner, None, done)).await
            }
        };
        if !alive {
            return;
        }
    }
}

/// What the view's task handles next.
enum Next<I> {
    Client(Option<Box<Message>>),
    Info(I),
    Shared(Option<super::shared::Incoming>),
}

fn kind(replace: bool) -> &'static str {
    if replace { "replace" } else { "push" }
}

/// One joined view's side of the socket.
struct Wire {
    views: Views,
    route: usize,
    topic: String,
    join_ref: std::sync::Arc<str>,
    outbox: livestate_core::Outbox,
    /// The node's figures, once joined.
    metrics: Option<ProcessMetrics>,
}

impl Wire {
    async fn reply(&self, r#ref: &str, status: Status, response: &Value) {
        let reply = frame::reply(
            Some(&self.join_ref),
            Some(r#ref),
            &self.topic,
            status,
            response,
        );
        // waits for room: a client that does not read stops being read from
        let _ = self.outbox.push(reply).await;
    }

    async fn push(&self, event: &str, payload: &Value) {
        let frame = frame::push(Some(&self.join_ref), &self.topic, event, payload);
        let _ = self.outbox.push(frame).await;
    }

    /// What a failed mount or render answers: the view's reason, or `internal error`
    /// (logged) for a panic.
    fn failure_reply(&self, failure: Failure) -> Value {
        match failure {
            Failure::Error(e) => json!({"reason": e.0}),
            Failure::Panic(p) => {
                tracing::error!(topic = %self.topic, "a view panicked while mounting: {p}");
                json!({"reason": "internal error"})
            }
        }
    }

    /// Handle one client message; false when the view ended.
    async fn message<V: LiveView>(&mut self, runner: &mut Runner<V>, message: Message) -> bool {
        let Some(r#ref) = message.r#ref.as_deref() else {
            // every message of the client wants a reply; one without a ref gets none
            tracing::debug!(topic = %self.topic, "a view message without a ref: ignored");
            return true;
        };
        let r#ref = r#ref.to_owned();
        if let Some(metrics) = &self.metrics {
            metrics.message();
        }
        match message.event.as_str() {
            "event" => {
                let done = runner.client_event(&message.payload).await;
                self.settle(runner, Some(&r#ref), done).await
            }
            "live_patch" => {
                let url = message.payload.get("url").and_then(Value::as_str);
                match url.and_then(|url| Some((url, parse_url(url)?))) {
                    Some((url, (path, query))) => match self.views.route(&path) {
                        Some((route, mut params)) if route == self.route => {
                            params.extend(query);
                            let done = runner.params(&params, url.to_owned()).await;
                            self.settle(runner, Some(&r#ref), done).await
                        }
                        _ => {
                            self.reply(&r#ref, Status::Ok, &json!({"link_redirect": true}))
                                .await;
                            true
                        }
                    },
                    None => {
                        let reason = "live_patch needs a url this server can read";
                        self.reply(&r#ref, Status::Error, &json!({"reason": reason}))
                            .await;
                        true
                    }
                }
            }
            "cids_will_destroy" | "cids_destroyed" => {
                self.reply(&r#ref, Status::Ok, &json!({"cids": []})).await;
                true
            }
            other => {
                let reason = format!("unknown event {other:?}");
                self.reply(&r#ref, Status::Error, &json!({"reason": reason}))
                    .await;
                true
            }
        }
    }

    /// After a callback: answer the event (`reply_to`) or push the diff, and carry out the
    /// navigation it asked for. False when the view ended (it panicked).
    async fn settle<V: LiveView>(
        &mut self,
        runner: &mut Runner<V>,
        reply_to: Option<&str>,
        done: Result<Outcome, Failure>,
    ) -> bool {
        let mut outcome = match done {
            Ok(outcome) => outcome,
            Err(Failure::Error(e)) => {
                tracing::debug!(topic = %self.topic, "the view refused: {e}");
                match reply_to {
                    Some(r#ref) => {
                        self.reply(r#ref, Status::Error, &json!({"reason": e.0}))
                            .await
                    }
                    None => tracing::warn!(topic = %self.topic, "handle_info failed: {e}"),
                }
                return true;
            }
            Err(Failure::Panic(p)) => return self.crash(&p).await,
        };
        match outcome.navigation.take() {
            None => {}
            Some(Navigation::Patch { to, replace }) => {
                // within this view: its params callback, then the diff of both
                let parsed = parse_url(&to).and_then(|(path, query)| {
                    let (route, mut params) = self.views.route(&path)?;
                    params.extend(query);
                    (route == self.route).then_some(params)
                });
                let Some(params) = parsed else {
                    return self.navigate(runner, reply_to, to, replace).await;
                };
                self.push("live_patch", &json!({"to": to, "kind": kind(replace)}))
                    .await;
                let uri = absolute(&runner.live.uri, &to);
                match runner.params(&params, uri).await {
                    Ok(more) => {
                        outcome.events.extend(more.events);
                        if more.navigation.is_some() {
                            tracing::warn!(topic = %self.topic, "handle_params navigated during a patch: ignored");
                        }
                    }
                    Err(Failure::Panic(p)) => return self.crash(&p).await,
                    Err(Failure::Error(e)) => {
                        tracing::warn!(topic = %self.topic, "handle_params failed: {e}");
                    }
                }
            }
            Some(Navigation::Navigate { to, replace }) => {
                return self.navigate(runner, reply_to, to, replace).await;
            }
            Some(Navigation::Redirect { to }) => {
                let flash = self.views.inner.tokens.flash(&runner.live.flash);
                self.push("redirect", &json!({"to": to, "flash": flash}))
                    .await;
                return self.answer(reply_to, Map::new()).await;
            }
        }
        // a change of shared keys alone: one render for every view that shows the same
        let alone = reply_to.is_some() || !outcome.events.is_empty() || outcome.reply.is_some();
        if !alone {
            match runner.shared_diff() {
                None => {}
                Some(Ok(payload)) => {
                    if let Some(payload) = payload {
                        let frame = frame::push_encoded(
                            Some(&self.join_ref),
                            &self.topic,
                            "diff",
                            &payload,
                        );
                        let _ = self.outbox.push(frame).await;
                    }
                    return true;
                }
                Some(Err(Failure::Panic(p) | Failure::Error(super::ViewError(p)))) => {
                    return self.crash(&p).await;
                }
            }
        }
        let diff = match runner.diff(&mut outcome) {
            Ok(diff) => diff,
            Err(Failure::Panic(p) | Failure::Error(super::ViewError(p))) => {
                return self.crash(&p).await;
            }
        };
        self.answer(reply_to, diff).await
    }

    /// Answer a client message (`reply_to`) with the diff, or push it; true.
    async fn answer(&self, reply_to: Option<&str>, diff: Map<String, Value>) -> bool {
        match reply_to {
            Some(r#ref) if diff.is_empty() => self.reply(r#ref, Status::Ok, &json!({})).await,
            Some(r#ref) => self.reply(r#ref, Status::Ok, &json!({"diff": diff})).await,
            None if diff.is_empty() => {}
            None => self.push("diff", &Value::Object(diff)).await,
        }
        true
    }

    /// Live navigation: the client leaves this view for another of the live session (its
    /// join replaces this one), so nothing is rendered here.
    async fn navigate<V: LiveView>(
        &self,
        runner: &Runner<V>,
        reply_to: Option<&str>,
        to: String,
        replace: bool,
    ) -> bool {
        let flash = self.views.inner.tokens.flash(&runner.live.flash);
        let payload = json!({"to": to, "kind": kind(replace), "flash": flash});
        self.push("live_redirect", &payload).await;
        self.answer(reply_to, Map::new()).await
    }

    /// The view panicked: tell the client (it rejoins and mounts afresh) and end.
    async fn crash(&self, panic: &str) -> bool {
        tracing::error!(topic = %self.topic, "a view crashed: {panic}");
        if let Some(metrics) = &self.metrics {
            metrics.crashed();
        }
        let frame = frame::error(&self.join_ref, &self.topic, "the view crashed");
        let _ = self.outbox.push(frame).await;
        false
    }
}
