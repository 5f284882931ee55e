//! The server API on the authority: reads, edits, resets, and Rust subscribers.

use super::*;
use crate::api::ChangeKind;
use crate::doc::Doc;

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_api(&mut self, req: ApiRequest) -> Option<Exit> {
        let ApiRequest { caller, op, done } = req;
        let changes = matches!(op, ApiOp::Edit { .. } | ApiOp::Reset);
        if changes && self.follows() && self.unavailable.is_none() {
            // the ACL is the same on every node: refuse here what the leader would refuse
            if let Err(denied) = self.acl.check_all(caller, op.needs()) {
                let _ = done.send(Err(ApiError::Denied(denied)));
                return None;
            }
            self.forward_api(caller, op, done).await;
            return None;
        }
        let (result, exit) = self.api(caller, op).await;
        let refused = result.is_err();
        let _ = done.send(result);
        if refused && changes && exit.is_none() && self.untouched() {
            return Some(Exit::Expired);
        }
        exit
    }

    async fn api(
        &mut self,
        caller: Caller,
        op: ApiOp,
    ) -> (Result<ApiReply, ApiError>, Option<Exit>) {
        if let Some(reason) = &self.unavailable {
            return (Err(ApiError::Unavailable(reason.clone())), None);
        }
        if let Err(denied) = self.acl.check_all(caller, op.needs()) {
            return (Err(ApiError::Denied(denied)), None);
        }
        if let ApiOp::Get { path } = op {
            return (self.get(path.as_deref()), None);
        }
        if let Err(e) = self
            .ensure_state_with(&Value::Object(Default::default()))
            .await
        {
            return (Err(e), None);
        }
        match op {
            ApiOp::Get { .. } => (Err(ApiError::Refused("unreachable".into())), None),
            ApiOp::Attach { sub, changes } => {
                self.watchers.insert(
                    sub,
                    Watcher {
                        changes,
                        lagging: false,
                    },
                );
                (self.get(None), None)
            }
            ApiOp::Edit { run, .. } => {
                let Some(tracked) = self.state.as_mut() else {
                    return (Err(ApiError::UnknownKey(self.topic.to_string())), None);
                };
                if let Err(e) = tracked.edit(&mut |doc| run(doc)) {
                    tracked.rollback();
                    return (Err(ApiError::from(e)), None);
                }
                self.commit_and_deliver(false).await
            }
            ApiOp::Reset => match self.fresh_state().await {
                Ok(()) => self.commit_and_deliver(true).await,
                Err(e) => (Err(e), None),
            },
        }
    }

    /// A follower forwards what changes the state (an edit, computed on its replica and
    /// committed only if the key is still at that version; a reset) and answers reads and
    /// attachments itself.
    async fn forward_api(
        &mut self,
        caller: Caller,
        op: ApiOp,
        done: oneshot::Sender<Result<ApiReply, ApiError>>,
    ) {
        use crate::backplane::{ApiCall, RequestBody};
        let (call, edit) = match op {
            ApiOp::Edit {
                shipped: Some(call),
                ..
            } => (call, None),
            ApiOp::Edit { needs, run, .. } => {
                let Some(tracked) = self.state.as_ref() else {
                    let _ = done.send(Err(ApiError::UnknownKey(self.topic.to_string())));
                    return;
                };
                let mut doc = Doc::with_limits(tracked.json().into_owned(), self.state_limits);
                if let Err(e) = run(&mut doc) {
                    let _ = done.send(Err(ApiError::from(e)));
                    return;
                }
                let call = ApiCall::Patch {
                    ops: doc.take_patch(),
                    expect: Some(self.version),
                    deletes: needs.contains(Permission::Delete),
                };
                (call, Some((needs, run)))
            }
            ApiOp::Reset => (ApiCall::Reset, None),
            ApiOp::Get { .. } | ApiOp::Attach { .. } => {
                let _ = done.send(Err(ApiError::Refused("reads are answered locally".into())));
                return;
            }
        };
        let body = RequestBody::Api { caller, op: call };
        let waiter = cluster::Waiter::Api {
            done,
            edit,
            attempts: 0,
        };
        self.forward(body, waiter).await;
    }

    /// The state (or the value at `path`) and the version.
    fn get(&self, path: Option<&str>) -> Result<ApiReply, ApiError> {
        let Some(tracked) = self.state.as_ref() else {
            return Err(ApiError::UnknownKey(self.topic.to_string()));
        };
        let state = tracked.json();
        match path {
            None => Ok(ApiReply::Current(Current {
                state: state.into_owned(),
                version: self.wire_version(),
            })),
            Some(path) => crate::doc::lookup(&state, path)
                .cloned()
                .map(ApiReply::Value)
                .map_err(|e| ApiError::from(ChannelError::Op(e))),
        }
    }

    /// A key written to or subscribed before anyone joined gets its state from `init`
    /// (a follower waits for the leader's).
    pub(super) async fn ensure_state_with(&mut self, params: &Value) -> Result<(), ApiError> {
        if self.state.is_some() {
            return Ok(());
        }
        if self.follows() {
            return Err(ApiError::Unavailable(self.topic.to_string()));
        }
        let ctx = JoinContext {
            topic: self.topic.to_string(),
            ..JoinContext::default()
        };
        match self.init(params, &ctx).await {
            Ok(state) => {
                self.state = Some(state);
                self.init_error = None;
                self.commit_initial().await;
                self.send_state_to_waiting();
                Ok(())
            }
            Err(e) => {
                self.init_error = Some(e.clone());
                Err(ApiError::Refused(format!("init failed: {e}")))
            }
        }
    }

    /// Replace the state with what `init` gives now (a reset); the change waits to be
    /// committed.
    pub(super) async fn fresh_state(&mut self) -> Result<(), ApiError> {
        let ctx = JoinContext {
            topic: self.topic.to_string(),
            ..JoinContext::default()
        };
        let fresh = match self.init(&Value::Object(Default::default()), &ctx).await {
            Ok(fresh) => fresh.state,
            Err(e) => return Err(ApiError::Refused(format!("init failed: {e}"))),
        };
        if let Some(tracked) = self.state.as_mut() {
            if let Err(e) = tracked.replace(fresh) {
                tracked.rollback();
                return Err(ApiError::Limit(e.to_string()));
            }
        }
        Ok(())
    }

    async fn commit_and_deliver(
        &mut self,
        reset: bool,
    ) -> (Result<ApiReply, ApiError>, Option<Exit>) {
        match self.commit(None, None, reset).await {
            Ok(patch) => {
                let wire = self.deliver(&patch, reset);
                (Ok(ApiReply::Committed(wire)), None)
            }
            Err(e) => {
                let exit = e.lost_lease().then_some(Exit::LeaseLost);
                (Err(ApiError::Unavailable(e.to_string())), exit)
            }
        }
    }

    pub(super) fn detach(&mut self, sub: SubId) {
        if let Some(w) = self.watchers.swap_remove(&sub) {
            if w.lagging {
                self.lagging -= 1;
            }
        }
    }

    /// Tell every Rust subscriber what a commit changed.
    pub(super) fn notify_watchers(&mut self, patch: &[PatchOp], reset: bool) {
        let version = self.wire_version();
        let changes = match (reset, self.state.as_ref()) {
            (true, Some(tracked)) => vec![reset_change(tracked.json().into_owned(), version)],
            (false, Some(tracked)) => changes_of(patch, &tracked.json(), version),
            (_, None) => return,
        };
        let mut gone = Vec::new();
        for (id, w) in self.watchers.iter_mut().filter(|(_, w)| !w.lagging) {
            for change in &changes {
                match w.changes.try_send(change.clone()) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        w.lagging = true;
                        self.lagging += 1;
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        gone.push(*id);
                        break;
                    }
                }
            }
        }
        for id in gone {
            self.detach(id);
        }
    }

    /// A lagging Rust subscriber whose queue has drained to half gets the whole state as a
    /// `reset` change.
    pub(super) fn resync_watchers(&mut self) {
        let Some(tracked) = self.state.as_ref() else {
            return;
        };
        if !self.watchers.values().any(|w| w.lagging) {
            return;
        }
        let change = reset_change(tracked.json().into_owned(), self.wire_version());
        let mut gone = Vec::new();
        for (id, w) in self.watchers.iter_mut().filter(|(_, w)| w.lagging) {
            if w.changes.is_closed() {
                gone.push(*id);
            } else if w.changes.capacity() * 2 >= w.changes.max_capacity()
                && w.changes.try_send(change.clone()).is_ok()
            {
                w.lagging = false;
                self.lagging -= 1;
            }
        }
        for id in gone {
            self.detach(id);
        }
    }
}

