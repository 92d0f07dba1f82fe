//! Liveness of peerings (the Core's keepalive tick): an idle healthy peering is kept,
//! and a peer that keeps sending is never probed. (A silent raw peer is lost: in
//! `tests/robustness.rs`, which has the raw handshake.)

use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint, StatusCode, StatusEvent};
use broker_wire::{Data, Topic};

const KEEPALIVE: Duration = Duration::from_millis(50);
const WAIT: Duration = Duration::from_secs(10);

fn endpoint() -> Endpoint {
    endpoint_with(Config {
        disable_ssl: true,
        ..Config::default()
    })
}

fn endpoint_with(config: Config) -> Endpoint {
    Endpoint::new(Config {
        keepalive: KEEPALIVE,
        ..config
    })
    .unwrap()
}

/// Pings `endpoint` received so far.
fn pings_received(endpoint: &Endpoint) -> i64 {
    endpoint
        .metrics()
        .value("broker_processed_messages_total", "ping")
        .unwrap()
}

#[test]
fn an_idle_peering_outlives_many_intervals() {
    idle_peering_outlives_many_intervals(endpoint(), endpoint());
}

/// Broker's anonymous TLS is TLS 1.2, where a write may need to read first: the peer's
/// reader writes its pongs with its own task's waker, so they still go out (and the
/// reader still wakes) and the idle peering lives on.
#[test]
fn an_idle_tls_peering_outlives_many_intervals() {
    idle_peering_outlives_many_intervals(
        endpoint_with(Config::default()),
        endpoint_with(Config::default()),
    );
}

fn idle_peering_outlives_many_intervals(a: Endpoint, b: Endpoint) {
    let statuses = a.make_status_subscriber(true);
    let port = b.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", port, None).unwrap();
    std::thread::sleep(KEEPALIVE * 20);
    assert_eq!(a.peers().len(), 1);
    assert_eq!(b.peers().len(), 1);
    let events: Vec<StatusEvent> = statuses.poll();
    assert!(
        events.iter().all(|e| matches!(e, StatusEvent::Status(s)
                if matches!(s.code, StatusCode::PeerAdded | StatusCode::EndpointDiscovered))),
        "{events:?}"
    );
    // Someone probed meanwhile: the peering is watched, not just left alone.
    assert!(pings_received(&a) + pings_received(&b) > 0);
}

#[test]
fn without_keepalive_an_idle_peering_is_never_probed_and_kept() {
    let quiet = || {
        Endpoint::new(Config {
            disable_ssl: true,
            keepalive: Duration::ZERO,
            ..Config::default()
        })
        .unwrap()
    };
    let (a, b) = (quiet(), quiet());
    let port = b.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", port, None).unwrap();
    // Many intervals of the other tests' endpoints: nobody probes, nobody is lost.
    std::thread::sleep(KEEPALIVE * 10);
    assert_eq!(pings_received(&a) + pings_received(&b), 0);
    assert_eq!((a.peers().len(), b.peers().len()), (1, 1));
}

#[test]
fn a_peer_that_keeps_sending_is_never_probed() {
    let (sender, receiver) = (endpoint(), endpoint());
    let sub = receiver.make_subscriber(vec![Topic::from("/busy")], 0);
    let port = receiver.listen("127.0.0.1", 0).unwrap();
    sender.peer("127.0.0.1", port, None).unwrap();
    let topic = Topic::from("/busy/x");
    assert!(sender.await_peer_subscription(&topic, WAIT));
    // Twenty intervals of a message every 5 ms: the receiver always hears the sender,
    // so it never pings it (a timer per peer pinged every interval regardless).
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < KEEPALIVE * 20 {
        sender.publish(topic.clone(), Data::Count(sent));
        sent += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(sub.get_n(sent as usize, Some(WAIT)).len(), sent as usize);
    assert_eq!(pings_received(&sender), 0);
    assert_eq!(receiver.peers().len(), 1);
}
