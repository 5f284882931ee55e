//! Tests of the shared-key scenarios (`shared.rs`).

// the benchmark's server in this process with given options, on a free port
use super::super::view::tests::server_with as server;
use super::*;
use crate::viewbench::Options;

#[test]
fn reads_the_sequence_number_of_a_diff() {
    assert_eq!(view_seq(r#"{"0":"seq-41"}"#), Some(41));
    assert_eq!(view_seq(r#"{"0":"seq-none","1":"writer-none"}"#), None);
    assert_eq!(view_seq(r#"{"1":{"0":"seq-7"},"2":"writer-3"}"#), Some(7));
    // the highest, wherever it is
    assert_eq!(view_seq(r#"{"0":"seq-9","3":{"s":["seq-12"]}}"#), Some(12));
    assert_eq!(view_seq(""), None);
    assert_eq!(view_seq("seq-"), None);
}

#[test]
fn reads_the_sequence_number_of_a_patch() {
    let one = r#"{"patch":[{"op":"replace","path":"/m","value":{"s":0,"n":5,"t":9}}],"version":3}"#;
    assert_eq!(patch_seq(one), Some(5));
    // a coalesced patch may carry several changes: the last one counts
    let several = r#"{"patch":[{"op":"replace","path":"/m","value":{"s":0,"n":5,"t":9}},{"op":"replace","path":"/m","value":{"s":1,"n":8,"t":11}},{"op":"replace","path":"/m","value":{"s":0,"n":6,"t":10}}],"version":4}"#;
    assert_eq!(patch_seq(several), Some(8));
    assert_eq!(
        patch_seq(r#"{"patch":[{"op":"add","path":"/x","value":1}],"version":1}"#),
        None
    );
}

#[test]
fn staleness_is_from_each_write_to_the_first_message_that_has_it() {
    let book = Book::new(8);
    for at in [100, 200, 300, 400, 500] {
        let seq = book.take().unwrap();
        book.written(seq, at);
    }
    assert_eq!(book.taken(), 5);
    assert_eq!(book.sent_at(5), None);
    let window = 0..1000;
    let mut a = Seen::default();
    let mut ha = Histogram::new();
    a.message(Some(0), 150, &book, &window, &mut ha);
    a.message(Some(2), 350, &book, &window, &mut ha); // 1 and 2
    a.message(Some(2), 360, &book, &window, &mut ha); // nothing new
    a.message(Some(99), 370, &book, &window, &mut ha); // not written in this run
    a.message(None, 380, &book, &window, &mut ha); // no number in it
    a.message(Some(4), 900, &book, &window, &mut ha); // 3 and 4
    assert_eq!(
        (
            a.messages,
            a.window_messages,
            a.skipped,
            a.stale,
            a.foreign,
            a.next
        ),
        (6, 6, 2, 1, 1, 5)
    );
    // 50, 150, 50, 500, 400
    assert_eq!(ha.count(), 5);
    assert!((495..=505).contains(&ha.max()), "{}", ha.max());
    // a second subscriber has everything at once, after the window
    let mut b = Seen::default();
    let mut hb = Histogram::new();
    b.message(Some(4), 1000, &book, &window, &mut hb);
    assert_eq!((b.window_messages, b.skipped), (0, 4));
    assert_eq!(hb.count(), 5);
    // per change: both had it, the last at b's message
    assert_eq!(book.coverage(0), (2, 1000));
    assert_eq!(book.coverage(4), (2, 1000));
    // changes written outside the window give no staleness
    let c_book = Book::new(2);
    c_book.written(c_book.take().unwrap(), 2000);
    let mut c = Seen::default();
    let mut hc = Histogram::new();
    c.message(Some(0), 2100, &c_book, &window, &mut hc);
    assert_eq!((hc.count(), c_book.coverage(0).0), (0, 1));
    // a full book takes no more
    assert_eq!(c_book.take(), Some(1));
    assert_eq!(c_book.take(), None);
    assert_eq!(c_book.taken(), 2);
}

fn short(scenario: Scenario, url: &str, clients: usize, rate: f64) -> Config {
    Config {
        clients,
        senders: 1,
        rate,
        duration: Duration::from_millis(600),
        warmup: Duration::from_millis(200),
        timeout: Duration::from_secs(20),
        setup_limit: Duration::from_secs(30),
        drain: Duration::from_secs(5),
        server_pid: Some(std::process::id()),
        ..Config::new(scenario, Target::Livestate, url)
    }
}

fn clean(r: &Report) {
    assert!(
        r.get("first_error").is_some_and(Value::is_null),
        "{}",
        r.to_line()
    );
    for key in [
        "connect_failures",
        "join_errors",
        "setup_timeouts",
        "disconnects",
        "error_replies",
        "channel_errors",
        "send_errors",
        "foreign",
        "lost",
        "incomplete",
    ] {
        assert_eq!(r.u64(key), Some(0), "{key} in {}", r.to_line());
    }
    let changes = r.u64("changes").unwrap();
    assert!(changes > 0, "{}", r.to_line());
    assert_eq!(r.u64("latency_samples"), Some(changes), "{}", r.to_line());
    assert!(r.f64("latency_p99_us").is_some(), "{}", r.to_line());
    assert!(r.f64("staleness_p99_us").is_some(), "{}", r.to_line());
    assert!(r.f64("latency_p99_us") >= r.f64("latency_p50_us"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_share_a_render_and_sockets_see_every_change() {
    let (url, _stop) = server(Options::default()).await;
    let r = crate::run(&short(Scenario::SharedViews, &url, 4, 50.0)).await;
    clean(&r);
    assert_eq!(r.u64("joined"), Some(5), "{}", r.to_line());
    assert_eq!(r.u64("subscribers_joined"), Some(4));
    // every view had every change, each in its own diff (nothing merges them)
    let changes = r.u64("changes").unwrap();
    assert_eq!(r.u64("covered"), Some(4 * changes), "{}", r.to_line());
    // the views shared renders: some computed once and sent by others
    assert!(r.u64("render_reused").unwrap() > 0, "{}", r.to_line());
    assert!(
        r.u64("render_computed").unwrap() <= r.u64("render_reused").unwrap(),
        "{}",
        r.to_line()
    );

    let r = crate::run(&short(Scenario::SharedSockets, &url, 4, 50.0)).await;
    clean(&r);
    assert_eq!(r.u64("subscribers_joined"), Some(4));
    assert_eq!(r.get("render_computed"), Some(&Value::Null));
    // without coalescing, one patch per change and socket
    assert_eq!(r.u64("skipped"), Some(0), "{}", r.to_line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_shared_render_each_view_renders_alone() {
    let options = Options {
        shared_render: false,
        ..Options::default()
    };
    let (url, _stop) = server(options).await;
    let r = crate::run(&short(Scenario::SharedViews, &url, 3, 40.0)).await;
    clean(&r);
    assert_eq!(r.u64("render_reused"), Some(0), "{}", r.to_line());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coalesced_busy_key_sends_fewer_messages_than_changes() {
    let options = Options {
        coalesce: Some(Duration::from_millis(50)),
        ..Options::default()
    };
    let (url, _stop) = server(options).await;
    let cfg = Config {
        views: 2,
        ..short(Scenario::BusyKey, &url, 3, 1000.0)
    };
    let r = crate::run(&cfg).await;
    clean(&r);
    assert_eq!(r.u64("subscribers_joined"), Some(5), "{}", r.to_line());
    let changes = r.u64("changes").unwrap();
    // every subscriber had every change, most without a message of their own
    assert_eq!(r.u64("covered"), Some(5 * changes), "{}", r.to_line());
    assert!(
        r.u64("deliveries").unwrap() < 5 * changes,
        "{}",
        r.to_line()
    );
    assert!(r.u64("skipped").unwrap() > 0, "{}", r.to_line());
}

#[test]
fn pipelined_http_answers_are_read_one_by_one() {
    let request = writer::put_request("h:1", "doc:board", r#"{"s":0,"n":1,"t":2}"#);
    assert_eq!(
        request,
        "PUT /api/state/doc:board?path=/m HTTP/1.1\r\nhost: h:1\r\ncontent-type: application/json\r\ncontent-length: 19\r\n\r\n{\"s\":0,\"n\":1,\"t\":2}"
    );
    let two = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"version\":7}HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope";
    let (status, body, len) = writer::next_response(two).unwrap();
    assert_eq!((status, body), (200, &b"{\"version\":7}"[..]));
    let (status, body, rest) = writer::next_response(&two[len..]).unwrap();
    assert_eq!((status, body, len + rest), (403, &b"nope"[..], two.len()));
    // not all of it yet
    assert!(writer::next_response(&two[..len - 1]).is_none());
    assert!(writer::next_response(b"HTTP/1.1 200 OK\r\n").is_none());
}
