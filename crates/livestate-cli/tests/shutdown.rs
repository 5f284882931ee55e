//! Stopping the binary: SIGTERM or SIGINT closes every socket with 1001 and exits 0.

use anyhow::Result;
use livestate_testkit::{Client, ServerProcess};
use serde_json::json;
use std::time::Duration;

async fn stops_cleanly_on(signal: &str) -> Result<()> {
    let mut server = ServerProcess::spawn(env!("CARGO_BIN_EXE_livestate"), &[]).await?;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&server.url()).await?;
        c.join(&format!("doc:stop{i}"), json!({})).await?;
        c.recv_until(|f| f.event == "state:change").await?;
        clients.push(c);
    }
    server.signal(signal).await?;
    for c in &mut clients {
        assert_eq!(
            c.closed().await?,
            Some((1001, "server shutting down".to_owned())),
            "every socket is closed with 1001 on SIG{signal}"
        );
    }
    let status = server.wait(Duration::from_secs(10)).await?;
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}");
    // and it no longer accepts connections
    assert!(Client::connect(&server.url()).await.is_err());
    Ok(())
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_and_exits_0() -> Result<()> {
    stops_cleanly_on("TERM").await
}

#[tokio::test]
async fn sigint_closes_every_socket_with_1001_and_exits_0() -> Result<()> {
    stops_cleanly_on("INT").await
}

#[tokio::test]
async fn an_idle_server_exits_0_at_once() -> Result<()> {
    let mut server = ServerProcess::spawn(env!("CARGO_BIN_EXE_livestate"), &[]).await?;
    server.signal("TERM").await?;
    let status = server.wait(Duration::from_secs(5)).await?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}
