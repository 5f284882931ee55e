//! The server API: read and change shared keys from Rust code that is not a WebSocket
//! client (a controller, a background job), as PhoenixLiveState's direct API.
//!
//! [`StateApi`] is a cheap clonable handle ([`Hub::api`]). Its calls are *public* callers
//! for the ACL (default: read only); a [`Subscription`] attaches to a key, and calls made
//! through it are the key's *group* (default: everything). Every change made here reaches
//! the key's WebSocket clients as a patch, and its subscribers as [`Change`]s.
//!
//! Reads never create a key (a key nobody started is [`ApiError::UnknownKey`]); writes and
//! subscriptions start it, running the channel's `init` with empty params.
//!
//! ```
//! use livestate_core::{DocChannel, Hub};
//! use livestate_core::acl::{Acl, Permissions};
//! use livestate_core::api::ChangeKind;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), livestate_core::api::ApiError> {
//! let open = DocChannel::default().acl(Acl { group: Permissions::ALL, public: Permissions::ALL });
//! let hub = Hub::builder().channel("doc:*", open).build();
//! let api = hub.api();
//!
//! let mut sub = api.subscribe("doc:board").await?;
//! api.put("doc:board", "/title", json!("Sprint 12")).await?;
//! let change = sub.next().await.unwrap();
//! assert_eq!((change.kind, change.path.as_str()), (ChangeKind::New, "/title"));
//! assert_eq!(api.get_path("doc:board", "/title").await?, json!("Sprint 12"));
//! assert_eq!(api.get_path("doc:board", "/nope").await.unwrap_err().code(), "property_not_found");
//! # Ok(()) }
//! ```

pub use crate::calls::{ApiError, Change, ChangeKind, Current, Delivered};

use crate::acl::{Caller, Permission, Permissions, patch_permissions};
use crate::channel::{ChannelError, Scope};
use crate::hub::Hub;
use crate::mailbox::{ApiOp, ApiReply, ApiRequest, Command, Edit, KeyHandle};
use crate::routes::ErasedChannel;
use crate::subscriber::{SubId, WatchSink};
use crate::wire::ApiCall;
use livestate_doc::Doc;
use livestate_protocol::PatchOp;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The server API. Calls are public callers; see the module docs.
#[derive(Clone)]
pub struct StateApi {
    hub: Hub,
}

impl Hub {
    /// The server API of this hub.
    pub fn api(&self) -> StateApi {
        StateApi { hub: self.clone() }
    }
}

