//! Servers to test against: [`TestServer`] runs a hub in this process on port 0;
//! [`ServerProcess`] spawns a binary (`livestate serve` or `livestate-testserver`).

use crate::client::Client;
use anyhow::{Context, Result, anyhow, bail};
use livestate_core::Hub;
use livestate_server::{Endpoint, ServerConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A hub served in this process on `127.0.0.1:0`.
pub struct TestServer {
    /// The bound address.
    pub addr: SocketAddr,
    hub: Hub,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Serve `hub` with the default transport config.
    pub async fn start(hub: Hub) -> Result<TestServer> {
        TestServer::start_with(hub, ServerConfig::default()).await
    }

    /// Serve `hub` with `config`.
    pub async fn start_with(hub: Hub, config: ServerConfig) -> Result<TestServer> {
        TestServer::start_endpoint(Endpoint::from_hub(hub, config)).await
    }

    /// Serve an endpoint (its router at the root).
    pub async fn start_endpoint(endpoint: Endpoint) -> Result<TestServer> {
        TestServer::start_app(endpoint, |router| router).await
    }

    /// Serve the application `app` builds around the endpoint's router (nesting it, adding
    /// routes).
    pub async fn start_app(
        endpoint: Endpoint,
        app: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let hub = endpoint.hub().clone();
        let app = app(endpoint.router());
        let task = tokio::spawn(async move {
            livestate_server::serve(listener, app, &endpoint, async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(TestServer {
            addr,
            hub,
            stop: Some(stop),
            task,
        })
    }

    /// `ws://ADDR/socket/websocket?vsn=2.0.0`.
    pub fn url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    /// `http://ADDR{path}`.
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The hub being served.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// A connected client.
    pub async fn client(&self) -> Result<Client> {
        Client::connect(&self.url()).await
    }

    /// Signal shutdown and wait for `serve` to return.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A server binary running as a child process.
pub struct ServerProcess {
    child: Child,
    /// The address it listens on (read from its first line of output).
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Start `program serve --bind 127.0.0.1:0 <args>` and wait until it listens.
    pub async fn spawn(program: impl AsRef<Path>, args: &[&str]) -> Result<ServerProcess> {
        let program = program.as_ref();
        let mut child = Command::new(program)
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the server did not start within 20 s")??
            .ok_or_else(|| anyhow!("the server exited before listening"))?;
        let addr = line
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("unexpected first line {line:?}"))?;
        // keep draining stdout so the child never blocks on a full pipe
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, addr })
    }

    /// `ws://ADDR/socket/websocket?vsn=2.0.0`.
    pub fn url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> Result<u32> {
        self.child
            .id()
            .ok_or_else(|| anyhow!("the server has exited"))
    }

    /// Resident memory in KiB, from `/proc/PID/status`.
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.pid()?)
    }

    /// Peak resident memory (`VmHWM`) in KiB, from `/proc/PID/status`.
    pub fn hwm_kib(&self) -> Result<u64> {
        hwm_kib(self.pid()?)
    }

    /// Send a signal by name (`TERM`, `INT`, `KILL`, `STOP`, `CONT`).
    pub async fn signal(&self, name: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid()?.to_string())
            .status()
            .await?;
        if !status.success() {
            bail!("kill -{name} failed");
        }
        Ok(())
    }

    /// Wait for the process to exit, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> Result<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .context("the server did not exit in time")?
            .context("waiting for the server")
    }
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in /proc/{pid}/status"))
}

/// Peak resident memory (`VmHWM`) of a process in KiB.
pub fn hwm_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))
}
