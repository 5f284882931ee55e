//! V2 frames: `[join_ref, ref, topic, event, payload]`.
//!
//! Client frames decode into a [`Message`]; server frames are encoded straight into a
//! [`Text`] by the functions below, one per kind of frame the server sends:
//!
//! | function | frame |
//! |---|---|
//! | [`reply`] | `[join_ref, ref, topic, "phx_reply", {"status": ..., "response": ...}]` |
//! | [`push`] | `[join_ref, null, topic, event, payload]` (one channel) |
//! | [`broadcast`] | `[null, null, topic, event, payload]` (the same bytes for every socket) |
//! | [`for_channel`] | a broadcast given one channel's join_ref, without encoding it again |
//! | [`close`] | `[join_ref, join_ref, topic, "phx_close", {}]` |
//! | [`error`] | `[join_ref, join_ref, topic, "phx_error", {"reason": ...}]` |

use crate::event;
use crate::text::Text;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A frame sent by a client, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The ref of the join this message belongs to (null for socket-level messages).
    pub join_ref: Option<String>,
    /// The message's own ref; a reply echoes it. Null when the sender wants no reply.
    pub r#ref: Option<String>,
    /// The topic, such as `doc:todo` or `phoenix`.
    pub topic: String,
    /// The event, such as `phx_join` or `lvs_evt:add_todo`.
    pub event: String,
    /// The payload: any JSON value (the server checks that it is an object where it must be).
    pub payload: Value,
}

/// Why a text frame is not a V2 message. The socket is closed with
/// [`close::INVALID_FRAME`](crate::close::INVALID_FRAME) and this text as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not JSON at all.
    #[error("frame is not JSON: {0}")]
    NotJson(String),
    /// The frame is JSON but not an array of five elements.
    #[error("frame must be a JSON array [join_ref, ref, topic, event, payload]: {0}")]
    Shape(String),
}

impl Message {
    /// Decode one text frame.
    ///
    /// ```
    /// use livestate_protocol::Message;
    /// let msg = Message::decode(r#"["1","2","doc:a","phx_join",{}]"#).unwrap();
    /// assert_eq!(msg.join_ref.as_deref(), Some("1"));
    /// assert_eq!(msg.r#ref.as_deref(), Some("2"));
    /// assert_eq!(msg.event, "phx_join");
    /// assert!(Message::decode("[1,2]").is_err());
    /// ```
    pub fn decode(text: &str) -> Result<Message, DecodeError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let msg = de
            .deserialize_any(MessageVisitor)
            .map_err(|e| classify(&e))?;
        de.end().map_err(|e| classify(&e))?;
        Ok(msg)
    }
}

fn classify(e: &serde_json::Error) -> DecodeError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => DecodeError::NotJson(e.to_string()),
        Category::Data => DecodeError::Shape(strip_position(e.to_string())),
    }
}

/// serde_json appends " at line 1 column 7"; for a one-line frame that is noise.
fn strip_position(mut s: String) -> String {
    if let Some(i) = s.rfind(" at line ") {
        s.truncate(i);
    }
    s
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [join_ref, ref, topic, event, payload]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Message, A::Error> {
        fn field<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
            seq: &mut A,
            index: usize,
            what: &str,
        ) -> Result<T, A::Error> {
            match seq.next_element::<T>() {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(de::Error::custom(format!(
                    "the array has {index} elements, it needs 5"
                ))),
                Err(e) => Err(de::Error::custom(format!(
                    "{what} must be {}: {}",
                    expected_of(index),
                    strip_position(e.to_string())
                ))),
            }
        }
        let join_ref = field::<A, Option<String>>(&mut seq, 0, "join_ref")?;
        let r#ref = field::<A, Option<String>>(&mut seq, 1, "ref")?;
        let topic = field::<A, String>(&mut seq, 2, "topic")?;
        let event = field::<A, String>(&mut seq, 3, "event")?;
        let payload = field::<A, Value>(&mut seq, 4, "payload")?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("the array has more than 5 elements"));
        }
        Ok(Message {
            join_ref,
            r#ref,
            topic,
            event,
            payload,
        })
    }
}

fn expected_of(index: usize) -> &'static str {
    match index {
        0 | 1 => "a string or null",
        2 | 3 => "a string",
        _ => "JSON",
    }
}

/// The status of a `phx_reply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The push succeeded.
    Ok,
    /// The push was refused; the response carries `{"reason": ...}`.
    Error,
}

