//! The metrics an endpoint shows: served over HTTP on its metrics port in Prometheus'
//! text format, and by `Endpoint::metrics`, the counters moving as messages flow.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint, StatusCode};
use broker_store::BackendType;
use broker_wire::{Data, Topic};

const WAIT: Duration = Duration::from_secs(10);

fn endpoint(metrics_port: Option<u16>) -> Endpoint {
    Endpoint::new(Config {
        disable_ssl: true,
        metrics_port,
        metrics_address: "127.0.0.1".into(),
        ..Config::default()
    })
    .unwrap()
}

/// `GET path` on the metrics port: the status line, the headers and the body.
fn get(port: u16, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("a complete response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

/// The samples of a text exposition: `name{labels}` → value. Checks that every line is
/// a comment (`# HELP`/`# TYPE`) or a sample, and that every sample has a `# TYPE`.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut typed = Vec::new();
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split(' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some("counter" | "gauge")) => {
                    typed.push(name.to_owned())
                }
                (Some("HELP"), Some(_), _) => {}
                _ => panic!("unexpected comment line {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample: series and value");
        let name = series.split('{').next().unwrap();
        assert!(typed.iter().any(|t| t == name), "{name} has no # TYPE");
        samples.insert(series.to_owned(), value.parse().expect("a number"));
    }
    samples
}

fn scrape(port: u16) -> BTreeMap<String, f64> {
    let (status, headers, body) = get(port, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    samples(&body)
}

/// Polls `check` until it holds, at most `WAIT`.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn metrics_port_is_off_by_default() {
    let plain = endpoint(None);
    assert_eq!(plain.metrics_port(), None);
    assert!(Endpoint::new(Config::default())
        .unwrap()
        .metrics_port()
        .is_none());
}

#[test]
fn scraped_counters_move_as_messages_flow() {
    let receiver = endpoint(Some(0));
    let port = receiver.metrics_port().expect("a metrics port");
    let sub = receiver.make_subscriber(vec![Topic::from("/m")], 0);
    let listening = receiver.listen("127.0.0.1", 0).unwrap();
    let sender = endpoint(None);
    sender.peer("127.0.0.1", listening, None).unwrap();
    eventually("the peering on the receiver", || {
        receiver.peers().len() == 1
    });

    let before = scrape(port);
    assert_eq!(before["broker_connections{type=\"batch\"}"], 1.0);
    assert_eq!(
        before["broker_processed_messages_total{type=\"data\"}"],
        0.0
    );
    let peer_depth = format!(
        "broker_peer_buffered_messages{{peer=\"{}\"}}",
        sender.node_id()
    );
    assert_eq!(before[&peer_depth], 0.0);

    let messages = 100;
    sender.publish_batch(
        (0..messages)
            .map(|n| (Topic::from("/m/x"), Data::Count(n)))
            .collect(),
    );
    assert_eq!(
        sub.get_n(messages as usize, Some(WAIT)).len(),
        messages as usize
    );
    let after = scrape(port);
    assert_eq!(
        after["broker_processed_messages_total{type=\"data\"}"],
        messages as f64
    );
    // The same figures as `metrics()` gives.
    let direct = receiver.metrics();
    assert_eq!(
        direct.value("broker_processed_messages_total", "data"),
        Some(messages as i64)
    );
    assert_eq!(direct.value("broker_connections", "batch"), Some(1));

    // The sender counts what it published.
    let published = sender.metrics();
    assert_eq!(
        published.value("broker_processed_messages_total", "data"),
        Some(messages as i64)
    );

    // Elsewhere than /metrics: not found.
    assert_eq!(get(port, "/").0, "HTTP/1.1 404 Not Found");
}

