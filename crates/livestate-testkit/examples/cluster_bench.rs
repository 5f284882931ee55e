//! Cluster figures, side by side with one standalone node: the latency from an event sent
//! on one node to its patch on another, and the increments per second one key sustains
//! with clients spread across three nodes.
//!
//! ```text
//! cargo run --release -p livestate-testkit --example cluster_bench -- target/release/livestate
//! ```
//! (or `scripts/cluster-bench`, which builds the release binaries first). It starts its own
//! `redis-server` on a free port (persistent: `appendonly yes`, `appendfsync everysec`),
//! three nodes on it and, for the baseline, one node without Redis. Prints one JSON line
//! per measurement, then a summary.
//!
//! - `latency`: one sender, one receiver on another node, one event at a time
//!   (`put /t = i`); the time from sending to the receiver's `state:patch` holding `i`.
//!   Measured with the key's authority on the sender's node and on a third node (the event
//!   is then forwarded). The baseline: sender and receiver on one standalone node.
//! - `throughput`: `CLIENTS` clients, a third on each node, each sending `increment /n`
//!   and waiting for its reply before the next, for `SECONDS`; acknowledged increments per
//!   second, and a check that Redis holds every one of them. Every client receives every
//!   patch. The baseline: the same clients on one standalone node.

use anyhow::{Context, Result, bail, ensure};
use livestate_testkit::client::reply_status;
use livestate_testkit::redis::RedisServer;
use livestate_testkit::{Client, ServerProcess};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SAMPLES: usize = 2000;
const CLIENTS: usize = 30;
const SECONDS: u64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let bin = std::env::args()
        .nth(1)
        .context("usage: cluster_bench PATH_TO_LIVESTATE [latency|throughput]")?;
    let only = std::env::args().nth(2);
    let (lat, thr) = match only.as_deref() {
        None => (true, true),
        Some("latency") => (true, false),
        Some("throughput") => (false, true),
        Some(other) => bail!("unknown measurement {other:?}: latency or throughput"),
    };
    let mut lines = Vec::new();

    let single = ServerProcess::spawn(&bin, &["--no-demo"]).await?;
    let one = [single.url()];
    if lat {
        lines.push(latency("standalone", &one, 0, 0, 0).await?);
    }
    if thr {
        lines.push(throughput("standalone", &one, None, 0).await?);
        lines.push(throughput("standalone, 100,000-entry state", &one, None, 100_000).await?);
    }
    drop(single);

    let redis = RedisServer::start_persistent().await?;
    let mut nodes = Vec::new();
    for i in 1..=3 {
        let id = format!("n{i}");
        nodes.push(
            ServerProcess::spawn(
                &bin,
                &["--no-demo", "--redis", &redis.url(), "--node-id", &id],
            )
            .await?,
        );
    }
    let urls: Vec<String> = nodes.iter().map(ServerProcess::url).collect();
    if lat {
        lines.push(latency("cluster, authority on the sender's node", &urls, 0, 1, 0).await?);
        lines.push(latency("cluster, authority on a third node", &urls, 0, 1, 2).await?);
    }
    if thr {
        lines.push(throughput("cluster, 3 nodes", &urls, Some(&redis), 0).await?);
        lines.push(
            throughput(
                "cluster, 3 nodes, 100,000-entry state",
                &urls,
                Some(&redis),
                100_000,
            )
            .await?,
        );
    }

    for line in &lines {
        println!("{line}");
    }
    println!();
    println!("| measurement | p50 / p99 (µs) or increments/s |");
    println!("|---|---|");
    for l in &lines {
        if let Some(p50) = l.get("p50_us") {
            println!(
                "| latency: {} | {p50} / {} |",
                l["setup"].as_str().unwrap_or(""),
                l["p99_us"]
            );
        } else {
            println!(
                "| throughput: {} | {} |",
                l["setup"].as_str().unwrap_or(""),
                l["increments_per_s"]
            );
        }
    }
    Ok(())
}

