//! [`Config`]: what to run, against what, how hard and for how long.

use crate::target::Target;
use std::time::Duration;

/// A scenario: what the load looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Open `clients` sockets, each joined to one topic (`shared`) or its own; report join
    /// time and the server's resident memory per socket.
    Connect,
    /// `clients` sockets, each on its own topic with one request in flight, for `duration`;
    /// report requests per second and round-trip time.
    Events,
    /// `clients` receivers and `senders` senders on one topic; the senders together send
    /// `rate` messages per second; report deliveries per second, loss and end-to-end latency.
    Fanout,
    /// Live views (`livestate-view-bench-server`): the bytes of a one-row update of a
    /// 100-row list on the wire against the whole page's HTML.
    ViewBytes,
    /// Live views: `clients` thermostat views, each its own page and socket, joined and
    /// idle for `warmup`; the server's resident memory per view.
    ViewConnect,
    /// Live views: `clients` thermostat views and `clients` channel sockets with the same
    /// counter, each kind sending `rate` events per second in all, for `duration`; round
    /// trip of a click (reply with the diff) against `lvs_evt:inc` (`state:patch`).
    ViewEvents,
    /// Shared keys: `clients` board views (`/board`, attached to `doc:board`, spread over
    /// the `urls`) and a writer putting `rate` changes per second into the key; deliveries
    /// per second, write to the last view's diff p50/p99, each view's staleness.
    SharedViews,
    /// Shared keys: the same with `clients` phx-live-state sockets joined to `doc:board`
    /// instead of views (the baseline of the views' server CPU).
    SharedSockets,
    /// Shared keys: a busy key, `rate` changes per second (10,000), to `clients` sockets
    /// and `views` board views; messages per second per subscriber and staleness p50/p99.
    BusyKey,
}

impl Scenario {
    /// The scenario's name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Connect => "connect",
            Scenario::Events => "events",
            Scenario::Fanout => "fanout",
            Scenario::ViewBytes => "view-bytes",
            Scenario::ViewConnect => "view-connect",
            Scenario::ViewEvents => "view-events",
            Scenario::SharedViews => "shared-views",
            Scenario::SharedSockets => "shared-sockets",
            Scenario::BusyKey => "busy-key",
        }
    }
}

/// How the shared-key scenarios' writers write to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Writer {
    /// A phx-live-state socket joined to the key (`lvs_evt:put`).
    Socket,
    /// The HTTP state API (`PUT /api/state/KEY?path=/m`), requests pipelined.
    Http,
}

/// Everything a run needs. Every phase is bounded, so a run ends within
/// `setup_limit + warmup + duration + drain` plus a few seconds of closing, whatever the
/// server does.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to run.
    pub scenario: Scenario,
    /// Which protocol the server speaks.
    pub target: Target,
    /// The server: `ws://HOST:PORT` (the target's path is appended) or a full URL.
    pub url: String,
    /// Sockets (connect, events), receivers (fanout), views (view-connect), or views and
    /// as many channel sockets (view-events).
    pub clients: usize,
    /// Senders (fanout only), separate sockets from the receivers.
    pub senders: usize,
    /// Messages per second, all senders together (fanout); events per second of each
    /// kind, all its sockets together (view-events).
    pub rate: f64,
    /// Length of the measurement window (events, fanout).
    pub duration: Duration,
    /// Load before the measurement window (events, fanout); for connect, how long the
    /// sockets sit idle before the server's memory is read.
    pub warmup: Duration,
    /// connect: every socket joins the same topic.
    pub shared: bool,
    /// The server's process id, to read its memory and CPU time from `/proc`.
    pub server_pid: Option<u32>,
    /// The topic (room) to use instead of a fresh one per run (with `events`, a prefix:
    /// each socket's topic is `TOPIC-INDEX`).
    pub topic: Option<String>,
    /// How long one connect, join or request may take.
    pub timeout: Duration,
    /// How long opening and joining every socket may take in all.
    pub setup_limit: Duration,
    /// After the window, how long to wait for messages still in flight (fanout).
    pub drain: Duration,
    /// Sockets being opened at once.
    pub concurrency: usize,
    /// A label echoed in the result line.
    pub label: Option<String>,
    /// Board views besides the sockets (busy-key).
    pub views: usize,
    /// Every server of a cluster (shared-views, shared-sockets, busy-key: subscribers are
    /// spread over them in turn, the writers use the first); empty: `url` alone.
    pub urls: Vec<String>,
    /// Every server process, for their CPU time summed (empty: `server_pid` alone).
    pub server_pids: Vec<u32>,
    /// How the shared-key scenarios write (default: the HTTP API for busy-key, a socket
    /// for the others).
    pub writer: Option<Writer>,
}

impl Config {
    /// A configuration with the defaults of the command line.
    pub fn new(scenario: Scenario, target: Target, url: impl Into<String>) -> Config {
        Config {
            scenario,
            target,
            url: url.into(),
            clients: 100,
            senders: 10,
            rate: 1000.0,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            shared: false,
            server_pid: None,
            topic: None,
            timeout: Duration::from_secs(10),
            setup_limit: Duration::from_secs(15),
            drain: Duration::from_secs(2),
            concurrency: 64,
            label: None,
            views: 0,
            urls: Vec::new(),
            server_pids: Vec::new(),
            writer: None,
        }
    }

    /// The servers: `urls`, or `url` alone.
    pub fn servers(&self) -> Vec<String> {
        if self.urls.is_empty() {
            vec![self.url.clone()]
        } else {
            self.urls.clone()
        }
    }

    /// The server processes: `server_pids`, or `server_pid` alone.
    pub fn pids(&self) -> Vec<u32> {
        if self.server_pids.is_empty() {
            self.server_pid.into_iter().collect()
        } else {
            self.server_pids.clone()
        }
    }

    /// The longest a run of this configuration can take (its phases' bounds, plus closing).
    pub fn bound(&self) -> Duration {
        self.setup_limit + self.warmup + self.duration + self.drain + Duration::from_secs(4)
    }
}