#[test]
fn a_triangle_counts_the_copies_it_drops_as_dedup_hits() {
    // a, b, c peered in a triangle; c's messages reach a directly and through b.
    let (a, b, c) = (endpoint(None), endpoint(None), endpoint(None));
    // All three subscribe, so each forwards to both others (never back to the sender).
    let sub = a.make_subscriber(vec![Topic::from("/t")], 0);
    let _at_b = b.make_subscriber(vec![Topic::from("/t")], 0);
    let _at_c = c.make_subscriber(vec![Topic::from("/t")], 0);
    let port_a = a.listen("127.0.0.1", 0).unwrap();
    let port_b = b.listen("127.0.0.1", 0).unwrap();
    b.peer("127.0.0.1", port_a, None).unwrap();
    c.peer("127.0.0.1", port_a, None).unwrap();
    c.peer("127.0.0.1", port_b, None).unwrap();
    let topic = Topic::from("/t");
    assert!(c.await_peer_subscription(&topic, WAIT));
    eventually("a's and b's routes", || {
        a.peers().len() == 2 && b.peers().len() == 2
    });
    let messages = 50;
    c.publish_batch(
        (0..messages)
            .map(|n| (topic.clone(), Data::Count(n)))
            .collect(),
    );
    assert_eq!(
        sub.get_n(messages as usize, Some(WAIT)).len(),
        messages as usize
    );
    // In a triangle every endpoint forwards each message once, on its first arrival,
    // to the one peer it did not come from (c, the origin, to both): 4 copies arrive
    // for 2 fresh receipts (at a and b), whatever the order, so 2 of each message are
    // dedup hits somewhere (c's own messages coming back count too), and none is
    // delivered twice.
    let figure = |e: &Endpoint, name: &str, label: &str| e.metrics().value(name, label).unwrap();
    let sum = |name: &str, label: &str| -> i64 {
        [&a, &b, &c].iter().map(|e| figure(e, name, label)).sum()
    };
    eventually("every copy", || {
        sum("broker_dedup_hits_total", "") == 2 * messages as i64
    });
    // Received copies (4 per message) plus c's own publishes.
    assert_eq!(
        sum("broker_processed_messages_total", "data"),
        5 * messages as i64
    );
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sum("broker_dedup_hits_total", ""), 2 * messages as i64);
    assert!(sub.poll().is_empty(), "a duplicate was delivered");
}

#[test]
fn stores_show_entries_and_sync_state() {
    let (master_side, clone_side) = (endpoint(None), endpoint(None));
    let port = master_side.listen("127.0.0.1", 0).unwrap();
    clone_side.peer("127.0.0.1", port, None).unwrap();
    let master = master_side
        .attach_master("inventory", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .expect("no other master");
    for n in 0..3 {
        master.put(Data::Count(n), Data::from("x"), None);
    }
    let clone = clone_side
        .attach_clone("inventory")
        .unwrap()
        .expect("the master is a peer");
    assert!(master.await_idle(WAIT));
    assert_eq!(
        master_side
            .metrics()
            .value("broker_store_entries", "inventory"),
        Some(3)
    );
    assert_eq!(
        master_side
            .metrics()
            .value("broker_store_synced", "inventory"),
        Some(1)
    );
    eventually("the clone's copy", || {
        let metrics = clone_side.metrics();
        metrics.value("broker_store_entries", "inventory") == Some(3)
            && metrics.value("broker_store_synced", "inventory") == Some(1)
    });
    assert_eq!(
        clone_side
            .metrics()
            .value("broker_store_stale", "inventory"),
        Some(0)
    );
    drop((master, clone));
}

#[test]
fn shed_status_events_are_counted() {
    let observed = Endpoint::new(Config {
        disable_ssl: true,
        status_queue: 1,
        ..Config::default()
    })
    .unwrap();
    let statuses = observed.make_status_subscriber(true);
    let port = observed.listen("127.0.0.1", 0).unwrap();
    let others = [endpoint(None), endpoint(None), endpoint(None)];
    for other in &others {
        other.peer("127.0.0.1", port, None).unwrap();
    }
    // Three peerings, a PeerAdded and an EndpointDiscovered each, for a queue of one:
    // five shed.
    eventually("the shed events", || {
        observed
            .metrics()
            .value("broker_dropped_status_events_total", "")
            == Some(5)
    });
    assert_eq!(statuses.dropped(), 5);
    match statuses.poll().first() {
        Some(broker_actors::StatusEvent::Status(s)) => assert_eq!(s.code, StatusCode::PeerAdded),
        other => panic!("expected the first PeerAdded, got {other:?}"),
    }
}

#[test]
fn a_taken_metrics_port_fails_the_endpoint() {
    let first = endpoint(Some(0));
    let taken = first.metrics_port().unwrap();
    let second = Endpoint::new(Config {
        metrics_port: Some(taken),
        metrics_address: "127.0.0.1".into(),
        ..Config::default()
    });
    assert!(second.is_err());
}
