//! Typed client events: LiveState's `lvs_evt:NAME` with its payload, decoded into a
//! channel's [`Channel::Event`](crate::Channel::Event) type as serde decodes an enum: the
//! event's name picks the variant, the payload is its content.
//!
//! ```
//! use livestate_core::event::{EventError, decode_event};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize, Debug, PartialEq)]
//! #[serde(rename_all = "snake_case")]
//! enum Event {
//!     AddTodo { todo: String },
//!     Clear,
//! }
//!
//! let event: Event = decode_event("add_todo", &json!({"todo": "milk"})).unwrap();
//! assert_eq!(event, Event::AddTodo { todo: "milk".into() });
//! assert_eq!(decode_event::<Event>("clear", &json!({})).unwrap(), Event::Clear);
//!
//! let err = decode_event::<Event>("add_todo", &json!({"todo": 3})).unwrap_err();
//! assert_eq!(err.to_string(), "bad payload for add_todo: todo: invalid type: integer `3`, expected a string");
//! let err = decode_event::<Event>("remove", &json!({})).unwrap_err();
//! assert_eq!(err, EventError::UnknownEvent("remove".into()));
//! ```
//!
//! | variant | payload |
//! |---|---|
//! | `Name` (unit) | anything (LiveState sends `{}`); it is not read |
//! | `Name { field, .. }` (struct) | an object with those fields (unknown ones ignored, unless the enum says `#[serde(deny_unknown_fields)]`) |
//! | `Name(T)` (newtype) | whatever `T` decodes from |
//!
//! A channel that wants events untyped uses [`AnyEvent`] (the name and the payload as
//! they came) or `serde_json::Value` (`{NAME: payload}`).

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

/// Why an event did not decode. The message names the event and, for a payload, the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The channel has no event of this name.
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// The payload does not fit the event.
    #[error("bad payload for {event}: {reason}")]
    BadPayload {
        /// The event.
        event: String,
        /// What is wrong, naming the field (`items[2].name: ...`).
        reason: String,
    },
}

/// Decode the event `name` with `payload` into `E`.
pub fn decode_event<E: DeserializeOwned>(name: &str, payload: &Value) -> Result<E, EventError> {
    let deserializer = EventDeserializer { name, payload };
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = field_path(e.path());
        match e.into_inner() {
            Error::UnknownEvent => EventError::UnknownEvent(name.to_owned()),
            Error::Message(message) => EventError::BadPayload {
                event: name.to_owned(),
                reason: if path.is_empty() {
                    message
                } else {
                    format!("{path}: {message}")
                },
            },
        }
    })
}

/// The path of a field within the payload (the event's own name left out).
fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// An event as it came, for a channel that does not type its events.
#[derive(Debug, Clone, PartialEq)]
pub struct AnyEvent {
    /// The event's name (`lvs_evt:NAME`).
    pub name: String,
    /// Its payload.
    pub payload: Value,
}

impl<'de> Deserialize<'de> for AnyEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyEvent, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = AnyEvent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyEvent, A::Error> {
                let (name, payload) = map
                    .next_entry::<String, Value>()?
                    .ok_or_else(|| de::Error::custom("no event"))?;
                Ok(AnyEvent { name, payload })
            }
        }
        d.deserialize_map(Any)
    }
}

/// A decoding error: an unknown variant is an unknown event, anything else is about the
/// payload.
#[derive(Debug)]
enum Error {
    UnknownEvent,
    Message(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownEvent => f.write_str("unknown event"),
            Error::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error::Message(msg.to_string())
    }

    fn unknown_variant(_variant: &str, _expected: &'static [&'static str]) -> Error {
        Error::UnknownEvent
    }
}

fn payload_error(e: serde_json::Error) -> Error {
    Error::Message(e.to_string())
}

/// The event as a one-entry map `{name: payload}`, or as an enum whose variant is `name`.
struct EventDeserializer<'a> {
    name: &'a str,
    payload: &'a Value,
}

