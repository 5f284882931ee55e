//! A tracing subscriber for binaries (a library never installs one): the `livestate`
//! binary and the examples log through it, to stderr.
//!
//! - **Filter**: `RUST_LOG`, default `info`: a level (`debug`), or targets with levels
//!   (`info,livestate_core=debug`, `warn,livestate_server=debug`), read by
//!   `tracing_subscriber`'s [`Targets`]. Every line of a socket or a key carries its span
//!   (`socket{id=7 peer=..}`, `key{key=doc:a}`), so one socket's or one key's story is a
//!   `grep` away. Span and field filters (`[socket]=debug`) are not read: they need
//!   `EnvFilter`, whose regular expressions cost a quarter of the binary's cold build. A
//!   value that does not parse stops the start, naming it.
//! - **Format**: [`LogFormat::Text`], one line per event with the fields of its spans (the
//!   socket, the topic, the key), coloured only when stderr is a terminal (and `NO_COLOR`
//!   is unset); or [`LogFormat::Json`], one JSON object per line, for machines.
//!
//! What is logged, by level: INFO the start (address, mode, Redis, configuration file),
//! the shutdown and lease changes; DEBUG sockets opening and closing (with their id and
//! peer), joins and leaves, every event and every refusal with its reason; WARN HTTP
//! requests refused with a 4xx, lagging subscribers brought up to date, Redis unavailable.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogFormat {
    /// Text for people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = LogError;

    fn from_str(s: &str) -> Result<LogFormat, LogError> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(LogError(format!(
                "unknown log format {other:?}: use text or json"
            ))),
        }
    }
}

/// Why logging could not start: names the value that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogError(String);

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LogError {}

impl From<LogError> for std::io::Error {
    fn from(e: LogError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e.0)
    }
}

/// The filter a `RUST_LOG` value asks for (`None`: unset, so `info`).
///
/// ```
/// use livestate_server::logging::filter;
/// assert!(filter(Some("debug")).is_ok());
/// assert!(filter(Some("info,livestate_core=debug")).is_ok());
/// let e = filter(Some("livestate=loud")).unwrap_err();
/// assert!(e.to_string().starts_with("RUST_LOG=\"livestate=loud\" is not a log filter"), "{e}");
/// ```
pub fn filter(rust_log: Option<&str>) -> Result<Targets, LogError> {
    let value = rust_log.map(str::trim).unwrap_or_default();
    let value = if value.is_empty() { "info" } else { value };
    let refuse = |why: &str| {
        LogError(format!(
            "RUST_LOG={value:?} is not a log filter ({why}): use a level (error, warn, info, \
             debug, trace) or target=level pairs, comma separated"
        ))
    };
    if value.contains(['[', ']', '{', '}', '"']) {
        return Err(refuse("span and field filters are not supported"));
    }
    value.parse::<Targets>().map_err(|e| refuse(&e.to_string()))
}

/// Log in text to stderr, filtered by `RUST_LOG`; fails on a `RUST_LOG` that does not
/// parse.
pub fn init() -> Result<(), LogError> {
    init_with(LogFormat::Text)
}

/// Log in `format` to stderr, filtered by `RUST_LOG`; fails on a `RUST_LOG` that does
/// not parse, or when a subscriber is already installed.
pub fn init_with(format: LogFormat) -> Result<(), LogError> {
    let rust_log = match std::env::var("RUST_LOG") {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(LogError("RUST_LOG is not valid UTF-8".to_owned()));
        }
    };
    let filter = filter(rust_log.as_deref())?;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    installed.map_err(|e| LogError(format!("cannot install the logger: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_bad_ones_are_named() {
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        let e = "xml".parse::<LogFormat>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown log format \"xml\": use text or json"
        );
    }

    #[test]
    fn filters_parse_and_bad_ones_are_named() {
        use tracing::Level;
        let f = filter(None).unwrap();
        assert!(f.would_enable("livestate_core::session", &Level::INFO));
        assert!(!f.would_enable("livestate_core::session", &Level::DEBUG));
        let f = filter(Some("warn,livestate_core=debug")).unwrap();
        assert!(f.would_enable("livestate_core::session", &Level::DEBUG));
        assert!(!f.would_enable("livestate_server::ws", &Level::INFO));
        let f = filter(Some("  ")).unwrap();
        assert!(f.would_enable("livestate", &Level::INFO));
        for bad in [
            "livestate=loud",
            "info,[socket]=debug",
            "info,[socket=debug",
            "livestate_core=debug=trace",
        ] {
            let e = filter(Some(bad)).unwrap_err();
            assert!(e.to_string().contains(&format!("RUST_LOG={bad:?}")), "{e}");
        }
    }
}
