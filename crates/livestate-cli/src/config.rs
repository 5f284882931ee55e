//! The configuration file of `livestate serve --config livestate.toml`.
//!
//! ```toml
//! bind = "127.0.0.1:4000"
//!
//! [limits]                     # every field optional; these are the defaults
//! max_frame_size = 1048576     # bytes; a larger frame closes the socket (1009)
//! max_channels = 100           # per socket
//! idle_timeout = 60            # seconds without a frame before a socket is closed (4001)
//! write_timeout = 30           # seconds a client may leave frames unread
//! outbox_capacity = 1024       # frames queued per socket before it lags
//! outbox_bytes = 1048576       # bytes queued per socket before it lags
//! handler_timeout = 30         # seconds an init or handler may run
//! ttl = 60                     # seconds a key lives after its last subscriber, or "never"
//! read_buffer_size = 4096      # bytes per socket
//! body_timeout = 10            # seconds an HTTP API body may take to arrive (408 after)
//! max_depth = 64               # deepest nesting of a state (at most 100)
//! max_state_bytes = 16777216   # largest state as JSON, and most one change may write
//! max_state_values = 250000    # most JSON values a state may hold, and one change write
//! max_patch_ops = 1000         # most ops in one RFC 6902 patch from a client or the API
//!
//! [redis]                      # cluster mode: every node with the same Redis shares every key
//! url = "redis://127.0.0.1:6379"
//! node_id = "node-1"           # default: derived from the process
//! lease_ms = 3000              # how long a dead node's keys wait before another takes them
//! prefix = "livestate"
//!
//! [api]
//! token = "a long secret"      # the HTTP state API then needs Authorization: Bearer <token>
//! allow_origins = ["https://app.example.com"]   # CORS and WebSocket origin check; ["*"]: any
//!
//! [[docs]]                     # doc key patterns; without any, `doc:*` with the defaults
//! pattern = "doc:*"
//! initial = { items = [] }     # the initial state (default {})
//! acl = { group = ["all"], public = ["read"] }
//! ttl = 60                     # or "never"; default: limits.ttl
//! max_version = 1000
//! presence = false
//! max_depth = 16               # any of the four state limits, for these keys only
//! ```
//!
//! Unknown fields and bad values are errors at start-up that name the field and its line.

use livestate_core::StateLimits;
use livestate_core::acl::Acl;
use livestate_core::doc::MAX_DEPTH_CEILING;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: Option<SocketAddr>,
    /// Limits and timings.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The HTTP state API.
    #[serde(default)]
    pub api: ApiConfig,
    /// Cluster mode on Redis.
    #[serde(default)]
    pub redis: RedisConfig,
    /// `doc:` key patterns.
    #[serde(default, deserialize_with = "distinct_patterns")]
    pub docs: Vec<DocConfig>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Bytes.
    #[serde(default, deserialize_with = "at_least_1k")]
    pub max_frame_size: Option<usize>,
    /// Channels per socket.
    #[serde(default, deserialize_with = "positive")]
    pub max_channels: Option<usize>,
    /// Seconds.
    #[serde(default, deserialize_with = "seconds")]
    pub idle_timeout: Option<Duration>,
    /// Seconds.
    #[serde(default, deserialize_with = "seconds")]
    pub write_timeout: Option<Duration>,
    /// Frames.
    #[serde(default, deserialize_with = "positive")]
    pub outbox_capacity: Option<usize>,
    /// Bytes.
    #[serde(default, deserialize_with = "positive")]
    pub outbox_bytes: Option<usize>,
    /// Seconds.
    #[serde(default, deserialize_with = "seconds")]
    pub handler_timeout: Option<Duration>,
    /// Seconds or `"never"`.
    #[serde(default)]
    pub ttl: Option<TtlConfig>,
    /// Bytes.
    #[serde(default, deserialize_with = "at_least_1k")]
    pub read_buffer_size: Option<usize>,
    /// Seconds.
    #[serde(default, deserialize_with = "seconds")]
    pub body_timeout: Option<Duration>,
    /// Levels of nesting a state may have, 1 to 100.
    #[serde(default, deserialize_with = "depth")]
    pub max_depth: Option<usize>,
    /// Bytes a state may take as JSON (and one change may write).
    #[serde(default, deserialize_with = "at_least_1k")]
    pub max_state_bytes: Option<usize>,
    /// JSON values a state may hold (and one change may write).
    #[serde(default, deserialize_with = "positive")]
    pub max_state_values: Option<usize>,
    /// Ops one patch may have.
    #[serde(default, deserialize_with = "positive")]
    pub max_patch_ops: Option<usize>,
}

