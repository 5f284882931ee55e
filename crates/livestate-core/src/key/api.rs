//! The server API on the authority: reads and attachments are answered here, on every
//! node; edits, resets and messages are changes like any other and go through the
//! pipeline (a follower forwards them).

use super::job::{Asker, Edit, From, Job, Work};
use super::{Exit, KeyAuthority};
use crate::acl::Caller;
use crate::calls::{ApiError, Current};
use crate::channel::{Channel, Scope};
use crate::mailbox::{ApiOp, ApiReply, ApiRequest, MessageRequest};
use crate::subscriber::Subscriber;
use serde_json::Value;

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_api(&mut self, req: ApiRequest) -> Option<Exit> {
        let ApiRequest { caller, op, done } = req;
        if let Some(reason) = &self.unavailable {
            let _ = done.send(Err(ApiError::Unavailable(reason.clone())));
            return None;
        }
        if let Err(denied) = self.config.settings.acl.check_all(caller, op.needs()) {
            let _ = done.send(Err(ApiError::Denied(denied)));
            return self.untouched().then_some(Exit::Expired);
        }
        let work = match op {
            ApiOp::Get { path } => {
                let _ = done.send(self.get(path.as_deref()));
                return None;
            }
            ApiOp::Attach { sub, sink } => {
                let empty = Value::Object(Default::default());
                if let Err(e) = self.ensure_state(&empty).await {
                    let _ = done.send(Err(e));
                    return self.untouched().then_some(Exit::Expired);
                }
                // what waits goes out first: the state it gets includes it
                self.flush();
                self.subs
                    .insert(sub, Subscriber::new(sink, None, None).with_state());
                let _ = done.send(self.get(None));
                return None;
            }
            ApiOp::Edit(edit) => Work::Edit(match edit.shipped {
                // a follower ships the call; the leader runs the same on its own state
                Some(call) if self.role.follows() => Edit::Call(call),
                _ => Edit::Run {
                    run: edit.run,
                    needs: edit.needs,
                },
            }),
            ApiOp::Reset => Work::Reset,
        };
        let job = Job {
            work,
            caller,
            from: From::Here(Asker::Api(done)),
        };
        // a refused call on a key that had nothing leaves nothing behind
        self.submit(job)
            .await
            .or_else(|| self.untouched().then_some(Exit::Expired))
    }

    /// A message from Rust code: `handle_message` on the key's state (after `init`, with
    /// empty params, if it has none yet).
    pub(super) async fn on_message(&mut self, req: MessageRequest) -> Option<Exit> {
        let MessageRequest { message, done } = req;
        if let Some(reason) = &self.unavailable {
            let _ = done.send(Err(ApiError::Unavailable(reason.clone())));
            return None;
        }
        if self.config.scope == Scope::Connection
            && (!self.state.has_state() || self.subs.is_empty())
        {
            // a connection's state comes from its own join params, never from a message;
            // one that left is going away
            let reason = format!("{}: no joined connection here", self.topic);
            let _ = done.send(Err(ApiError::Refused(reason)));
            return None;
        }
        let job = Job {
            work: Work::Message(message),
            caller: Caller::Group,
            from: From::Here(Asker::Message(done)),
        };
        self.submit(job)
            .await
            .or_else(|| self.untouched().then_some(Exit::Expired))
    }

    /// The state (or the value at `path`) and the version.
    fn get(&self, path: Option<&str>) -> Result<ApiReply, ApiError> {
        let Some(tracked) = self.state.tracked.as_ref() else {
            return Err(ApiError::UnknownKey(self.topic.to_string()));
        };
        let state = tracked.json();
        match path {
            None => Ok(ApiReply::Current(Current {
                state: state.into_owned(),
                version: self.state.wire_version(),
            })),
            Some(path) => livestate_doc::doc::lookup(&state, path)
                .cloned()
                .map(ApiReply::Value)
                .map_err(|e| ApiError::from(crate::channel::ChannelError::Op(e))),
        }
    }
}
