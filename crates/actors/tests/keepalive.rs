//! Liveness of peerings (the Core's keepalive tick): a silent peer is lost, an idle
//! healthy one is kept, and a peer that keeps sending is never probed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint, ErrorCode, StatusCode, StatusEvent};
use broker_wire::codec::FrameCodec;
use broker_wire::frame::{Frame, Hello, NodeId};
use broker_wire::{Data, Topic};

const KEEPALIVE: Duration = Duration::from_millis(50);
const WAIT: Duration = Duration::from_secs(10);

fn endpoint() -> Endpoint {
    Endpoint::new(Config {
        disable_ssl: true,
        keepalive: KEEPALIVE,
        ..Config::default()
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
fn a_peer_silent_after_the_handshake_is_lost() {
    let observed = endpoint();
    let statuses = observed.make_status_subscriber(true);
    let port = observed.listen("127.0.0.1", 0).unwrap();
    // A raw peer: its hello, then never a word (nor a Pong).
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let hello = Hello::new(
        NodeId {
            id: [7; 20],
            pid: 7,
        },
        vec![],
    );
    let mut out = Vec::new();
    FrameCodec::default()
        .encode(&Frame::Hello(hello), &mut out)
        .unwrap();
    raw.write_all(&out).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let mut prefix = [0u8; 4];
    raw.read_exact(&mut prefix).unwrap();

    let (mut timed_out, mut lost) = (false, false);
    let deadline = Instant::now() + WAIT;
    while !(timed_out && lost) && Instant::now() < deadline {
        match statuses.get(Some(Duration::from_millis(100))) {
            Some(StatusEvent::Error(e)) => timed_out |= e.code == ErrorCode::PeerTimeout,
            Some(StatusEvent::Status(s)) => lost |= s.code == StatusCode::PeerLost,
            None => {}
        }
    }
    assert!(
        timed_out && lost,
        "PeerTimeout: {timed_out}, PeerLost: {lost}"
    );
    assert!(observed.peers().is_empty());
}

#[test]
fn an_idle_peering_outlives_many_intervals() {
    let (a, b) = (endpoint(), endpoint());
    let statuses = a.make_status_subscriber(true);
    let port = b.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", port, None).unwrap();
    std::thread::sleep(KEEPALIVE * 20);
    assert_eq!(a.peers().len(), 1);
    assert_eq!(b.peers().len(), 1);
    let events: Vec<StatusEvent> = statuses.poll();
    assert!(
        events
            .iter()
            .all(|e| matches!(e, StatusEvent::Status(s) if s.code == StatusCode::PeerAdded)),
        "{events:?}"
    );
    // Someone probed meanwhile: the peering is watched, not just left alone.
    assert!(pings_received(&a) + pings_received(&b) > 0);
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