/// The optional state limit fields of `[limits]` and of a `[[docs]]` entry.
struct StateLimitFields {
    depth: Option<usize>,
    bytes: Option<usize>,
    values: Option<usize>,
    ops: Option<usize>,
}

impl StateLimitFields {
    /// Whether any is set.
    fn any(&self) -> bool {
        self.depth.is_some() || self.bytes.is_some() || self.values.is_some() || self.ops.is_some()
    }

    /// The limits, falling back to `base` where one is unset.
    fn over(&self, base: StateLimits) -> StateLimits {
        {
            let mut l = StateLimits::default();
            l.max_depth = self.depth.unwrap_or(base.max_depth);
            l.max_bytes = self.bytes.unwrap_or(base.max_bytes);
            l.max_values = self.values.unwrap_or(base.max_values);
            l.max_patch_ops = self.ops.unwrap_or(base.max_patch_ops);
            l
        }
    }
}

impl LimitsConfig {
    /// The state limits every key gets (unless its channel sets its own).
    pub fn state(&self) -> StateLimits {
        StateLimitFields {
            depth: self.max_depth,
            bytes: self.max_state_bytes,
            values: self.max_state_values,
            ops: self.max_patch_ops,
        }
        .over(StateLimits::default())
    }
}

impl DocConfig {
    /// The state limits of this entry's keys, when it sets any (the others from `base`).
    pub fn state(&self, base: StateLimits) -> Option<StateLimits> {
        let fields = StateLimitFields {
            depth: self.max_depth,
            bytes: self.max_state_bytes,
            values: self.max_state_values,
            ops: self.max_patch_ops,
        };
        fields.any().then(|| fields.over(base))
    }
}

/// `[api]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The bearer token the HTTP state API requires.
    #[serde(default, deserialize_with = "non_empty")]
    pub token: Option<String>,
    /// Origins allowed to use livestate from a browser (`["*"]`: any).
    pub allow_origins: Option<Vec<String>>,
}

/// `[redis]`: cluster mode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:6379`.
    #[serde(default, deserialize_with = "non_empty")]
    pub url: Option<String>,
    /// This node's id.
    #[serde(default, deserialize_with = "non_empty")]
    pub node_id: Option<String>,
    /// Milliseconds a lease lives without renewal.
    #[serde(default, deserialize_with = "positive_u64")]
    pub lease_ms: Option<u64>,
    /// The prefix of livestate's Redis keys.
    #[serde(default, deserialize_with = "non_empty")]
    pub prefix: Option<String>,
}

/// One `[[docs]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocConfig {
    /// A topic (`doc:lobby`) or a prefix ending in `*` (`doc:board-*`).
    #[serde(deserialize_with = "pattern")]
    pub pattern: String,
    /// The initial state.
    #[serde(default = "empty_object")]
    pub initial: Value,
    /// Permissions of the group and the public.
    #[serde(default)]
    pub acl: Acl,
    /// How long a key lives after its last subscriber.
    pub ttl: Option<TtlConfig>,
    /// Versions wrap after this.
    #[serde(default, deserialize_with = "positive_u64")]
    pub max_version: Option<u64>,
    /// Whether joiners get presence.
    #[serde(default)]
    pub presence: bool,
    /// Milliseconds: a busy key's changes within this window reach subscribers as one
    /// patch (default: every change at once).
    #[serde(default, deserialize_with = "positive_u64")]
    pub coalesce_ms: Option<u64>,
    /// Levels of nesting a state may have, 1 to 100.
    #[serde(default, deserialize_with = "depth")]
    pub max_depth: Option<usize>,
    /// Bytes a state may take as JSON (and one change may write).
    #[serde(default, deserialize_with = "at_least_1k")]
    pub max_state_bytes: Option<usize>,
    /// JSON values a state may hold (and one change may write).
    #[serde(default, deserialize_with = "positive")]
    pub max_state_values: Option<usize>,
    /// Ops one patch may have.
    #[serde(default, deserialize_with = "positive")]
    pub max_patch_ops: Option<usize>,
}

/// A TTL: seconds, or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TtlConfig {
    /// This long.
    After(Duration),
    /// Forever.
    Never,
}

