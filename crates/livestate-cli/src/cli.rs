//! The command line shared by `livestate` and the test server: `serve` and its flags.

use crate::config::{Config, DocConfig, TtlConfig};
use anyhow::Context;
use livestate_core::{DocChannel, HubBuilder, Limits, StateLimits};
use livestate_server::{
    Endpoint, EndpointBuilder, ServerConfig, demo_router, serve, shutdown_signal,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The whole of a server binary: parse the command line, log, and serve `hub`'s routes
/// until SIGINT or SIGTERM. An error (a bad flag or configuration file, a port in use) is
/// printed as one message and the exit status is 1 (2 for a bad command line).
pub fn main(hub: HubBuilder) -> std::process::ExitCode {
    let args = match parse(lexopt::Parser::from_env()) {
        Ok(Parsed::Serve(args)) => *args,
        Ok(Parsed::Told(text)) => {
            println!("{text}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("livestate: {e}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(e) = livestate_server::logging::init_with(args.log_format) {
        eprintln!("livestate: {e}");
        return std::process::ExitCode::from(2);
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
        .and_then(|runtime| runtime.block_on(run(args, hub)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livestate: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

const USAGE: &str =
    "usage: livestate serve [--config FILE] [--bind ADDR] [FLAGS] (livestate serve --help)";

/// The flags of `serve`: name, value, help. A flag wins over the configuration file, which
/// wins over the default.
const FLAGS: &[(&str, &str, &str)] = &[
    (
        "config",
        "FILE",
        "A TOML configuration file (doc key patterns with their ACL, TTL and initial state, limits, the API token, Redis); see the README",
    ),
    (
        "bind",
        "ADDR",
        "Address to listen on [default: 127.0.0.1:4000]",
    ),
    (
        "max-frame-size",
        "BYTES",
        "Largest frame a client may send (larger: close 1009) [default: 1048576]",
    ),
    (
        "max-channels",
        "N",
        "Channels one socket may join at once [default: 100]",
    ),
    (
        "idle-timeout",
        "SECONDS",
        "Without a frame from a client for this long its socket is closed (4001) [default: 60]",
    ),
    (
        "write-timeout",
        "SECONDS",
        "A client that takes nothing it is sent for this long is dropped [default: 30]",
    ),
    (
        "outbox-capacity",
        "FRAMES",
        "Frames queued per socket before its subscriptions lag and are resynced [default: 1024]",
    ),
    (
        "outbox-bytes",
        "BYTES",
        "Bytes queued per socket before its subscriptions lag and are resynced [default: 1048576]",
    ),
    (
        "ttl",
        "SECONDS",
        "How long a shared key lives after its last subscriber left [default: 60]",
    ),
    (
        "read-buffer-size",
        "BYTES",
        "WebSocket read buffer per socket [default: 4096]",
    ),
    ("no-demo", "", "Do not serve the demo page at /"),
    (
        "log-format",
        "FORMAT",
        "text, or json for one JSON object per line; RUST_LOG sets the level (info by default) [default: text]",
    ),
    (
        "redis",
        "URL",
        "Share every key with the other nodes on this Redis (redis://host:6379): one authority per key across the cluster, failover when a node dies (a build with the redis feature)",
    ),
    (
        "node-id",
        "ID",
        "This node's id in the cluster [default: derived from the process]",
    ),
    (
        "lease-ms",
        "MS",
        "How long a key's lease lives without renewal: how long a dead node's keys wait before another node takes them over [default: 3000]",
    ),
    (
        "redis-prefix",
        "PREFIX",
        "The prefix of livestate's Redis keys [default: livestate]",
    ),
];

/// What the command line asks for.
enum Parsed {
    Serve(Box<ServeArgs>),
    /// Help or the version, to print.
    Told(String),
}

/// `livestate serve [flags]`, `--help`, `--version`.
fn parse(mut parser: lexopt::Parser) -> Result<Parsed, lexopt::Error> {
    use lexopt::prelude::*;
    let mut serving = false;
    let mut args = ServeArgs::default();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Parsed::Told(help(serving))),
            Long("version") | Short('V') => {
                return Ok(Parsed::Told(format!(
                    "livestate {}",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Value(command) if !serving && command == "serve" => serving = true,
            Long(flag) if serving => {
                let flag = flag.to_owned();
                let mut value = || parser.value();
                match flag.as_str() {
                    "config" => args.config = Some(value()?.into()),
                    "bind" => args.bind = Some(value()?.parse()?),
                    "max-frame-size" => args.max_frame_size = Some(value()?.parse()?),
                    "max-channels" => args.max_channels = Some(value()?.parse()?),
                    "idle-timeout" => args.idle_timeout = Some(value()?.parse()?),
                    "write-timeout" => args.write_timeout = Some(value()?.parse()?),
                    "outbox-capacity" => args.outbox_capacity = Some(value()?.parse()?),
                    "outbox-bytes" => args.outbox_bytes = Some(value()?.parse()?),
                    "ttl" => args.ttl = Some(value()?.parse()?),
                    "read-buffer-size" => args.read_buffer_size = Some(value()?.parse()?),
                    "no-demo" => args.no_demo = true,
                    "log-format" => {
                        let format = value()?.string()?;
                        args.log_format = format
                            .parse()
                            .map_err(|e| lexopt::Error::from(format!("--log-format: {e}")))?;
                    }
                    "redis" => args.redis = Some(value()?.string()?),
                    "node-id" => args.node_id = Some(value()?.string()?),
                    "lease-ms" => args.lease_ms = Some(value()?.parse()?),
                    "redis-prefix" => args.redis_prefix = Some(value()?.string()?),
                    _ => return Err(lexopt::Error::UnexpectedOption(format!("--{flag}"))),
                }
            }
            arg => return Err(arg.unexpected()),
        }
    }
    if serving {
        Ok(Parsed::Serve(Box::new(args)))
    } else {
        Err(lexopt::Error::from("a command is needed: serve"))
    }
}

/// The help text: of `serve`, or of the program.
fn help(serve: bool) -> String {
    if !serve {
        return format!(
            "Live shared state for web clients, LiveState-compatible\n\n{USAGE}\n\n\
             Commands:\n  serve  Serve the WebSocket endpoint (/socket/websocket?vsn=2.0.0), \
             /health, /livestate.js, the HTTP API and the demo page"
        );
    }
    let mut text = format!("{USAGE}\n\nFlags:\n");
    for (name, value, help) in FLAGS {
        let flag = if value.is_empty() {
            format!("--{name}")
        } else {
            format!("--{name} {value}")
        };
        text.push_str(&format!("  {flag:<26} {help}\n"));
    }
    text
}

/// The flags of `serve`. A flag given on the command line wins over the configuration
/// file, which wins over the defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ServeArgs {
    /// A TOML configuration file.
    pub config: Option<PathBuf>,
    /// Address to listen on.
    pub bind: Option<SocketAddr>,
    /// Largest frame a client may send, in bytes.
    pub max_frame_size: Option<usize>,
    /// Channels one socket may join at once.
    pub max_channels: Option<usize>,
    /// Seconds without a frame before a socket is closed.
    pub idle_timeout: Option<u64>,
    /// Seconds a client may leave what it is sent unread.
    pub write_timeout: Option<u64>,
    /// Frames queued per socket before its subscriptions lag.
    pub outbox_capacity: Option<usize>,
    /// Bytes queued per socket before its subscriptions lag.
    pub outbox_bytes: Option<usize>,
    /// Seconds a shared key lives after its last subscriber left.
    pub ttl: Option<u64>,
    /// WebSocket read buffer per socket, in bytes.
    pub read_buffer_size: Option<usize>,
    /// Do not serve the demo page at `/`.
    pub no_demo: bool,
    /// How log lines are written.
    pub log_format: livestate_server::logging::LogFormat,
    /// Share every key through this Redis.
    pub redis: Option<String>,
    /// This node's id in the cluster.
    pub node_id: Option<String>,
    /// Milliseconds a key's lease lives without renewal.
    pub lease_ms: Option<u64>,
    /// The prefix of livestate's Redis keys.
    pub redis_prefix: Option<String>,
}

/// Run `serve` with `hub`'s routes until SIGINT or SIGTERM. The configuration file's
/// `[[docs]]` patterns are added to them (without any, `doc:*` with the defaults, unless
/// `hub` routes it already).
pub async fn run(args: ServeArgs, hub: HubBuilder) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let secs = |flag: Option<u64>| flag.map(Duration::from_secs);
    let ttl = match (args.ttl, file.limits.ttl) {
        (Some(s), _) => Some(Duration::from_secs(s)),
        (None, Some(TtlConfig::After(d))) => Some(d),
        // "never" as the default TTL: a very long one (channels may still set their own)
        (None, Some(TtlConfig::Never)) => Some(Duration::from_secs(u64::from(u32::MAX))),
        (None, None) => None,
    };
    let mut limits = Limits::default();
    if let Some(n) = args.max_channels.or(file.limits.max_channels) {
        limits.max_channels = n;
    }
    if let Some(n) = args.outbox_capacity.or(file.limits.outbox_capacity) {
        limits.outbox_capacity = n;
    }
    if let Some(n) = args.outbox_bytes.or(file.limits.outbox_bytes) {
        limits.outbox_bytes = n;
    }
    if let Some(ttl) = ttl {
        limits.ttl = ttl;
    }
    if let Some(timeout) = file.limits.handler_timeout {
        limits.handler_timeout = timeout;
    }
    limits.state = file.limits.state();
    let mut config = ServerConfig::default();
    if let Some(n) = args.max_frame_size.or(file.limits.max_frame_size) {
        config.max_frame_size = n;
    }
    if let Some(t) = secs(args.idle_timeout).or(file.limits.idle_timeout) {
        config.idle_timeout = t;
    }
    if let Some(t) = secs(args.write_timeout).or(file.limits.write_timeout) {
        config.write_timeout = t;
    }
    if let Some(n) = args.read_buffer_size.or(file.limits.read_buffer_size) {
        config.read_buffer_size = n;
    }
    if let Some(t) = file.limits.body_timeout {
        config.body_timeout = t;
    }
    let mut hub = hub;
    for doc in &file.docs {
        hub = hub.channel(&doc.pattern, doc_channel(doc, limits.state));
    }
    if file.docs.is_empty() && !hub.routes("doc:*") {
        hub = hub.channel("doc:*", DocChannel::default());
    }
    let mut endpoint = Endpoint::builder().hub(hub).limits(limits).config(config);
    let mode = match args.redis.clone().or(file.redis.url.clone()) {
        Some(url) => {
            let (with_cluster, node) = cluster(endpoint, url.clone(), &args, &file).await?;
            endpoint = with_cluster;
            format!("cluster node {node} on Redis {}", redact(&url))
        }
        None => "standalone, state in memory".to_owned(),
    };
    if let Some(token) = &file.api.token {
        endpoint = endpoint.api_token(token.clone());
    }
    match file.api.allow_origins.as_deref() {
        Some([any]) if any == "*" => endpoint = endpoint.allow_any_origin(),
        Some(origins) => endpoint = endpoint.allow_origins(origins),
        None => {}
    }
    let endpoint = endpoint.build();
    let bind = args
        .bind
        .or(file.bind)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4000)));
    let signal = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let config_file = args.config.as_ref().map(|p| p.display().to_string());
    tracing::info!(
        bind = %addr,
        mode = %mode,
        config = config_file.as_deref().unwrap_or("none"),
        "livestate listening on http://{addr} (WebSocket: ws://{addr}/socket/websocket?vsn=2.0.0)"
    );
    println!("livestate listening on {addr}");
    let mut app = endpoint.router();
    if !args.no_demo {
        app = app.merge(demo_router());
    }
    serve(listener, app, &endpoint, signal).await?;
    tracing::info!("livestate stopped");
    Ok(())
}

/// Make the node one of a cluster on the Redis at `url`.
#[cfg(feature = "redis")]
async fn cluster(
    endpoint: EndpointBuilder,
    url: String,
    args: &ServeArgs,
    file: &Config,
) -> anyhow::Result<(EndpointBuilder, String)> {
    let mut opts = livestate_redis::RedisOptions::new(url);
    if let Some(node) = args.node_id.clone().or(file.redis.node_id.clone()) {
        opts.node = node;
    }
    if let Some(ms) = args.lease_ms.or(file.redis.lease_ms) {
        opts.lease_time = Duration::from_millis(ms);
    }
    if let Some(prefix) = args.redis_prefix.clone().or(file.redis.prefix.clone()) {
        opts.prefix = prefix;
    }
    let node = opts.node.clone();
    let backplane = livestate_redis::RedisBackplane::connect(opts).await?;
    Ok((endpoint.backplane(backplane), node))
}

/// A Redis URL without its password, for the log (userinfo without a `:` may be a
/// password too: it goes whole).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}

/// Without the `redis` feature there is no cluster mode: say how to get it.
#[cfg(not(feature = "redis"))]
async fn cluster(
    _: EndpointBuilder,
    url: String,
    _: &ServeArgs,
    _: &Config,
) -> anyhow::Result<(EndpointBuilder, String)> {
    anyhow::bail!(
        "cluster mode on {url} needs a livestate built with the redis feature \
         (cargo install livestate-cli --features redis)"
    )
}

/// The `doc:` channel a `[[docs]]` entry describes.
fn doc_channel(doc: &DocConfig, base: StateLimits) -> DocChannel {
    let mut channel = DocChannel::new(doc.initial.clone())
        .acl(doc.acl)
        .presence(doc.presence);
    if let Some(limits) = doc.state(base) {
        channel = channel.limits(limits);
    }
    if let Some(ttl) = doc.ttl {
        channel = channel.ttl(ttl.to_ttl());
    }
    if let Some(max) = doc.max_version {
        channel = channel.max_version(max);
    }
    if let Some(ms) = doc.coalesce_ms {
        channel = channel.coalesce(std::time::Duration::from_millis(ms));
    }
    channel
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Parsed, String> {
        parse(lexopt::Parser::from_args(args.iter().copied())).map_err(|e| e.to_string())
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match parsed(args) {
            Ok(Parsed::Serve(args)) => *args,
            Ok(Parsed::Told(text)) => panic!("told {text}"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    #[test]
    fn flags_are_read_with_their_values() {
        let args = serve(&[
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--config=livestate.toml",
            "--ttl",
            "5",
            "--no-demo",
            "--redis",
            "redis://127.0.0.1:6379",
        ]);
        assert_eq!(args.bind, Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(args.config, Some(PathBuf::from("livestate.toml")));
        assert_eq!((args.ttl, args.no_demo), (Some(5), true));
        assert_eq!(args.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(args.max_channels, None);
    }

    #[test]
    fn redis_passwords_stay_out_of_the_log() {
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(
            redact("redis://app:s3cret@redis.internal:6379/2"),
            "redis://app:***@redis.internal:6379/2"
        );
        assert_eq!(redact("redis://:s3cret@host"), "redis://:***@host");
        assert_eq!(redact("rediss://s3cret@host"), "rediss://***@host");
        assert_eq!(redact("redis://a:b@c@host"), "redis://a:***@host");
    }

    #[test]
    fn log_formats_are_flags() {
        use livestate_server::logging::LogFormat;
        assert_eq!(serve(&["serve"]).log_format, LogFormat::Text);
        assert_eq!(
            serve(&["serve", "--log-format", "json"]).log_format,
            LogFormat::Json
        );
        assert_eq!(
            parsed(&["serve", "--log-format", "xml"])
                .err()
                .unwrap_or_default(),
            "--log-format: unknown log format \"xml\": use text or json"
        );
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let err = |args: &[&str]| parsed(args).err().unwrap_or_default();
        assert_eq!(err(&[]), "a command is needed: serve");
        assert_eq!(err(&["serve", "--port", "80"]), "invalid option '--port'");
        assert!(err(&["serve", "--bind"]).contains("missing argument for option '--bind'"));
        assert!(
            err(&["serve", "--ttl", "soon"]).contains("cannot parse argument \"soon\""),
            "{}",
            err(&["serve", "--ttl", "soon"])
        );
        assert_eq!(err(&["start"]), "unexpected argument \"start\"");
    }

    #[test]
    fn help_lists_every_flag() {
        let Ok(Parsed::Told(text)) = parsed(&["serve", "--help"]) else {
            panic!("no help");
        };
        for (name, _, _) in FLAGS {
            assert!(text.contains(&format!("--{name}")), "{text}");
        }
        assert!(
            matches!(parsed(&["--version"]), Ok(Parsed::Told(v)) if v.starts_with("livestate "))
        );
    }
}