impl StateApi {
    /// The whole state of `key` and its version.
    pub async fn get(&self, key: &str) -> Result<Current, ApiError> {
        if let Some(current) = stored(&self.hub, key, Caller::Public).await? {
            return Ok(current);
        }
        match call(&self.hub, key, Caller::Public, false, || ApiOp::Get {
            path: None,
        })
        .await?
        {
            ApiReply::Current(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// The value at `path` (a JSON Pointer) in `key`'s state; [`ApiError::PropertyNotFound`]
    /// when there is none.
    pub async fn get_path(&self, key: &str, path: &str) -> Result<Value, ApiError> {
        if let Some(current) = stored(&self.hub, key, Caller::Public).await? {
            return livestate_doc::doc::lookup(&current.state, path)
                .cloned()
                .map_err(|e| ApiError::from(ChannelError::Op(e)));
        }
        let path = path.to_owned();
        match call(&self.hub, key, Caller::Public, false, || ApiOp::Get {
            path: Some(path.clone()),
        })
        .await?
        {
            ApiReply::Value(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    /// Set the value at `path` (add or replace; see [`Doc::set`]). Needs `write`.
    pub async fn put(&self, key: &str, path: &str, value: Value) -> Result<u64, ApiError> {
        edit_as(&self.hub, key, Caller::Public, put_edit(path, value)).await
    }

    /// Remove the value at `path`. Needs `delete`.
    pub async fn delete(&self, key: &str, path: &str) -> Result<u64, ApiError> {
        edit_as(&self.hub, key, Caller::Public, delete_edit(path)).await
    }

    /// Apply an RFC 6902 patch atomically. Needs `write` (and `delete` if it removes).
    pub async fn patch(&self, key: &str, ops: Vec<PatchOp>) -> Result<u64, ApiError> {
        edit_as(&self.hub, key, Caller::Public, patch_edit(ops)).await
    }

    /// Change the state with a closure over a [`Doc`] (run on the key's authority; it may
    /// run again if the authority it first reached was stopping). Needs `write`.
    ///
    /// In a cluster, on a node that is not the key's authority, the closure runs on this
    /// node's copy and its patch is taken only if the key has not changed meanwhile (else
    /// it runs again on the newer copy, until the forward timeout). Under many writes from
    /// elsewhere, prefer [`StateApi::put`], [`StateApi::patch`] or [`Hub::send`], which run
    /// on the authority's own state.
    pub async fn update<F>(&self, key: &str, f: F) -> Result<u64, ApiError>
    where
        F: Fn(&mut Doc) -> Result<(), ChannelError> + Send + Sync + 'static,
    {
        edit_as(&self.hub, key, Caller::Public, update_edit(f)).await
    }

    /// Hand `message` to the channel's `handle_message` (needs `write`): on a shared key,
    /// its one state (as [`Hub::send`]); on a connection-scoped topic, every joined
    /// connection on every node (as [`Hub::broadcast`]).
    pub async fn message(&self, topic: &str, message: Value) -> Result<Delivered, ApiError> {
        let channel = self
            .hub
            .route(topic)
            .ok_or_else(|| ApiError::NoRoute(topic.to_owned()))?;
        channel.acl().check(Caller::Public, Permission::Write)?;
        if channel.scope() == Scope::Shared {
            let version = self.hub.send(topic, message).await?;
            return Ok(Delivered {
                version: Some(version),
                reached: 1,
            });
        }
        let reached = self.hub.broadcast(topic, message).await?;
        Ok(Delivered {
            version: None,
            reached,
        })
    }

    /// Go back to the initial state: re-run the channel's `init` (with empty params).
    /// Needs `reset`.
    pub async fn reset(&self, key: &str) -> Result<u64, ApiError> {
        committed(call(&self.hub, key, Caller::Public, true, || ApiOp::Reset).await?)
    }

    /// Attach to `key` (starting it if needed): the subscription holds the current state and
    /// yields every change after it; calls through it are the key's group. The key lives
    /// while it is attached.
    pub async fn subscribe(&self, key: &str) -> Result<Subscription, ApiError> {
        attach(&self.hub, key, Caller::Group, true).await
    }

    /// Watch a live key as `caller` (which needs `read`): like [`StateApi::subscribe`], but
    /// a key nobody started is [`ApiError::UnknownKey`]. HTTP's event stream uses it.
    pub async fn watch(&self, key: &str, caller: Caller) -> Result<Subscription, ApiError> {
        attach(&self.hub, key, caller, false).await
    }
}

async fn attach(
    hub: &Hub,
    key: &str,
    caller: Caller,
    create: bool,
) -> Result<Subscription, ApiError> {
    route(hub, key)?;
    // in a cluster a key may live on other nodes only: follow it here too
    let create = create || stored(hub, key, caller).await?.is_some();
    let sub = hub.node().next_id();
    let (tx, changes) = mpsc::channel(hub.limits().outbox_capacity);
    let (reply, handle) = request(hub, key, caller, create, || ApiOp::Attach {
        sub,
        sink: Box::new(WatchSink::new(tx.clone())),
    })
    .await?;
    let current = match reply {
        ApiReply::Current(c) => c,
        other => return Err(unexpected(other)),
    };
    Ok(Subscription {
        hub: hub.clone(),
        key: key.to_owned(),
        sub,
        handle,
        current,
        changes,
    })
}

/// A Rust caller attached to a key: the key's group. Dropping it detaches.
pub struct Subscription {
    hub: Hub,
    key: String,
    sub: SubId,
    handle: KeyHandle,
    current: Current,
    changes: mpsc::Receiver<Change>,
}

impl Subscription {
    /// The key's state when the subscription attached.
    pub fn current(&self) -> &Current {
        &self.current
    }

    /// The next change; `None` once the key is gone (its authority stopped).
    pub async fn next(&mut self) -> Option<Change> {
        self.changes.recv().await
    }

    /// The key's whole state now (as its group).
    pub async fn get(&self) -> Result<Current, ApiError> {
        match call(&self.hub, &self.key, Caller::Group, false, || ApiOp::Get {
            path: None,
        })
        .await?
        {
            ApiReply::Current(c) => Ok(c),
            other => Err(unexpected(other)),
        }
    }

    /// [`StateApi::put`], as the key's group.
    pub async fn put(&self, path: &str, value: Value) -> Result<u64, ApiError> {
        edit_as(&self.hub, &self.key, Caller::Group, put_edit(path, value)).await
    }

    /// [`StateApi::delete`], as the key's group.
    pub async fn delete(&self, path: &str) -> Result<u64, ApiError> {
        edit_as(&self.hub, &self.key, Caller::Group, delete_edit(path)).await
    }

    /// [`StateApi::patch`], as the key's group.
    pub async fn patch(&self, ops: Vec<PatchOp>) -> Result<u64, ApiError> {
        edit_as(&self.hub, &self.key, Caller::Group, patch_edit(ops)).await
    }

    /// [`StateApi::update`], as the key's group.
    pub async fn update<F>(&self, f: F) -> Result<u64, ApiError>
    where
        F: Fn(&mut Doc) -> Result<(), ChannelError> + Send + Sync + 'static,
    {
        edit_as(&self.hub, &self.key, Caller::Group, update_edit(f)).await
    }

    /// [`StateApi::reset`], as the key's group.
    pub async fn reset(&self) -> Result<u64, ApiError> {
        committed(call(&self.hub, &self.key, Caller::Group, true, || ApiOp::Reset).await?)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let sub = self.sub;
        // Detach from a task when there is a runtime; without one the authority notices the
        // closed channel on its next delivery.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = handle.send(Command::Detach { sub }).await;
            });
        }
    }
}

fn put_edit(path: &str, value: Value) -> Edit {
    let path = path.to_owned();
    Edit {
        needs: Permissions::NONE.with(Permission::Write),
        run: {
            let path = path.clone();
            let value = value.clone();
            Arc::new(move |doc| doc.set(&path, value.clone()).map_err(ChannelError::from))
        },
        shipped: Some(ApiCall::Set { path, value }),
    }
}

fn delete_edit(path: &str) -> Edit {
    let path = path.to_owned();
    Edit {
        needs: Permissions::NONE.with(Permission::Delete),
        run: {
            let path = path.clone();
            Arc::new(move |doc| doc.remove(&path).map(drop).map_err(ChannelError::from))
        },
        shipped: Some(ApiCall::Remove { path }),
    }
}

fn patch_edit(ops: Vec<PatchOp>) -> Edit {
    let needs = patch_permissions(&ops);
    Edit {
        needs,
        shipped: Some(ApiCall::Patch {
            ops: ops.clone(),
            expect: None,
            deletes: needs.contains(Permission::Delete),
        }),
        run: Arc::new(move |doc| doc.apply(&ops).map_err(ChannelError::from)),
    }
}

fn update_edit<F>(f: F) -> Edit
where
    F: Fn(&mut Doc) -> Result<(), ChannelError> + Send + Sync + 'static,
{
    Edit {
        needs: Permissions::NONE.with(Permission::Write),
        run: Arc::new(f),
        shipped: None,
    }
}

async fn edit_as(hub: &Hub, key: &str, caller: Caller, edit: Edit) -> Result<u64, ApiError> {
    let Edit {
        needs,
        run,
        shipped,
    } = edit;
    committed(
        call(hub, key, caller, true, || {
            ApiOp::Edit(Edit {
                needs,
                run: run.clone(),
                shipped: shipped.clone(),
            })
        })
        .await?,
    )
}

fn committed(reply: ApiReply) -> Result<u64, ApiError> {
    match reply {
        ApiReply::Committed(version) => Ok(version),
        other => Err(unexpected(other)),
    }
}

fn unexpected(reply: ApiReply) -> ApiError {
    ApiError::Refused(format!(
        "unexpected reply from the key's authority: {reply:?}"
    ))
}

/// In a cluster, a key that is not live on this node is read from the backplane (`None`
/// when it is live here, or this is no cluster).
async fn stored(hub: &Hub, key: &str, caller: Caller) -> Result<Option<Current>, ApiError> {
    let Some(backplane) = &hub.node().cluster else {
        return Ok(None);
    };
    if hub.node().live_key(key).is_some() {
        return Ok(None);
    }
    let channel = route(hub, key)?;
    channel.acl().check(caller, Permission::Read)?;
    match backplane.load(key).await {
        Ok(Some(snapshot)) => {
            let version = match channel.max_version().checked_add(1) {
                Some(modulus) => snapshot.version % modulus,
                None => snapshot.version,
            };
            Ok(Some(Current {
                state: snapshot.state,
                version,
            }))
        }
        Ok(None) => Err(ApiError::UnknownKey(key.to_owned())),
        Err(e) => Err(ApiError::Unavailable(e.to_string())),
    }
}

/// A read of a key that is not live: a caller who may not read the channel's keys learns
/// only that (not whether the key exists).
fn not_live(channel: &dyn ErasedChannel, key: &str, caller: Caller) -> ApiError {
    match channel.acl().check(caller, Permission::Read) {
        Err(denied) => ApiError::Denied(denied),
        Ok(()) => ApiError::UnknownKey(key.to_owned()),
    }
}

/// The channel serving the shared key `key`.
fn route(hub: &Hub, key: &str) -> Result<Arc<dyn ErasedChannel>, ApiError> {
    let channel = hub
        .route(key)
        .ok_or_else(|| ApiError::NoRoute(key.to_owned()))?;
    if channel.scope() != Scope::Shared {
        return Err(ApiError::NotShared(key.to_owned()));
    }
    Ok(channel)
}

/// Send an API request to `key`'s authority: `create` starts the key if it is not live
/// (else [`ApiError::UnknownKey`]); retries while the authority it reaches is stopping.
async fn call(
    hub: &Hub,
    key: &str,
    caller: Caller,
    create: bool,
    op: impl Fn() -> ApiOp,
) -> Result<ApiReply, ApiError> {
    request(hub, key, caller, create, op)
        .await
        .map(|(reply, _)| reply)
}

/// [`call`], also giving the handle of the authority that answered.
async fn request(
    hub: &Hub,
    key: &str,
    caller: Caller,
    create: bool,
    op: impl Fn() -> ApiOp,
) -> Result<(ApiReply, KeyHandle), ApiError> {
    let channel = route(hub, key)?;
    let mut retries = hub.retries();
    while retries.next().await {
        let handle = if create {
            if hub.node().live_key(key).is_none() {
                // a caller the ACL refuses starts nothing: no key, no authority, no memory
                channel.acl().check_all(caller, op().needs())?;
            }
            hub.key(key, &channel)
        } else {
            match hub.node().live_key(key) {
                Some(handle) => handle,
                None => return Err(not_live(&*channel, key, caller)),
            }
        };
        let (done, answer) = oneshot::channel();
        let request = ApiRequest {
            caller,
            op: op(),
            done,
        };
        if handle.send(Command::Api(request)).await.is_ok() {
            if let Ok(reply) = answer.await {
                return reply.map(|reply| (reply, handle));
            }
        }
    }
    Err(ApiError::Unavailable(key.to_owned()))
}