impl<'de> Deserialize<'de> for TtlConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TtlConfig, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Word(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| de::Error::custom("expected a number of seconds or \"never\""))?
        {
            Raw::Seconds(s) if s >= 0 => {
                Ok(TtlConfig::After(Duration::from_secs(s.unsigned_abs())))
            }
            Raw::Seconds(s) => Err(de::Error::custom(format!("a TTL cannot be negative ({s})"))),
            Raw::Word(w) if w == "never" => Ok(TtlConfig::Never),
            Raw::Word(w) => Err(de::Error::custom(format!(
                "expected a number of seconds or \"never\", got {w:?}"
            ))),
        }
    }
}

impl TtlConfig {
    /// As a channel's TTL.
    pub fn to_ttl(self) -> livestate_core::Ttl {
        match self {
            TtlConfig::After(d) => livestate_core::Ttl::After(d),
            TtlConfig::Never => livestate_core::Ttl::Never,
        }
    }
}

/// Why the file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not valid (the message names the field and the line).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, where.
        message: String,
    },
}

impl Config {
    /// Read and check a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parse and check a configuration (the error names the field and the line).
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        config.check_windows()?;
        Ok(config)
    }

    /// A `[[docs]]` entry's coalescing window must be shorter than its keys' TTL.
    fn check_windows(&self) -> Result<(), String> {
        let default_ttl = self
            .limits
            .ttl
            .unwrap_or(TtlConfig::After(livestate_core::Limits::default().ttl));
        for doc in &self.docs {
            let (Some(ms), TtlConfig::After(ttl)) =
                (doc.coalesce_ms, doc.ttl.unwrap_or(default_ttl))
            else {
                continue;
            };
            if u128::from(ms) >= ttl.as_millis() {
                return Err(format!(
                    "[[docs]] {:?}: coalesce_ms = {ms} is not shorter than the ttl ({} s)",
                    doc.pattern,
                    ttl.as_secs_f64()
                ));
            }
        }
        Ok(())
    }
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = i64::deserialize(d)?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("must be a positive number, got {n}")))
}

fn positive_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    positive(d).map(|n| n.map(|n| n as u64))
}

fn at_least_1k<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = positive(d)?.unwrap_or(0);
    if n < 1024 {
        return Err(de::Error::custom(format!(
            "must be at least 1024 bytes, got {n}"
        )));
    }
    Ok(Some(n))
}

fn depth<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let n = positive(d)?.unwrap_or(0);
    if n > MAX_DEPTH_CEILING {
        return Err(de::Error::custom(format!(
            "must be at most {MAX_DEPTH_CEILING} (deeper JSON cannot be read back), got {n}"
        )));
    }
    Ok(Some(n))
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    positive(d).map(|n| n.map(|s| Duration::from_secs(s as u64)))
}

fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(de::Error::custom("must not be empty"));
    }
    Ok(Some(s))
}

fn pattern<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s == "*" {
        return Err(de::Error::custom(format!(
            "{s:?} is not a topic pattern: give a topic or a prefix ending in *"
        )));
    }
    if s.contains('*') && !s.ends_with('*') || s.matches('*').count() > 1 {
        return Err(de::Error::custom(format!(
            "{s:?}: '*' may only end a pattern"
        )));
    }
    Ok(s)
}

