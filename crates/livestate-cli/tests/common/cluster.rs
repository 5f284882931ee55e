//! A cluster for tests: a redis-server of its own and N `livestate` processes on it, and
//! workers that send increments to one key, each through a socket to one node, moving to
//! another node when theirs goes away.

#![allow(dead_code, unreachable_pub)]

use anyhow::{Context, Result, anyhow, bail, ensure};
use livestate_testkit::client::{Incoming, reply_status};
use livestate_testkit::redis::RedisServer;
use livestate_testkit::{Client, LiveView, ServerProcess};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

/// How long a lease lives in these tests.
pub const LEASE_MS: u64 = 1500;

pub struct TestCluster {
    pub redis: RedisServer,
    pub nodes: Vec<Option<ServerProcess>>,
    pub urls: Vec<String>,
}

impl TestCluster {
    /// Redis (persistent if asked) and `n` nodes `n1`..`nN`.
    pub async fn start(n: usize, persistent: bool) -> Result<TestCluster> {
        TestCluster::start_with(n, persistent, &["--no-demo"]).await
    }

    /// Like [`TestCluster::start`], each node started with `args` too.
    pub async fn start_with(n: usize, persistent: bool, args: &[&str]) -> Result<TestCluster> {
        let redis = if persistent {
            RedisServer::start_persistent().await?
        } else {
            RedisServer::start().await?
        };
        let mut nodes = Vec::new();
        let mut urls = Vec::new();
        for i in 1..=n {
            let node = ServerProcess::spawn(
                env!("CARGO_BIN_EXE_livestate"),
                &[
                    "--redis",
                    &redis.url(),
                    "--node-id",
                    &format!("n{i}"),
                    "--lease-ms",
                    &LEASE_MS.to_string(),
                ]
                .into_iter()
                .chain(args.iter().copied())
                .collect::<Vec<_>>(),
            )
            .await?;
            urls.push(node.url());
            nodes.push(Some(node));
        }
        Ok(TestCluster { redis, nodes, urls })
    }

    /// The node holding `topic`'s lease (`n1` is index 0).
    pub async fn leader(&self, topic: &str) -> Result<Option<usize>> {
        let reply = self
            .redis
            .command(&["GET", &format!("livestate:{{{topic}}}:lease")])
            .await?;
        // "$6\r\nn2|17\r\n" or "$-1\r\n"
        let Some(value) = reply.split("\r\n").nth(1) else {
            return Ok(None);
        };
        let node = value.split('|').next().unwrap_or("");
        Ok(node
            .strip_prefix('n')
            .and_then(|i| i.parse::<usize>().ok())
            .map(|i| i - 1))
    }

    /// The committed state and internal version of `topic`, rebuilt from what Redis holds.
    pub async fn stored(&self, topic: &str) -> Result<(Value, u64)> {
        self.redis
            .stored_state("livestate", topic)
            .await?
            .ok_or_else(|| anyhow!("Redis holds no state for {topic}"))
    }

    /// Send a signal to node `i`.
    pub async fn signal(&self, i: usize, name: &str) -> Result<()> {
        self.nodes[i]
            .as_ref()
            .ok_or_else(|| anyhow!("node {i} is gone"))?
            .signal(name)
            .await
    }

    /// The HTTP address of node `i`.
    pub fn addr(&self, i: usize) -> std::net::SocketAddr {
        self.nodes[i].as_ref().expect("a running node").addr
    }

    /// Whether Redis holds a state for `topic`.
    pub async fn has_state(&self, topic: &str) -> Result<bool> {
        let reply = self
            .redis
            .command(&["EXISTS", &format!("livestate:{{{topic}}}:state")])
            .await?;
        Ok(reply.starts_with(":1"))
    }

    /// SIGKILL node `i`.
    pub async fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut node) = self.nodes[i].take() {
            node.signal("KILL").await?;
            node.wait(Duration::from_secs(5)).await?;
        }
        Ok(())
    }
}

/// The wire version of an internal one (doc: topics wrap after 1000).
pub fn wire(version: u64) -> u64 {
    version % 1001
}