impl<'de> Deserializer<'de> for EventDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(OneEntry {
            name: Some(self.name),
            payload: Some(self.payload),
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de> EnumAccess<'de> for EventDeserializer<'de> {
    type Error = Error;
    type Variant = Payload<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Payload<'de>), Error> {
        let name: de::value::StrDeserializer<'_, Error> = self.name.into_deserializer();
        let variant = seed.deserialize(name)?;
        Ok((variant, Payload(self.payload)))
    }
}

/// An event's payload, as the content of its variant.
struct Payload<'a>(&'a Value);

impl<'de> VariantAccess<'de> for Payload<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self.0).map_err(payload_error)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_seq(visitor).map_err(payload_error)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_map(visitor).map_err(payload_error)
    }
}

/// `{name: payload}`.
struct OneEntry<'a> {
    name: Option<&'a str>,
    payload: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for OneEntry<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.name.take() {
            Some(name) => {
                let name: de::value::StrDeserializer<'_, Error> = name.into_deserializer();
                seed.deserialize(name).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.payload.take() {
            Some(payload) => seed.deserialize(payload).map_err(payload_error),
            None => Err(Error::Message("no payload".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    enum Strict {
        Put {
            path: String,
            value: Value,
        },
        Increment {
            path: String,
            #[serde(default)]
            by: i64,
        },
        Reset,
        Tag(String),
        Items {
            items: Vec<Item>,
        },
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Item {
        name: String,
    }

    fn reason(name: &str, payload: Value) -> String {
        decode_event::<Strict>(name, &payload)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn variants_decode_from_the_name_and_the_payload() {
        assert_eq!(
            decode_event::<Strict>("put", &json!({"path": "/a", "value": [1]})).unwrap(),
            Strict::Put {
                path: "/a".into(),
                value: json!([1])
            }
        );
        assert_eq!(
            decode_event::<Strict>("increment", &json!({"path": "/n"})).unwrap(),
            Strict::Increment {
                path: "/n".into(),
                by: 0
            }
        );
        assert_eq!(
            decode_event::<Strict>("reset", &json!({})).unwrap(),
            Strict::Reset
        );
        assert_eq!(
            decode_event::<Strict>("tag", &json!("x")).unwrap(),
            Strict::Tag("x".into())
        );
    }

    #[test]
    fn errors_name_the_event_and_the_field() {
        assert_eq!(reason("nope", json!({})), "unknown event \"nope\"");
        assert_eq!(
            reason("put", json!({"value": 1})),
            "bad payload for put: missing field `path`"
        );
        assert_eq!(
            reason("increment", json!({"path": "/n", "by": "two"})),
            "bad payload for increment: by: invalid type: string \"two\", expected i64"
        );
        assert!(
            reason("put", json!({"path": "/a", "value": 1, "extra": true}))
                .starts_with("bad payload for put: extra: unknown field `extra`"),
            "{}",
            reason("put", json!({"path": "/a", "value": 1, "extra": true}))
        );
        assert_eq!(
            reason("items", json!({"items": [{"name": "a"}, {"name": 2}]})),
            "bad payload for items: items[1].name: invalid type: integer `2`, expected a string"
        );
        assert_eq!(
            reason("put", json!([1, 2])),
            "bad payload for put: invalid type: sequence, expected struct variant Strict::Put"
        );
    }

    #[test]
    fn untyped_events_keep_the_name_and_the_payload() {
        let any: AnyEvent = decode_event("whatever", &json!({"a": 1})).unwrap();
        assert_eq!(
            any,
            AnyEvent {
                name: "whatever".into(),
                payload: json!({"a": 1})
            }
        );
        let value: Value = decode_event("whatever", &json!({"a": 1})).unwrap();
        assert_eq!(value, json!({"whatever": {"a": 1}}));
    }
}