fn reset_change(state: Value, version: u64) -> Change {
    Change {
        kind: ChangeKind::Reset,
        path: String::new(),
        value: Some(state),
        version,
    }
}

/// The changes a patch made, in PhoenixLiveState's terms: `add` is new, `replace` updated,
/// `remove` deleted (a `move` both), with the value now at the path.
fn changes_of(patch: &[PatchOp], state: &Value, version: u64) -> Vec<Change> {
    let at = |path: &str| state.pointer(path).cloned();
    let change = |kind, path: &str, value| Change {
        kind,
        path: path.to_owned(),
        value,
        version,
    };
    patch
        .iter()
        .flat_map(|op| match op {
            PatchOp::Add { path, value } => {
                vec![change(ChangeKind::New, path, Some(value.clone()))]
            }
            PatchOp::Replace { path, value } => {
                vec![change(ChangeKind::Updated, path, Some(value.clone()))]
            }
            PatchOp::Remove { path } => vec![change(ChangeKind::Deleted, path, None)],
            PatchOp::Move { from, path } => vec![
                change(ChangeKind::Deleted, from, None),
                change(ChangeKind::New, path, at(path)),
            ],
            PatchOp::Copy { path, .. } => vec![change(ChangeKind::New, path, at(path))],
            PatchOp::Test { .. } => vec![],
        })
        .collect()
}