fn distinct_patterns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<DocConfig>, D::Error> {
    let docs = Vec::<DocConfig>::deserialize(d)?;
    let mut seen = std::collections::HashSet::new();
    for doc in &docs {
        if !seen.insert(doc.pattern.as_str()) {
            return Err(de::Error::custom(format!(
                "the pattern {:?} is given twice",
                doc.pattern
            )));
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use livestate_core::acl::Permission;

    #[test]
    fn a_full_file_parses() {
        let c = Config::parse(
            r#"
bind = "127.0.0.1:4100"
[limits]
max_channels = 10
ttl = "never"
max_state_values = 5000
[api]
token = "t0k3n"
allow_origins = ["*"]
[[docs]]
pattern = "doc:board-*"
initial = { items = [], title = "Board" }
acl = { public = ["read", "write"] }
ttl = 5
max_version = 10
presence = true
max_depth = 8
"#,
        )
        .unwrap();
        assert_eq!(c.bind, Some("127.0.0.1:4100".parse().unwrap()));
        assert_eq!(c.limits.max_channels, Some(10));
        assert_eq!(c.limits.ttl, Some(TtlConfig::Never));
        assert_eq!(c.api.token.as_deref(), Some("t0k3n"));
        let doc = &c.docs[0];
        assert_eq!(
            doc.initial,
            serde_json::json!({"items": [], "title": "Board"})
        );
        assert!(doc.acl.public.contains(Permission::Write));
        assert!(
            doc.acl.group.contains(Permission::Reset),
            "group keeps its default"
        );
        assert_eq!(doc.ttl, Some(TtlConfig::After(Duration::from_secs(5))));
        assert_eq!(doc.max_version, Some(10));
        assert!(doc.presence);
        let base = c.limits.state();
        assert_eq!(base.max_values, 5000);
        assert_eq!(base.max_depth, StateLimits::default().max_depth);
        let own = doc.state(base).unwrap();
        assert_eq!((own.max_depth, own.max_values), (8, 5000));
    }

    #[test]
    fn a_coalescing_window_must_be_shorter_than_the_ttl() {
        let own = "[[docs]]\npattern = \"doc:*\"\nttl = 2\ncoalesce_ms = 2000\n";
        assert_eq!(
            Config::parse(own).unwrap_err(),
            "[[docs]] \"doc:*\": coalesce_ms = 2000 is not shorter than the ttl (2 s)"
        );
        let hubs = "[limits]\nttl = 1\n[[docs]]\npattern = \"doc:*\"\ncoalesce_ms = 1500\n";
        assert!(
            Config::parse(hubs)
                .unwrap_err()
                .contains("coalesce_ms = 1500")
        );
        let fine = "[[docs]]\npattern = \"doc:*\"\ncoalesce_ms = 50\n";
        assert_eq!(Config::parse(fine).unwrap().docs[0].coalesce_ms, Some(50));
        // a key that lives forever takes any window
        let never = "[[docs]]\npattern = \"doc:*\"\nttl = \"never\"\ncoalesce_ms = 600000\n";
        assert!(Config::parse(never).is_ok());
    }

    #[test]
    fn errors_name_the_field_and_the_line() {
        let cases = [
            (
                "bind = \"127.0.0.1:4000\"\nport = 4000\n",
                "line 2",
                "unknown field `port`",
            ),
            (
                "[limits]\nmax_channels = 0\n",
                "line 2",
                "must be a positive number, got 0",
            ),
            (
                "[limits]\n\nttl = -3\n",
                "line 3",
                "a TTL cannot be negative",
            ),
            (
                "[limits]\nttl = \"soon\"\n",
                "line 2",
                "expected a number of seconds or \"never\"",
            ),
            ("[limits]\nmax_frame_size = 10\n", "line 2", "at least 1024"),
            (
                "[limits]\nmax_channels = \"ten\"\n",
                "line 2",
                "invalid type",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\nacl = { public = [\"fly\"] }\n",
                "line 3",
                "unknown permission \"fly\"",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\nmax_version = 0\n",
                "line 3",
                "must be a positive number",
            ),
            (
                "[[docs]]\npattern = \"doc:*:x\"\n",
                "line 2",
                "'*' may only end a pattern",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\ncolour = \"red\"\n",
                "line 3",
                "unknown field `colour`",
            ),
            ("[[docs]]\nacl = {}\n", "line 1", "missing field `pattern`"),
            (
                "[[docs]]\npattern = \"doc:*\"\ncoalesce_ms = 0\n",
                "coalesce_ms = 0",
                "must be a positive number, got 0",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\ncoalesce_ms = -50\n",
                "line 3",
                "must be a positive number, got -50",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\n[[docs]]\npattern = \"doc:*\"\n",
                "line 1",
                "given twice",
            ),
            ("[api]\ntoken = \"\"\n", "line 2", "must not be empty"),
            ("bind = \"nowhere\"\n", "line 1", "invalid socket address"),
            ("[limits\n", "line 1", "unclosed table"),
            ("[limits]\nmax_depth = 101\n", "line 2", "at most 100"),
            (
                "[limits]\nmax_state_bytes = 100\n",
                "line 2",
                "at least 1024",
            ),
            (
                "[limits]\nmax_state_values = 0\n",
                "line 2",
                "must be a positive number",
            ),
            (
                "[[docs]]\npattern = \"doc:*\"\nmax_patch_ops = 0\n",
                "line 3",
                "must be a positive number",
            ),
        ];
        for (text, line, needle) in cases {
            let err = Config::parse(text).unwrap_err();
            assert!(err.contains(line), "{text:?}: {err}");
            assert!(
                err.contains(needle),
                "{text:?}: {err} should contain {needle:?}"
            );
        }
    }
}
