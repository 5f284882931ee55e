//! Tests of the live-view scenarios (`view.rs`).

use super::*;

#[test]
fn reads_the_open_files_limit() {
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                  Max processes             95000                95000                processes \n\
                  Max open files            20000                524288               files     \n";
    assert_eq!(parse_nofile(limits), Some(20000));
    assert_eq!(
        parse_nofile("Max open files            unlimited            unlimited            files"),
        Some(u64::MAX)
    );
    assert_eq!(parse_nofile("nothing"), None);
    if cfg!(target_os = "linux") {
        assert!(nofile("/proc/self/limits").is_some());
    }
}

/// The benchmark's server in this process, on a free port; dropping the sender stops it.
async fn server() -> (String, tokio::sync::oneshot::Sender<()>) {
    server_with(crate::viewbench::Options::default()).await
}

/// [`server`] with `options` (the shared-key scenarios' tests use it too).
pub(in crate::scenario) async fn server_with(
    options: crate::viewbench::Options,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(crate::viewbench::serve_with(
        listener,
        livestate_server::ServerConfig::default(),
        options,
        async {
            let _ = stopped.await;
        },
    ));
    (format!("ws://{addr}"), stop)
}

fn short(scenario: crate::Scenario, url: &str) -> Config {
    Config {
        clients: 4,
        rate: 40.0,
        duration: Duration::from_millis(500),
        warmup: Duration::from_millis(200),
        timeout: Duration::from_secs(20),
        setup_limit: Duration::from_secs(30),
        drain: Duration::from_secs(2),
        server_pid: Some(std::process::id()),
        ..Config::new(scenario, crate::Target::Livestate, url)
    }
}

fn zero(r: &Report, keys: &[&str]) {
    for key in keys {
        assert_eq!(r.u64(key), Some(0), "{key} in {}", r.to_line());
    }
}

const TROUBLE: [&str; 7] = [
    "connect_failures",
    "join_errors",
    "setup_timeouts",
    "disconnects",
    "error_replies",
    "channel_errors",
    "send_errors",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_of_one_row_and_of_the_thermostat() {
    let (url, _stop) = server().await;
    let r = crate::run(&short(crate::Scenario::ViewBytes, &url)).await;
    assert!(
        r.get("first_error").is_some_and(Value::is_null),
        "{}",
        r.to_line()
    );
    assert_eq!(r.u64("joined"), Some(2));
    assert_eq!(r.u64("rows_updates"), Some(BYTES_SAMPLES as u64));
    // only the bumped row's score, whatever it is now
    let diff: Value =
        serde_json::from_str(r.get("rows_update_diff").and_then(Value::as_str).unwrap()).unwrap();
    let entries = diff["1"]["k"].as_object().unwrap();
    assert_eq!(entries.len(), 2, "{diff}");
    assert_eq!(entries["kc"], ROWS);
    let score = &entries[&BUMPED_ROW.to_string()]["2"];
    assert!(score.is_string(), "{diff}");
    let diff_bytes = r.u64("rows_update_diff_bytes").unwrap();
    let payload = r.u64("rows_update_payload_bytes").unwrap();
    let frame = r.u64("rows_update_frame_bytes").unwrap();
    assert!(diff_bytes < payload && payload < frame, "{}", r.to_line());
    assert!(r.u64("rows_html_bytes").unwrap() > frame * 10);
    assert!(r.u64("thermostat_update_payload_bytes").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_views_and_their_memory() {
    let (url, _stop) = server().await;
    let r = crate::run(&short(crate::Scenario::ViewConnect, &url)).await;
    zero(&r, &TROUBLE);
    assert_eq!(r.u64("joined"), Some(4), "{}", r.to_line());
    assert_eq!(r.u64("server_read_buffer_bytes"), Some(4096));
    assert_eq!(r.u64("server_write_buffer_bytes"), Some(4096));
    assert!(r.f64("join_p99_us").is_some());
    assert!(r.get("rss_per_view_bytes").is_some_and(|v| !v.is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_and_channel_events_side_by_side() {
    let (url, _stop) = server().await;
    let r = crate::run(&short(crate::Scenario::ViewEvents, &url)).await;
    zero(&r, &TROUBLE);
    zero(&r, &["timeouts"]);
    for kind in ["view", "channel"] {
        let joined = r.u64(&format!("{kind}_joined"));
        assert_eq!(joined, Some(4), "{}", r.to_line());
        assert!(r.u64(&format!("{kind}_sent")).unwrap() > 0);
        assert!(r.u64(&format!("{kind}_events")).unwrap() > 0);
        assert!(r.f64(&format!("{kind}_rtt_p99_us")).is_some());
    }
    assert!(r.f64("rtt_p99_ratio").is_some());
}

#[test]
fn refuses_more_sockets_than_the_limit() {
    let mut cfg = Config::new(crate::Scenario::ViewConnect, crate::Target::Livestate, "x");
    cfg.concurrency = 10;
    let mut r = Report::new();
    assert_eq!(open_files(&cfg, 10, &mut r), None);
    assert_eq!(r.u64("open_files_needed"), Some(10 + 10 + FD_MARGIN as u64));
    if let Some(limit) = nofile("/proc/self/limits").filter(|l| *l < u64::MAX / 2) {
        let refusal = open_files(&cfg, limit as usize, &mut r).expect("a refusal");
        assert!(refusal.contains("the load generator"), "{refusal}");
    }
}
