//! The process under attack: a `livestate` binary of its own, its peak memory after
//! start-up and a warm-up, and the checks made after each attack.

use anyhow::{Result, ensure};
use livestate_testkit::client::reply_status;
use livestate_testkit::http::{self, Response};
use livestate_testkit::{Client, Frame, LiveView, ServerProcess};
use serde_json::{Value, json};
use std::time::Duration;

/// How much peak memory an attack may add.
pub(crate) const HWM_BUDGET_KIB: u64 = 64 * 1024;
/// A hang guard: far above what any step here takes.
pub(crate) const GUARD: Duration = Duration::from_secs(60);

/// A server process and its peak memory after start-up and a warm-up.
pub(crate) struct Target {
    pub(crate) server: ServerProcess,
    pub(crate) baseline_kib: u64,
}

impl Target {
    /// A fresh `livestate serve` with `args`, warmed up.
    pub(crate) async fn start(args: &[&str]) -> Result<Target> {
        let server = ServerProcess::spawn(env!("CARGO_BIN_EXE_livestate"), args).await?;
        healthy(&server, "doc:warm-up", json!("warm")).await?;
        let baseline_kib = server.hwm_kib()?;
        Ok(Target {
            server,
            baseline_kib,
        })
    }

    /// A WebSocket client with the hang guard as its timeout.
    pub(crate) async fn client(&self) -> Result<Client> {
        let mut c = Client::connect(&self.server.url()).await?;
        c.timeout = GUARD;
        Ok(c)
    }

    /// An HTTP request to the target.
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Response> {
        http::request(self.server.addr, method, path, headers, body).await
    }

    /// The state of `topic`, read over HTTP.
    pub(crate) async fn state(&self, topic: &str) -> Result<Value> {
        let r = http::get(self.server.addr, &format!("/api/state/{topic}")).await?;
        ensure!(r.status == 200, "GET {topic}: {} {}", r.status, r.body);
        Ok(r.json()?["state"].clone())
    }

    /// After an attack: the process is up, its peak memory within budget, and a healthy
    /// client is served on `topic`.
    pub(crate) async fn check_unharmed(&self, attack: &str, topic: &str) -> Result<()> {
        let pid = self.server.pid()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // the state is the first field after the command name's closing parenthesis
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        ensure!(
            state.is_some_and(|s| !s.starts_with(['Z', 'X'])),
            "{attack}: the server died: {stat}"
        );
        let grown = self.server.hwm_kib()?.saturating_sub(self.baseline_kib);
        println!("{attack}: VmHWM grew by {grown} KiB");
        ensure!(
            grown < HWM_BUDGET_KIB,
            "{attack}: VmHWM grew by {grown} KiB (from {} KiB)",
            self.baseline_kib
        );
        healthy(&self.server, topic, json!({"still": "served"})).await
    }
}

/// Join `topic`, put `/healthy` and read it back over the socket and over HTTP.
async fn healthy(server: &ServerProcess, topic: &str, value: Value) -> Result<()> {
    let mut c = Client::connect(&server.url()).await?;
    c.timeout = GUARD;
    let jr = c.join(topic, json!({})).await?;
    let mut view = LiveView::default();
    view.apply(&c.recv_until(|f| f.event == "state:change").await?)?;
    let payload = json!({"path": "/healthy", "value": value});
    let r = c.push_event(&jr, topic, "put", payload).await?;
    let (_, reply) = answer(&mut c, &r, Some(&mut view)).await?;
    ensure!(reply_status(&reply).0 == "ok", "healthy put: {reply:?}");
    let seen = view.state.as_ref().map(|s| &s["healthy"]);
    ensure!(seen == Some(&value), "the socket saw {seen:?}");
    let r = http::get(server.addr, &format!("/api/state/{topic}?path=/healthy")).await?;
    ensure!(r.status == 200, "GET: {} {}", r.status, r.body);
    ensure!(r.json()?["value"] == value, "GET gave {}", r.body);
    Ok(())
}

/// Read until the reply to `r`; returns the `state:change` that came before it, if any,
/// and the reply. Frames go to `view` when given.
pub(crate) async fn answer(
    c: &mut Client,
    r: &str,
    mut view: Option<&mut LiveView>,
) -> Result<(Option<Value>, Frame)> {
    let mut change = None;
    loop {
        let f = c.recv().await?;
        if let Some(view) = view.as_deref_mut() {
            view.apply(&f)?;
        }
        if f.event == "state:change" {
            change = Some(f.payload["state"].clone());
        } else if f.event == "phx_reply" && f.r#ref.as_deref() == Some(r) {
            return Ok((change, f));
        }
    }
}
