//! Attacks on the `livestate` binary, each against a process of its own: the process stays
//! up, its peak memory (`VmHWM`) grows by less than 64 MiB over what it had after start-up
//! and a warm-up, the attacker gets the documented refusal, and a healthy client can still
//! join, put a value and read it back (over WebSocket and HTTP).
//!
//! Over WebSocket ([`ws`]):
//!
//! | attack | refusal |
//! |---|---|
//! | one patch of 16 `copy` ops of the root into its deepest leaf | `max_depth`, nothing applied |
//! | 100 puts of 100-deep values, and a deep value put into another | `max_depth`, earlier puts kept |
//! | one patch of 22 `copy` ops of the root (each doubling the state), of a string | `max_state_bytes`, nothing applied |
//! | the same, of 500 zeros or of 150 small members | `max_state_values`, nothing applied |
//! | one patch of 1,001 ops | `max_patch_ops` |
//! | 50 sockets sending a bad frame then 500 heartbeats before reading | close 1007 each |
//! | 50 sockets closing (1000) right after their join | a close frame each |
//! | an integer beyond 64 bits, as raw text | an error reply naming it |
//!
//! Over the HTTP API ([`http`]):
//!
//! | attack | refusal |
//! |---|---|
//! | a cross-site `POST .../reset`: a foreign `Origin`, or `text/plain` | 403 `origin_not_allowed`, 415 `unsupported_media_type`, nothing changes |
//! | an event stream never read while 2,000 changes of 16 KiB go by | it skips changes, and ends once read |
//! | 20 such streams | the server lets go of their connections after the write timeout |
//! | 3,000 refused `PUT`s to distinct keys | 403 `permission_denied`, no key made, VmRSS +16 MiB at most |
//! | an integer beyond 64 bits in a `PUT` body | 400 `bad_request` naming it |

mod http;
mod target;
mod ws;