#[derive(Serialize)]
struct ReplyPayload<'a, R: Serialize + ?Sized> {
    status: Status,
    response: &'a R,
}

use crate::livestate::Reason;

fn encode<P: Serialize + ?Sized>(
    join_ref: Option<&str>,
    r#ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: &P,
) -> Text {
    // Serializing a tuple of strings, options and a `Serialize` payload cannot fail unless
    // the payload's own `Serialize` impl fails, which serde_json's `Value` and our payload
    // types never do; a map with non-string keys is the one way, and we never build one.
    let s = serde_json::to_string(&(join_ref, r#ref, topic, event, payload)).unwrap_or_else(|e| {
        serde_json::json!([join_ref, join_ref, topic, event::PHX_ERROR,
            {"reason": format!("the server could not encode {event}: {e}")}])
        .to_string()
    });
    Text::from(s)
}

/// `[join_ref, ref, topic, "phx_reply", {"status": status, "response": response}]`.
pub fn reply<R: Serialize + ?Sized>(
    join_ref: Option<&str>,
    r#ref: Option<&str>,
    topic: &str,
    status: Status,
    response: &R,
) -> Text {
    encode(
        join_ref,
        r#ref,
        topic,
        event::PHX_REPLY,
        &ReplyPayload { status, response },
    )
}

