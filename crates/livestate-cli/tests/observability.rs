//! What an operator sees of a real `livestate` process: its DEBUG log tells a session's
//! story (connect, join, event, refusal, leave, an HTTP 403 with its path), without colour
//! when it is not a terminal; `/metrics` moves by exactly the traffic sent, behind the API
//! token; a bad `RUST_LOG` or `--log-format` stops the start, naming it.

use anyhow::{Context, Result, anyhow, bail};
use livestate_testkit::client::reply_status;
use livestate_testkit::{Client, http};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const TOKEN: &str = "metrics-test-token";

const CONFIG: &str = r#"
[api]
token = "metrics-test-token"

[[docs]]
pattern = "doc:*"
acl = { group = ["all"], public = ["read"] }
"#;

/// A `livestate serve` whose stderr (its log) is kept, line by line.
struct Logged {
    _child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    async fn start(name: &str, env: &[(&str, &str)], args: &[&str]) -> Result<Logged> {
        let config = std::env::temp_dir().join(format!(
            "livestate-observability-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&config, CONFIG)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_livestate"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--no-demo", "--config"])
            .arg(&config)
            .args(args)
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().context("starting livestate")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let kept = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("livestate did not start")??
            .ok_or_else(|| anyhow!("livestate exited: {:?}", log.lock().unwrap()))?;
        let addr = first
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("unexpected first line {first:?}"))?;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Logged {
            _child: child,
            addr,
            log,
        })
    }

    fn url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    /// The first line of the log with every one of `needles` (waiting for it to be
    /// written: the log is written by another process).
    async fn line_with(&self, needles: &[&str]) -> Result<String> {
        for _ in 0..600 {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .cloned();
            if let Some(line) = found {
                return Ok(line);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "no log line with {needles:?} in:\n{}",
            self.log.lock().unwrap().join("\n")
        )
    }

    /// `/metrics`, parsed: each sample's name with its labels, and its value.
    async fn metrics(&self) -> Result<HashMap<String, f64>> {
        let auth = format!("Bearer {TOKEN}");
        let res = http::request(
            self.addr,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            "",
        )
        .await?;
        anyhow::ensure!(res.status == 200, "/metrics: {} {}", res.status, res.body);
        let content_type = res.header("content-type").unwrap_or_default();
        anyhow::ensure!(
            content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
            "{content_type}"
        );
        let mut samples = HashMap::new();
        for line in res.body.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line
                .rsplit_once(' ')
                .ok_or_else(|| anyhow!("not a sample: {line:?}"))?;
            samples.insert(name.to_owned(), value.parse()?);
        }
        Ok(samples)
    }
}

/// How much each sample moved from `before` to `after`.
fn moved(before: &HashMap<String, f64>, after: &HashMap<String, f64>, name: &str) -> f64 {
    after.get(name).copied().unwrap_or(f64::NAN) - before.get(name).copied().unwrap_or(0.0)
}

