//! Every scenario, briefly, against the Socket.IO peer (`benches/peers/socketio`), started
//! with node (which `scripts/test` installs; the test fails without it). Runs `npm ci` in the
//! peer's directory first when its packages are missing.

mod common;

use common::{fanout_complete, n, no_trouble, run, short};
use livestate_loadgen::{Scenario, Target};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../benches/peers/socketio")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_against_the_socketio_peer() {
    assert!(
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok(),
        "node is not installed: scripts/test installs it"
    );
    let dir = peer_dir();
    if !dir.join("node_modules/socket.io").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("running npm ci");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    }
    let mut child = tokio::process::Command::new("node")
        .arg("server.js")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node");
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the peer did not start within 20 s")
        .unwrap()
        .expect("the peer exited before listening");
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let url = format!("ws://{addr}");

    let mut cfg = short(Scenario::Connect, Target::Socketio, &url);
    cfg.clients = 20;
    cfg.shared = true;
    cfg.server_pid = pid;
    let r = run(&cfg).await;
    no_trouble(&r);
    assert_eq!(n(&r, "joined"), 20);

    let r = run(&short(Scenario::Events, Target::Socketio, &url)).await;
    no_trouble(&r);
    assert!(n(&r, "events") > 0);
    assert_eq!(n(&r, "timeouts"), 0);

    let r = run(&short(Scenario::Fanout, Target::Socketio, &url)).await;
    fanout_complete(&r, 5);

    child.kill().await.unwrap();
}