async fn joined(url: &str, topic: &str) -> Result<(Client, String)> {
    let mut c = Client::connect(url).await?;
    let jr = c.join(topic, json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    Ok((c, jr))
}

/// One event at a time from `urls[from]` to a receiver on `urls[to]`; the key is first
/// joined on `urls[owner]`, whose node then holds it.
async fn latency(
    setup: &str,
    urls: &[String],
    from: usize,
    to: usize,
    owner: usize,
) -> Result<Value> {
    let topic = format!("doc:latency-{}-{owner}", std::process::id());
    let (_owner, _) = joined(&urls[owner], &topic)
        .await
        .context("the owner's join")?;
    let (mut sender, jr) = joined(&urls[from], &topic)
        .await
        .context("the sender's join")?;
    let (mut receiver, _) = joined(&urls[to], &topic)
        .await
        .context("the receiver's join")?;
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 100 {
        let start = Instant::now();
        let r = sender
            .push_event(&jr, &topic, "put", json!({"path": "/t", "value": i}))
            .await?;
        receiver
            .recv_until(|f| {
                f.event == "state:patch"
                    && f.payload["patch"].as_array().is_some_and(|ops| {
                        ops.iter().any(|op| op["path"] == "/t" && op["value"] == i)
                    })
            })
            .await
            .with_context(|| format!("the patch of event {i}"))?;
        let elapsed = start.elapsed();
        let reply = sender
            .reply_to(&r)
            .await
            .with_context(|| format!("the reply to event {i}"))?;
        if reply_status(&reply).0 != "ok" {
            bail!("event {i} refused: {reply:?}");
        }
        // the first hundred warm up
        if i >= 100 {
            samples.push(elapsed);
        }
    }
    samples.sort();
    let pct =
        |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_micros();
    Ok(json!({
        "measurement": "latency",
        "setup": setup,
        "events": SAMPLES,
        "p50_us": pct(0.50),
        "p99_us": pct(0.99),
        "max_us": samples[samples.len() - 1].as_micros(),
    }))
}

/// `CLIENTS` clients spread over `urls`, each sending increments one at a time.
async fn throughput(
    setup: &str,
    urls: &[String],
    redis: Option<&RedisServer>,
    entries: usize,
) -> Result<Value> {
    let topic = format!("doc:throughput-{}-{entries}", std::process::id());
    let (mut first, jr) = joined(&urls[0], &topic).await?;
    let r = first
        .push_event(&jr, &topic, "put", json!({"path": "/n", "value": 0}))
        .await?;
    ensure!(reply_status(&first.reply_to(&r).await?).0 == "ok");
    // a large state: `entries` entries of about 40 bytes under /big, 500 per event
    let r = first
        .push_event(&jr, &topic, "put", json!({"path": "/big", "value": {}}))
        .await?;
    ensure!(reply_status(&first.reply_to(&r).await?).0 == "ok");
    for chunk in (0..entries).collect::<Vec<_>>().chunks(500) {
        let ops: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"op": "add", "path": format!("/big/k{i}"), "value": format!("entry {i} of the large state")}))
            .collect();
        let r = first
            .push_event(&jr, &topic, "patch", json!({"ops": ops}))
            .await?;
        let reply = first.reply_to(&r).await?;
        ensure!(reply_status(&reply).0 == "ok", "{reply:?}");
    }
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(joined(&urls[i % urls.len()], &topic).await?);
    }
    let start = Instant::now();
    let until = start + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(mut c, jr)| {
            let topic = topic.clone();
            tokio::spawn(async move {
                let (mut acked, mut refused) = (0u64, 0u64);
                while Instant::now() < until {
                    let r = c
                        .push_event(&jr, &topic, "increment", json!({"path": "/n"}))
                        .await?;
                    let reply = c.reply_to(&r).await?;
                    match reply_status(&reply) {
                        ("ok", _) => acked += 1,
                        (_, response) => {
                            if refused == 0 {
                                eprintln!("refused: {response}");
                            }
                            refused += 1;
                        }
                    }
                }
                anyhow::Ok((acked, refused))
            })
        })
        .collect();
    let (mut acked, mut refused) = (0, 0);
    for t in tasks {
        let (a, r) = t.await??;
        acked += a;
        refused += r;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut stored = Value::Null;
    if let Some(redis) = redis {
        let (state, _) = redis
            .stored_state("livestate", &topic)
            .await?
            .context("no state in Redis")?;
        let n = state["n"].as_u64().unwrap_or(0);
        // a refused increment may still have been committed (its answer timed out)
        ensure!(
            acked <= n && n <= acked + refused,
            "Redis holds {n} increments; {acked} were acknowledged, {refused} refused"
        );
        stored = json!(n);
    }
    Ok(json!({
        "measurement": "throughput",
        "setup": setup,
        "clients": CLIENTS,
        "state_entries": entries,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "acknowledged": acked,
        "refused": refused,
        "in_redis": stored,
        "increments_per_s": (acked as f64 / elapsed).round(),
    }))
}
