//! [`RedisServer`]: a `redis-server` of the test's own, on a free port, stopped on drop.
//!
//! `redis-server` must be installed (`scripts/test` installs it); a test that needs it fails
//! when it is missing, it does not skip.

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A running `redis-server`.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    persistent: bool,
}

impl RedisServer {
    /// A server that keeps nothing on disk.
    pub async fn start() -> Result<RedisServer> {
        RedisServer::launch(false).await
    }

    /// A server that keeps every write on disk (`appendonly yes`, `appendfsync always`), so
    /// that [`RedisServer::restart`] brings its data back.
    pub async fn start_persistent() -> Result<RedisServer> {
        RedisServer::launch(true).await
    }

    async fn launch(persistent: bool) -> Result<RedisServer> {
        let port = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("livestate-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut server = RedisServer {
            child: None,
            port,
            dir,
            persistent,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> Result<()> {
        let mut cmd = Command::new("redis-server");
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(&self.dir)
        .args(["--daemonize", "no", "--loglevel", "warning"]);
        if self.persistent {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow!("cannot start redis-server ({e}): scripts/test installs it (apt-get install redis-server)"))?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.port).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "redis-server on port {} did not answer within 10 s",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stop the server (it finishes writing what it must on disk).
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .context("redis-server did not stop")??;
        }
        Ok(())
    }

    /// Start it again on the same port (and, when persistent, with the same data).
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    /// Run one command and return the raw reply (for tests that poke at Redis directly).
    pub async fn command(&self, args: &[&str]) -> Result<String> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).await?;
        let mut buf = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await??;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

/// A reply of Redis (RESP 2).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`
    Error(String),
    /// `:3`
    Int(i64),
    /// `$N ...` (`None`: the nil bulk string)
    Bulk(Option<String>),
    /// `*N ...` (`None`: the nil array)
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a bulk string or status.
    pub fn text(&self) -> Option<&str> {
        match self {
            Reply::Bulk(Some(s)) | Reply::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The items of an array (empty for anything else).
    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(items)) => items,
            _ => &[],
        }
    }

    /// Parse one reply from the start of `buf`; `None` when it is not all there yet.
    fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>> {
        let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[1..end])?;
        let rest = end + 2;
        let reply = match buf.first() {
            Some(b'+') => (Reply::Status(line.to_owned()), rest),
            Some(b'-') => (Reply::Error(line.to_owned()), rest),
            Some(b':') => (Reply::Int(line.parse()?), rest),
            Some(b'$') => {
                let len: i64 = line.parse()?;
                if len < 0 {
                    (Reply::Bulk(None), rest)
                } else {
                    let len = usize::try_from(len)?;
                    if buf.len() < rest + len + 2 {
                        return Ok(None);
                    }
                    let text = String::from_utf8_lossy(&buf[rest..rest + len]).into_owned();
                    (Reply::Bulk(Some(text)), rest + len + 2)
                }
            }
            Some(b'*') => {
                let n: i64 = line.parse()?;
                if n < 0 {
                    (Reply::Array(None), rest)
                } else {
                    let mut items = Vec::new();
                    let mut at = rest;
                    for _ in 0..n {
                        let Some((item, used)) = Reply::parse(&buf[at..])? else {
                            return Ok(None);
                        };
                        items.push(item);
                        at += used;
                    }
                    (Reply::Array(Some(items)), at)
                }
            }
            other => bail!("not a RESP reply: {other:?}"),
        };
        Ok(Some(reply))
    }
}

impl RedisServer {
    /// Run one command and parse its whole reply.
    pub async fn query(&self, args: &[&str]) -> Result<Reply> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((reply, _)) = Reply::parse(&buf)? {
                return Ok(reply);
            }
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await??;
            if n == 0 {
                bail!("Redis closed the connection mid-reply");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The committed state of `topic` under `prefix` and its version, read from Redis and
    /// rebuilt here (the snapshot, then every logged patch after it, applied with the
    /// `json-patch` crate): an oracle independent of livestate's own loading.
    pub async fn stored_state(&self, prefix: &str, topic: &str) -> Result<Option<(Value, u64)>> {
        let hash = format!("{prefix}:{{{topic}}}:state");
        let fields = self
            .query(&["HMGET", &hash, "json", "version", "head"])
            .await?;
        let [json, version, head] = fields.items() else {
            bail!("unexpected reply {fields:?}");
        };
        let (Some(json), Some(version)) = (json.text(), version.text()) else {
            return Ok(None);
        };
        let mut state: Value = serde_json::from_str(json)?;
        let mut at: u64 = version.parse()?;
        let log = self
            .query(&["LRANGE", &format!("{prefix}:{{{topic}}}:log"), "0", "-1"])
            .await?;
        for entry in log.items() {
            let entry = entry
                .text()
                .ok_or_else(|| anyhow!("a log entry is not a string"))?;
            let (v, patch) = entry
                .split_once(' ')
                .ok_or_else(|| anyhow!("bad log entry {entry:?}"))?;
            let v: u64 = v.parse()?;
            if v != at + 1 {
                bail!("the log skips from {at} to {v}");
            }
            let patch: json_patch::Patch = serde_json::from_str(patch)?;
            json_patch::patch(&mut state, &patch)?;
            at = v;
        }
        if let Some(head) = head.text() {
            let head: u64 = head.parse()?;
            if head != at {
                bail!("the log ends at {at}, the head is {head}");
            }
        }
        Ok(Some((state, at)))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

async fn ping(port: u16) -> Result<()> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut buf = [0u8; 7];
    stream.read_exact(&mut buf).await?;
    if &buf == b"+PONG\r\n" {
        Ok(())
    } else {
        bail!("unexpected answer to PING")
    }
}
