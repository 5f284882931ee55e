//! Round trip of one event on one socket: send `lvs_evt:increment` on a `doc:` topic,
//! wait for its acknowledgement (which follows the patch), repeat.
//!
//! ```text
//! cargo run --release -p livestate-testkit --example roundtrip -- ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0 10000
//! ```
//! (or `scripts/roundtrip`, which builds and starts a release server first).

use anyhow::{Context, Result, bail};
use livestate_testkit::Client;
use serde_json::json;
use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: roundtrip WS_URL [EVENTS]")?;
    let events: usize = args
        .next()
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(10_000);
    let mut c = Client::connect(&url).await?;
    let topic = format!("doc:roundtrip-{}", std::process::id());
    let jr = c.join(&topic, json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let r = c
        .push_event(&jr, &topic, "put", json!({"path": "/n", "value": 0}))
        .await?;
    c.reply_to(&r).await?;
    let mut samples = Vec::with_capacity(events);
    for _ in 0..events {
        let start = Instant::now();
        let r = c
            .push_event(&jr, &topic, "increment", json!({"path": "/n"}))
            .await?;
        let reply = c.reply_to(&r).await?;
        samples.push(start.elapsed());
        if reply.payload["status"] != "ok" {
            bail!("refused: {reply:?}");
        }
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{{\"events\":{events},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
        pct(0.50).as_micros(),
        pct(0.99).as_micros(),
        samples[samples.len() - 1].as_micros()
    );
    Ok(())
}