/// A client sending increments of `/n` on one topic, one at a time.
pub struct Worker {
    pub id: usize,
    urls: Vec<String>,
    pub node: usize,
    topic: String,
    client: Client,
    join_ref: String,
    pub view: LiveView,
    pub acked: u64,
    pub refused: u64,
    /// Increments whose outcome is unknown (the socket went away before the answer).
    pub unknown: u64,
    pub reconnects: u64,
    /// When the last acknowledgement came.
    pub last_ack: Option<Instant>,
    /// The first acknowledgement after the test's mark (a fault), if any.
    pub resumed: Option<Instant>,
    /// The ref of an increment sent without waiting.
    pending: Option<String>,
}

/// What a test shares with its running workers.
#[derive(Default)]
pub struct Control {
    /// Stop sending.
    pub stop: std::sync::atomic::AtomicBool,
    /// When the fault happened.
    pub mark: std::sync::Mutex<Option<Instant>>,
    /// Workers with an acknowledgement after the mark.
    resumed: std::sync::atomic::AtomicUsize,
}

impl Control {
    pub fn stopped(&self) -> bool {
        self.stop.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_mark(&self) -> Instant {
        let now = Instant::now();
        *self.mark.lock().unwrap() = Some(now);
        now
    }

    fn mark(&self) -> Option<Instant> {
        *self.mark.lock().unwrap()
    }

    /// Wait until `count` workers have had an increment acknowledged since the mark (a
    /// minute at most: a failover that takes that long has failed, however busy the
    /// machine).
    pub async fn wait_resumed(&self, count: usize) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.resumed.load(std::sync::atomic::Ordering::SeqCst) < count {
            ensure!(
                Instant::now() < deadline,
                "{} of {count} clients resumed",
                self.resumed.load(std::sync::atomic::Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// Run workers until `control` says stop; give them back.
pub fn spawn_workers(
    workers: Vec<Worker>,
    control: std::sync::Arc<Control>,
) -> Vec<tokio::task::JoinHandle<Result<Worker>>> {
    workers
        .into_iter()
        .map(|mut w| {
            let control = control.clone();
            tokio::spawn(async move {
                while !control.stopped() {
                    let before = w.acked;
                    w.increment().await?;
                    if w.acked > before && w.resumed.is_none() {
                        if let Some(mark) = control.mark() {
                            if Instant::now() > mark {
                                w.resumed = Some(Instant::now());
                                control
                                    .resumed
                                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                        }
                    }
                }
                Ok(w)
            })
        })
        .collect()
}

impl Worker {
    pub async fn connect(id: usize, urls: Vec<String>, node: usize, topic: &str) -> Result<Worker> {
        let (client, join_ref, view) = join(&urls[node], topic).await?;
        Ok(Worker {
            id,
            urls,
            node,
            topic: topic.to_owned(),
            client,
            join_ref,
            view,
            acked: 0,
            refused: 0,
            unknown: 0,
            reconnects: 0,
            last_ack: None,
            resumed: None,
            pending: None,
        })
    }

    /// Move to the next node that takes us (after ours went away).
    async fn reconnect(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.node = (self.node + 1) % self.urls.len();
            if let Ok((client, join_ref, view)) = join(&self.urls[self.node], &self.topic).await {
                self.client = client;
                self.join_ref = join_ref;
                self.view = view;
                self.reconnects += 1;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("worker {} found no node to reconnect to", self.id);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Send one increment and wait for its answer (applying whatever arrives meanwhile).
    pub async fn increment(&mut self) -> Result<()> {
        let sent = self
            .client
            .push_event(
                &self.join_ref,
                &self.topic,
                "increment",
                json!({"path": "/n"}),
            )
            .await;
        let r = match sent {
            Ok(r) => r,
            Err(_) => {
                self.unknown += 1;
                return self.reconnect().await;
            }
        };
        loop {
            match self.client.next().await {
                Ok(Incoming::Frame(f)) => {
                    if f.event == "phx_reply" && f.r#ref.as_deref() == Some(r.as_str()) {
                        if reply_status(&f).0 == "ok" {
                            self.acked += 1;
                            self.last_ack = Some(Instant::now());
                        } else {
                            self.refused += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return Ok(());
                    }
                    if f.event == "phx_error" {
                        // the node gave the key up: rejoin (on the same node)
                        self.unknown += 1;
                        self.node = (self.node + self.urls.len() - 1) % self.urls.len();
                        return self.reconnect().await;
                    }
                    self.apply(&f).await?;
                }
                Ok(Incoming::Closed(_)) | Err(_) => {
                    self.unknown += 1;
                    return self.reconnect().await;
                }
                Ok(Incoming::Garbage(g)) => bail!("garbage from the server: {g}"),
            }
        }
    }

    /// Send one increment without waiting for its answer; `finish_paused_push` reads it.
    pub async fn client_push_while_paused(&mut self) -> Result<()> {
        let r = self
            .client
            .push_event(
                &self.join_ref,
                &self.topic,
                "increment",
                json!({"path": "/n"}),
            )
            .await?;
        self.pending = Some(r);
        Ok(())
    }

    /// The outcome of the increment sent by `client_push_while_paused`: "ok", "error", or
    /// "unknown" when the socket closed first or no answer came within 15 s. Counts it.
    pub async fn finish_paused_push(&mut self) -> Result<&'static str> {
        let r = self
            .pending
            .take()
            .ok_or_else(|| anyhow!("no increment is pending"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let outcome = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.client.next()).await {
                Ok(Ok(Incoming::Frame(f))) => {
                    if f.event == "phx_reply" && f.r#ref.as_deref() == Some(r.as_str()) {
                        break if reply_status(&f).0 == "ok" {
                            "ok"
                        } else {
                            "error"
                        };
                    }
                    if f.event == "phx_error" {
                        break "unknown";
                    }
                    self.view.apply(&f)?;
                }
                Ok(Ok(Incoming::Garbage(g))) => bail!("garbage from the server: {g}"),
                Ok(Ok(Incoming::Closed(_))) | Ok(Err(_)) | Err(_) => break "unknown",
            }
        };
        match outcome {
            "ok" => self.acked += 1,
            "error" => self.refused += 1,
            _ => self.unknown += 1,
        }
        if outcome != "ok" {
            // whatever happened, start again from a fresh join somewhere
            self.node = (self.node + self.urls.len() - 1) % self.urls.len();
            self.reconnect().await?;
        }
        Ok(outcome)
    }

    /// Apply a frame to the view; on a version gap ask for the whole state, as
    /// phx-live-state does.
    async fn apply(&mut self, f: &livestate_testkit::Frame) -> Result<()> {
        self.view.apply(f)?;
        if self.view.gaps > 0 {
            self.view.gaps = 0;
            let jr = self.join_ref.clone();
            self.client
                .send(Some(&jr), None, &self.topic, "lvs_refresh", json!({}))
                .await?;
        }
        Ok(())
    }

    /// Read until this worker has `state` at `version` (a wire version: it wraps, so the
    /// state must match too).
    pub async fn settle(&mut self, version: u64, state: &Value) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.view.version != Some(version) || self.view.state.as_ref() != Some(state) {
            if Instant::now() > deadline {
                bail!(
                    "worker {} on node {} stayed at version {:?} (want {version})",
                    self.id,
                    self.node,
                    self.view.version
                );
            }
            match tokio::time::timeout(Duration::from_millis(200), self.client.next()).await {
                Ok(Ok(Incoming::Frame(f))) => self.apply(&f).await?,
                Ok(Ok(Incoming::Closed(_))) | Ok(Err(_)) => self.reconnect().await?,
                _ => {}
            }
        }
        Ok(())
    }
}

async fn join(url: &str, topic: &str) -> Result<(Client, String, LiveView)> {
    let mut client = Client::connect(url).await?;
    let join_ref = client.join(topic, json!({})).await?;
    let mut view = LiveView::default();
    let change = client
        .recv_until(|f| f.event == "state:change")
        .await
        .context("the state after joining")?;
    view.apply(&change)?;
    Ok((client, join_ref, view))
}

/// Put `/n = 0` on `topic` through node 0.
pub async fn start_counter(url: &str, topic: &str) -> Result<()> {
    let mut c = Client::connect(url).await?;
    let jr = c.join(topic, json!({})).await?;
    let r = c
        .push_event(&jr, topic, "put", json!({"path": "/n", "value": 0}))
        .await?;
    let reply = c.reply_to(&r).await?;
    if reply_status(&reply).0 != "ok" {
        bail!("could not start the counter: {reply:?}");
    }
    c.close().await;
    Ok(())
}