/// An ok reply with an empty response `{}`.
pub fn reply_ok(join_ref: Option<&str>, r#ref: Option<&str>, topic: &str) -> Text {
    reply(join_ref, r#ref, topic, Status::Ok, &serde_json::Map::new())
}

/// An error reply with `{"reason": reason}`, the shape phoenix.js and phx-live-state read.
pub fn reply_error(join_ref: Option<&str>, r#ref: Option<&str>, topic: &str, reason: &str) -> Text {
    reply(join_ref, r#ref, topic, Status::Error, &Reason { reason })
}

/// A push to one channel: `[join_ref, null, topic, event, payload]`.
pub fn push<P: Serialize + ?Sized>(
    join_ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: &P,
) -> Text {
    encode(join_ref, None, topic, event, payload)
}

/// A push whose bytes are the same for every socket: `[null, null, topic, event, payload]`.
/// phoenix.js accepts a null join_ref on any joined channel of that topic.
pub fn broadcast<P: Serialize + ?Sized>(topic: &str, event: &str, payload: &P) -> Text {
    encode(None, None, topic, event, payload)
}

/// A frame encoded by [`broadcast`] (say a `state:change` encoded once per version) as a
/// push to one channel: `[join_ref, null, topic, event, payload]`, as Phoenix's `push`
/// sends it (phoenix.js drops a push whose join_ref is an earlier join's). Copies the
/// frame once; another frame is returned as it is.
pub fn for_channel(join_ref: &str, broadcast: &Text) -> Text {
    const PREFIX: &str = "[null,";
    let Some(rest) = broadcast.as_str().strip_prefix(PREFIX) else {
        return broadcast.clone();
    };
    let join_ref = serde_json::to_string(join_ref).unwrap_or_else(|_| "null".to_owned());
    let mut out = String::with_capacity(broadcast.len() + join_ref.len());
    out.push('[');
    out.push_str(&join_ref);
    out.push(',');
    out.push_str(rest);
    Text::from(out)
}

/// `[join_ref, null, topic, event, payload]` around a payload already encoded as JSON
/// (one payload shared by many pushes: only the prefix is made per push).
pub fn push_encoded(join_ref: Option<&str>, topic: &str, event: &str, payload: &str) -> Text {
    let head = serde_json::to_string(&(join_ref, None::<&str>, topic, event))
        .unwrap_or_else(|_| "[null,null,\"\",\"\"]".to_owned());
    let mut out = String::with_capacity(head.len() + payload.len() + 1);
    // the head without its closing bracket, then the payload
    out.push_str(&head[..head.len() - 1]);
    out.push(',');
    out.push_str(payload);
    out.push(']');
    Text::from(out)
}

/// `[join_ref, join_ref, topic, "phx_close", {}]`: the server closed this channel.
pub fn close(join_ref: &str, topic: &str) -> Text {
    encode(
        Some(join_ref),
        Some(join_ref),
        topic,
        event::PHX_CLOSE,
        &serde_json::Map::new(),
    )
}

/// `[join_ref, join_ref, topic, "phx_error", {"reason": reason}]`: the channel failed and
/// the client should rejoin.
pub fn error(join_ref: &str, topic: &str, reason: &str) -> Text {
    encode(
        Some(join_ref),
        Some(join_ref),
        topic,
        event::PHX_ERROR,
        &Reason { reason },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_encoded_payload_gets_the_push_prefix() {
        let payload = json!({"0": "a \"quoted\" text"}).to_string();
        let frame = push_encoded(Some("4"), "lv:phx-x", "diff", &payload);
        assert_eq!(
            frame.as_str(),
            r#"["4",null,"lv:phx-x","diff",{"0":"a \"quoted\" text"}]"#
        );
        let same = push(
            Some("4"),
            "lv:phx-x",
            "diff",
            &json!({"0": "a \"quoted\" text"}),
        );
        assert_eq!(frame.as_str(), same.as_str());
    }

    #[test]
    fn decodes_a_join() {
        let m = Message::decode(r#"["3","4","doc:x","phx_join",{"a":1}]"#).unwrap();
        assert_eq!(
            m,
            Message {
                join_ref: Some("3".into()),
                r#ref: Some("4".into()),
                topic: "doc:x".into(),
                event: "phx_join".into(),
                payload: json!({"a": 1}),
            }
        );
    }

    #[test]
    fn decodes_null_refs_and_any_payload() {
        let m = Message::decode(r#"[null,null,"t","e",[1,2]]"#).unwrap();
        assert_eq!(m.join_ref, None);
        assert_eq!(m.r#ref, None);
        assert_eq!(m.payload, json!([1, 2]));
    }

    #[test]
    fn decode_errors_name_the_problem() {
        let cases = [
            ("not json", "not JSON"),
            (r#"{"a":1}"#, "array"),
            (r#"["1","2","t","e"]"#, "has 4 elements"),
            (r#"["1","2","t","e",{},5]"#, "more than 5"),
            (r#"[1,"2","t","e",{}]"#, "join_ref must be a string or null"),
            (r#"["1",2,"t","e",{}]"#, "ref must be a string or null"),
            (r#"["1","2",3,"e",{}]"#, "topic must be a string"),
            (r#"["1","2","t",null,{}]"#, "event must be a string"),
            (r#"["1","2","t","e",{}] x"#, "not JSON"),
            ("", "not JSON"),
        ];
        for (frame, needle) in cases {
            let err = Message::decode(frame).unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{frame:?} gave {err:?}, wanted {needle:?}"
            );
        }
    }

    #[test]
    fn encodes_replies_and_pushes() {
        assert_eq!(
            reply_ok(Some("1"), Some("2"), "t").as_str(),
            r#"["1","2","t","phx_reply",{"status":"ok","response":{}}]"#
        );
        assert_eq!(
            reply_error(None, Some("2"), "t", "unmatched topic").as_str(),
            r#"[null,"2","t","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#
        );
        assert_eq!(
            push(Some("1"), "t", "error", &json!({"message": "m"})).as_str(),
            r#"["1",null,"t","error",{"message":"m"}]"#
        );
        assert_eq!(
            broadcast("t", "x", &json!({})).as_str(),
            r#"[null,null,"t","x",{}]"#
        );
        assert_eq!(close("5", "t").as_str(), r#"["5","5","t","phx_close",{}]"#);
        assert_eq!(
            error("5", "t", "boom").as_str(),
            r#"["5","5","t","phx_error",{"reason":"boom"}]"#
        );
    }

    #[test]
    fn a_broadcast_becomes_a_push_to_one_channel() {
        let b = broadcast("doc:a", "state:change", &json!({"state": {}, "version": 3}));
        assert_eq!(
            for_channel("7\"x", &b).as_str(),
            r#"["7\"x",null,"doc:a","state:change",{"state":{},"version":3}]"#
        );
        let p = push(Some("1"), "t", "e", &json!({}));
        assert_eq!(for_channel("2", &p), p);
    }

    #[test]
    fn encoded_frames_decode_back() {
        let t = push(
            Some("1"),
            "doc:\"quoted\"",
            "ev",
            &json!({"k": "v\u{1F600}"}),
        );
        let m = Message::decode(t.as_str()).unwrap();
        assert_eq!(m.topic, "doc:\"quoted\"");
        assert_eq!(m.payload, json!({"k": "v\u{1F600}"}));
    }
}
