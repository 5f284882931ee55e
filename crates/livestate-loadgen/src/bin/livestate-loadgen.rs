//! `livestate-loadgen SCENARIO --target T --url ws://HOST:PORT [flags]`: run one scenario
//! against a server and print its result as one JSON line on stdout (see
//! `livestate_loadgen` for the scenarios and the fields). Diagnostics go to stderr.
//!
//! ```text
//! livestate-loadgen fanout --target livestate --url ws://127.0.0.1:4000 \
//!     --clients 1000 --senders 10 --rate 1000 --duration 10 --warmup 2 --server-pid 1234
//! ```

use clap::Parser;
use livestate_loadgen::{Config, Scenario, Target, Writer};
use std::time::Duration;

/// The load generator's command line.
#[derive(Parser)]
#[command(
    version,
    about = "Load generator for livestate and its peers; prints one JSON line"
)]
struct Args {
    /// connect, events, fanout; view-bytes, view-connect, view-events, shared-views,
    /// shared-sockets, busy-key (against livestate-view-bench-server).
    #[arg(value_enum)]
    scenario: Scenario,
    /// The server's protocol.
    #[arg(long, value_enum, default_value = "livestate")]
    target: Target,
    /// The server: ws://HOST:PORT (the target's path is appended) or a full URL. For
    /// shared-views, shared-sockets and busy-key, several (comma-separated, or the flag
    /// again): the nodes of a cluster, the subscribers spread over them in turn.
    #[arg(long, default_value = "ws://127.0.0.1:4000", value_delimiter = ',')]
    url: Vec<String>,
    /// Sockets (connect, events), receivers (fanout), views (view-connect), views and as
    /// many channel sockets (view-events).
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Senders (fanout), separate from the receivers; writers (shared-views,
    /// shared-sockets, busy-key).
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages per second, all senders together (fanout); events per second of each kind
    /// (view-events).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds of measurement (events, fanout).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring; for connect, seconds idle before reading memory.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// connect: every socket joins the same topic.
    #[arg(long)]
    shared: bool,
    /// The server's process id, to read its memory and CPU time (several, comma-separated
    /// or the flag again: a cluster's, their CPU time summed).
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Board views besides the sockets (busy-key).
    #[arg(long, default_value_t = 0)]
    views: usize,
    /// How the shared-key scenarios write to the key (default: http for busy-key, socket
    /// for shared-views and shared-sockets).
    #[arg(long, value_enum)]
    writer: Option<Writer>,
    /// Topic (room) to use instead of a fresh one (events: a prefix).
    #[arg(long)]
    topic: Option<String>,
    /// Seconds one connect, join or request may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Seconds opening and joining every socket may take in all.
    #[arg(long, default_value_t = 15.0)]
    setup_limit: f64,
    /// Seconds to wait after the window for messages in flight (fanout).
    #[arg(long, default_value_t = 2.0)]
    drain: f64,
    /// Sockets being opened at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Worker threads of the load generator (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// A label echoed in the result line.
    #[arg(long)]
    label: Option<String>,
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::MAX)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let cfg = Config {
        clients: a.clients,
        senders: a.senders,
        rate: a.rate,
        duration: secs(a.duration),
        warmup: secs(a.warmup),
        shared: a.shared,
        server_pid: a.server_pid.first().copied(),
        server_pids: a.server_pid.clone(),
        urls: a.url.clone(),
        views: a.views,
        writer: a.writer,
        topic: a.topic,
        timeout: secs(a.timeout),
        setup_limit: secs(a.setup_limit),
        drain: secs(a.drain),
        concurrency: a.concurrency,
        label: a.label,
        ..Config::new(
            a.scenario,
            a.target,
            a.url.first().cloned().unwrap_or_default(),
        )
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = a.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build()?;
    let report = rt.block_on(livestate_loadgen::run(&cfg));
    println!("{}", report.to_line());
    // sockets still held by abandoned tasks must not delay the exit
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
