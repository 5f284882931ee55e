//! What the engine sends across nodes through the backplane, and how it is encoded: the
//! backplane carries it as opaque bytes (forwarded requests, answers) or opaque JSON (the
//! note on a published change), so no engine type is part of its contract.
//!
//! | message | from → to | encoding |
//! |---|---|---|
//! | [`Request`]s | any node → a key's authority, several in one message | JSON array |
//! | [`Answer`] | the authority → the node that forwarded | JSON object |
//! | [`Note`] | the authority → every follower, with the change | JSON value |
//!
//! Refusals cross as the [`ApiError`] the authority met, whose serde form carries its
//! stable code: a follower hands its caller the same error the leader would have.

use crate::acl::Caller;
use crate::calls::ApiError;
use crate::channel::Assigns;
use bytes::Bytes;
use livestate_backplane::EventId;
use livestate_protocol::PatchOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request forwarded to a key's authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Request {
    /// Its id (a retry keeps it).
    pub(crate) id: EventId,
    /// The node that forwarded it, for the answer.
    pub(crate) from: String,
    /// What is asked.
    pub(crate) body: RequestBody,
    /// Sent before: it may have been committed already, so the authority runs it alone
    /// (a commit that finds it a duplicate answers with the version it was committed at).
    #[serde(default)]
    pub(crate) retry: bool,
}

/// What a forwarded request asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum RequestBody {
    /// A client event (`lvs_evt:NAME`) from a subscriber on the origin node.
    Event {
        /// The sender's subscription on its node.
        sub: u64,
        /// The ref of the sender's push.
        r#ref: Option<String>,
        /// The event's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// The sender's socket assigns.
        socket: Assigns,
        /// The sender's join assigns.
        assigns: Assigns,
    },
    /// A server API call.
    Api {
        /// Group or public.
        caller: Caller,
        /// What to do.
        call: ApiCall,
    },
}

/// A server API call that can cross nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ApiCall {
    /// Apply an RFC 6902 patch; with `expect`, only at that (internal) version.
    Patch {
        ops: Vec<PatchOp>,
        /// The version the patch was computed against (compare-and-set): a follower's own
        /// code made it, so its ops are not bounded as a client's are.
        expect: Option<u64>,
        /// Whether the ops need delete (else write).
        deletes: bool,
    },
    /// Set the value at a path (add or replace, as `Doc::set`).
    Set { path: String, value: Value },
    /// Remove the value at a path.
    Remove { path: String },
    /// Re-run `init`.
    Reset,
    /// Hand a message to `handle_message`.
    Message(Value),
    /// Build the key's state with `init` and these join params, if it has none.
    Init(Value),
    /// Store the leader's state again (a follower found the stored one malformed).
    Rewrite,
}

/// The answer to a forwarded request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Answer {
    /// The request's id.
    pub(crate) id: EventId,
    /// The key.
    pub(crate) key: String,
    /// The internal version committed, or why not.
    pub(crate) outcome: Result<u64, Refusal>,
}

/// Why a forwarded request was not committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    /// Refused, as the server API would have refused it.
    Api(ApiError),
    /// The handler failed (panicked): the sender's channel fails.
    Failed(String),
    /// The change could not be committed (the backplane said why).
    Unavailable(String),
    /// An edit computed on a follower's replica at a version the key has moved on from:
    /// the follower computes it again on a newer replica.
    Conflict,
}

/// What a leader publishes with the change of a forwarded request, for the node that
/// forwarded it: who asked, and the handler's reply events for them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Note {
    /// The request's id.
    pub(crate) id: EventId,
    /// The node it came from.
    pub(crate) node: String,
    /// The reply events of the handler, for the sender only, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) events: Vec<(String, Value)>,
}

/// Several requests as one message.
pub(crate) fn encode_requests(requests: &[Request]) -> Bytes {
    Bytes::from(serde_json::to_vec(requests).unwrap_or_default())
}

/// The requests of one message.
pub(crate) fn decode_requests(message: &[u8]) -> Result<Vec<Request>, serde_json::Error> {
    serde_json::from_slice(message)
}

/// An answer as a message.
pub(crate) fn encode_answer(answer: &Answer) -> Bytes {
    Bytes::from(serde_json::to_vec(answer).unwrap_or_default())
}

/// The answer of a message.
pub(crate) fn decode_answer(message: &[u8]) -> Result<Answer, serde_json::Error> {
    serde_json::from_slice(message)
}

impl Note {
    /// As the backplane carries it.
    pub(crate) fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The note on a change, if it is one of the engine's.
    pub(crate) fn from_value(value: &Value) -> Option<Note> {
        Note::deserialize(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Denied, Permission};
    use serde_json::json;

    /// What a follower gets back is what the leader met, code and all.
    #[test]
    fn refusals_cross_nodes_as_the_errors_they_were() {
        let errors = [
            ApiError::Denied(Denied {
                caller: Caller::Public,
                permission: Permission::Reset,
            }),
            ApiError::PropertyNotFound("/a/b".into()),
            ApiError::TestFailed("op 0 (test /x): no".into()),
            ApiError::BadRequest("bad pointer".into()),
            ApiError::Limit("limit max_depth = 64".into()),
            ApiError::Unavailable("doc:k".into()),
            ApiError::UnknownKey("doc:k".into()),
            ApiError::Refused("init failed".into()),
        ];
        for error in errors {
            let answer = Answer {
                id: EventId("n/1/2".into()),
                key: "doc:k".into(),
                outcome: Err(Refusal::Api(error.clone())),
            };
            let back = decode_answer(&encode_answer(&answer)).unwrap();
            assert_eq!(back, answer);
            let text = String::from_utf8(encode_answer(&answer).to_vec()).unwrap();
            assert!(
                text.contains(error.code()),
                "{text} names no {}",
                error.code()
            );
        }
    }

    #[test]
    fn requests_and_notes_round_trip() {
        let requests = vec![
            Request {
                id: EventId("a/1/1".into()),
                from: "a".into(),
                body: RequestBody::Event {
                    sub: 7,
                    r#ref: Some("3".into()),
                    name: "increment".into(),
                    payload: json!({"by": 2}),
                    socket: Assigns::new(),
                    assigns: Assigns::new(),
                },
                retry: false,
            },
            Request {
                id: EventId("a/1/2".into()),
                from: "a".into(),
                body: RequestBody::Api {
                    caller: Caller::Group,
                    call: ApiCall::Patch {
                        ops: vec![],
                        expect: Some(4),
                        deletes: false,
                    },
                },
                retry: true,
            },
        ];
        assert_eq!(
            decode_requests(&encode_requests(&requests)).unwrap(),
            requests
        );
        let note = Note {
            id: EventId("a/1/1".into()),
            node: "a".into(),
            events: vec![("toast".into(), json!({"n": 1}))],
        };
        assert_eq!(Note::from_value(&note.to_value()), Some(note));
        assert_eq!(Note::from_value(&json!("not a note")), None);
        assert!(decode_requests(b"[{\"id\": 3}]").is_err());
    }
}