async fn acked(client: &mut Client, r#ref: &str) -> Result<Value> {
    let reply = client.reply_to(r#ref).await?;
    let (status, response) = reply_status(&reply);
    anyhow::ensure!(status == "ok", "refused: {response}");
    Ok(response.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debug_log_tells_a_sessions_story() -> Result<()> {
    let server = Logged::start("story", &[("RUST_LOG", "debug")], &[]).await?;
    let start = server
        .line_with(&["INFO", "livestate listening", "mode=standalone"])
        .await?;
    assert!(start.contains(&format!("bind={}", server.addr)), "{start}");

    let topic = "doc:story";
    let mut client = Client::connect(&server.url()).await?;
    let join_ref = client.join(topic, json!({})).await?;
    let r = client
        .push_event(&join_ref, topic, "put", json!({"path": "/n", "value": 1}))
        .await?;
    acked(&mut client, &r).await?;
    let bad = json!({"ops": [{"op": "test", "path": "/n", "value": 2}]});
    let r = client.push_event(&join_ref, topic, "patch", bad).await?;
    let reply = client.reply_to(&r).await?;
    assert_eq!(reply_status(&reply).0, "error");
    let auth = format!("Bearer {TOKEN}");
    let forbidden = http::request(
        server.addr,
        "PUT",
        "/api/state/doc:story",
        &[("Authorization", &auth)],
        r#"{"n": 5}"#,
    )
    .await?;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    client.close().await;

    let open = server.line_with(&["DEBUG", "socket open"]).await?;
    assert!(
        open.contains("socket{id=") && open.contains("peer=127.0.0.1:"),
        "{open}"
    );
    let joined = server.line_with(&["DEBUG", "joined", topic]).await?;
    assert!(joined.contains("socket{id="), "the socket's span: {joined}");
    let event = server
        .line_with(&["DEBUG", "event=lvs_evt:put", topic])
        .await?;
    assert!(event.contains("socket{id="), "{event}");
    let refused = server.line_with(&["DEBUG", "event refused", topic]).await?;
    assert!(refused.contains("test"), "the reason: {refused}");
    assert!(
        refused.contains(&format!(" key{{key={topic}}}: ")),
        "the key's own span, no socket's: {refused}"
    );
    let http_refused = server.line_with(&["WARN", "HTTP request refused"]).await?;
    for needle in [
        "path=/api/state/doc:story",
        "status=403",
        "method=PUT",
        "reason=",
    ] {
        assert!(http_refused.contains(needle), "{needle}: {http_refused}");
    }
    server
        .line_with(&["DEBUG", "left (the socket closed)", topic])
        .await?;
    server
        .line_with(&["DEBUG", "socket closed by the client"])
        .await?;
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        !log.contains('\x1b'),
        "no colour in a log that is not a terminal"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() -> Result<()> {
    let server = Logged::start("json", &[("RUST_LOG", "info")], &["--log-format", "json"]).await?;
    let start = server.line_with(&["livestate listening"]).await?;
    let line: Value = serde_json::from_str(&start).with_context(|| start.clone())?;
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["fields"]["bind"], server.addr.to_string(), "{line}");
    assert_eq!(
        line["fields"]["mode"], "standalone, state in memory",
        "{line}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_the_traffic_sent() -> Result<()> {
    let server = Logged::start("metrics", &[], &[]).await?;
    let unauthorized = http::get(server.addr, "/metrics").await?;
    assert_eq!(unauthorized.status, 401, "{}", unauthorized.body);
    let wrong = http::request(
        server.addr,
        "GET",
        "/metrics",
        &[("Authorization", "Bearer nope")],
        "",
    )
    .await?;
    assert_eq!(wrong.status, 401);

    let before = server.metrics().await?;
    let topic = "doc:metrics";
    let (mut a, mut b) = (
        Client::connect(&server.url()).await?,
        Client::connect(&server.url()).await?,
    );
    let join_a = a.join(topic, json!({})).await?;
    b.join(topic, json!({})).await?;
    for i in 0..3 {
        let r = a
            .push_event(&join_a, topic, "put", json!({"path": "/n", "value": i}))
            .await?;
        acked(&mut a, &r).await?;
    }
    let bad = json!({"ops": [{"op": "test", "path": "/n", "value": 99}]});
    let r = a.push_event(&join_a, topic, "patch", bad).await?;
    assert_eq!(reply_status(&a.reply_to(&r).await?).0, "error");
    let r = a
        .push_event(&join_a, topic, "no_such_event", json!({}))
        .await?;
    assert_eq!(reply_status(&a.reply_to(&r).await?).0, "error");

    let during = server.metrics().await?;
    let refusals: Vec<_> = during
        .iter()
        .filter(|(k, v)| k.starts_with("livestate_refusals") && **v > 0.0)
        .collect();
    let delta = |name: &str| moved(&before, &during, name);
    assert_eq!(delta("livestate_sockets"), 2.0);
    assert_eq!(delta("livestate_channels"), 2.0);
    assert_eq!(delta("livestate_keys"), 1.0);
    assert_eq!(delta("livestate_events_total"), 5.0);
    assert_eq!(delta("livestate_patches_total"), 3.0);
    assert_eq!(
        delta("livestate_deliveries_total"),
        6.0,
        "3 patches to 2 sockets"
    );
    assert_eq!(delta("livestate_refusals_total{code=\"test_failed\"}"), 1.0);
    assert_eq!(
        delta("livestate_refusals_total{code=\"refused\"}"),
        1.0,
        "{refusals:?}"
    );
    assert_eq!(
        delta("livestate_refusals_total{code=\"permission_denied\"}"),
        0.0
    );
    assert_eq!(delta("livestate_join_duration_seconds_count"), 2.0);
    assert_eq!(delta("livestate_event_duration_seconds_count"), 5.0);
    assert_eq!(delta("livestate_resyncs_total"), 0.0);
    assert!(during.contains_key("livestate_outbox_bytes"));
    assert!(during.contains_key("livestate_commit_duration_seconds_count"));
    assert!(during.contains_key("livestate_lease_changes_total{change=\"acquired\"}"));

    a.close().await;
    b.close().await;
    // the server sees the sockets go a moment later
    let mut after = server.metrics().await?;
    for _ in 0..600 {
        if moved(&before, &after, "livestate_sockets") == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = server.metrics().await?;
    }
    assert_eq!(moved(&before, &after, "livestate_sockets"), 0.0);
    assert_eq!(moved(&before, &after, "livestate_channels"), 0.0);
    assert_eq!(moved(&before, &after, "livestate_events_total"), 5.0);
    Ok(())
}

#[test]
fn a_bad_log_setting_stops_the_start_naming_it() {
    let run = |env: Option<&str>, args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_livestate"));
        command.args(["serve", "--bind", "127.0.0.1:0"]).args(args);
        if let Some(value) = env {
            command.env("RUST_LOG", value);
        }
        command.output().unwrap()
    };
    let out = run(Some("livestate=loud"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "it must not listen");
    assert!(
        stderr.contains("RUST_LOG=\"livestate=loud\" is not a log filter"),
        "{stderr}"
    );

    let out = run(None, &["--log-format", "xml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("--log-format"), "{stderr}");
    assert!(
        stderr.contains("unknown log format \"xml\": use text or json"),
        "{stderr}"
    );
}
