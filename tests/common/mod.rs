//! Helpers for multi-endpoint tests: topologies as data, bounded waits.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::time::{Duration, Instant};

use broker::actors::{Config, Endpoint, StatusCode, StatusEvent, StatusSubscriber, Subscriber};
use broker::wire::NodeId;
use broker::{Data, Topic};

/// Upper bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Endpoints wired by a list of edges `(from, to)`: `from` peers with `to`.
pub struct Net {
    pub nodes: Vec<Endpoint>,
    pub ports: Vec<u16>,
    pub statuses: Vec<StatusSubscriber>,
}

impl Net {
    /// `configs.len()` endpoints, each listening on loopback, peered along `edges`;
    /// returns once every peering is up on both sides.
    pub fn build(configs: Vec<Config>, edges: &[(usize, usize)]) -> Net {
        let nodes: Vec<Endpoint> = configs
            .into_iter()
            .map(|c| Endpoint::new(c).unwrap())
            .collect();
        let statuses: Vec<StatusSubscriber> = nodes
            .iter()
            .map(|n| n.make_status_subscriber(true))
            .collect();
        let ports: Vec<u16> = nodes
            .iter()
            .map(|n| n.listen("127.0.0.1", 0).unwrap())
            .collect();
        let net = Net {
            nodes,
            ports,
            statuses,
        };
        for &(a, b) in edges {
            net.nodes[a].peer("127.0.0.1", net.ports[b], None).unwrap();
        }
        for (i, status) in net.statuses.iter().enumerate() {
            let neighbours: Vec<NodeId> = edges
                .iter()
                .filter_map(|&(a, b)| match i {
                    _ if a == i => Some(net.nodes[b].node_id()),
                    _ if b == i => Some(net.nodes[a].node_id()),
                    _ => None,
                })
                .collect();
            let seen = wait_neighbours(status, &neighbours);
            let degree = neighbours.len();
            assert_eq!(seen, [degree; 2], "node {i}: {seen:?} of {degree} peerings");
        }
        net
    }

    /// Same as [`Net::build`] with default configs.
    pub fn uniform(n: usize, edges: &[(usize, usize)]) -> Net {
        Net::build((0..n).map(|_| Config::default()).collect(), edges)
    }
}

/// Waits (bounded) until `n` statuses with `code` arrived; returns how many did.
pub fn wait_statuses(status: &StatusSubscriber, code: StatusCode, n: usize) -> usize {
    wait_each_status(status, &[code], n)[0]
}

/// Waits (bounded) until `n` peerings were reported: their `PeerAdded` and the
/// `EndpointDiscovered` after it, so that a test starts after both; how many of each.
pub fn wait_peered(status: &StatusSubscriber, n: usize) -> [usize; 2] {
    let wanted = [StatusCode::PeerAdded, StatusCode::EndpointDiscovered];
    wait_each_status(status, &wanted, n)
}

/// Waits (bounded) until every one of `neighbours` was reported peered (`PeerAdded`)
/// and discovered (`EndpointDiscovered`, which comes after `PeerAdded`, or before it
/// when the neighbour was reached through others first); how many of each. Other
/// endpoints discovered meanwhile are skipped.
pub fn wait_neighbours(status: &StatusSubscriber, neighbours: &[NodeId]) -> [usize; 2] {
    let deadline = Instant::now() + WAIT;
    let mut seen = [0; 2];
    while seen.iter().any(|&count| count < neighbours.len()) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(StatusEvent::Status(s)) = status.get(Some(left)) else {
            continue;
        };
        let neighbour = s.context.is_some_and(|c| neighbours.contains(&c.node));
        match s.code {
            StatusCode::PeerAdded if neighbour => seen[0] += 1,
            StatusCode::EndpointDiscovered if neighbour => seen[1] += 1,
            _ => {}
        }
    }
    seen
}

/// Waits (bounded) until `n` statuses of each of `codes` arrived, skipping others;
/// returns how many of each did.
pub fn wait_each_status<const N: usize>(
    status: &StatusSubscriber,
    codes: &[StatusCode; N],
    n: usize,
) -> [usize; N] {
    let deadline = Instant::now() + WAIT;
    let mut seen = [0; N];
    while seen.iter().any(|&count| count < n) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Some(StatusEvent::Status(s)) = status.get(Some(left)) {
            if let Some(i) = codes.iter().position(|&code| code == s.code) {
                seen[i] += 1;
            }
        }
    }
    seen
}

/// The next status or error within `WAIT`.
pub fn next_event(status: &StatusSubscriber) -> StatusEvent {
    status
        .get(Some(WAIT))
        .expect("a status event within the wait bound")
}

/// Receives until `n` messages arrived or `WAIT` passed.
pub fn receive(sub: &Subscriber, n: usize) -> Vec<(Topic, Data)> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        got.extend(sub.get_n(n - got.len(), Some(left)));
    }
    got
}

/// Asserts that nothing arrives for a short while (for "must not receive" checks).
pub fn assert_quiet(sub: &Subscriber) {
    let extra = sub.get(Some(Duration::from_millis(300)));
    assert!(extra.is_none(), "unexpected message {extra:?}");
}

/// Waits (bounded) until `condition` holds.
pub fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until a direct peer of `endpoint` subscribes to a prefix of `topic`: from then
/// on a message published on `topic` reaches it.
pub fn await_subscription(endpoint: &Endpoint, topic: &str) {
    assert!(
        endpoint.await_peer_subscription(&Topic::from(topic), WAIT),
        "timed out waiting for a peer's subscription to {topic}"
    );
}

/// `count` messages on `topic` carrying their index.
pub fn numbered(topic: &str, count: u64) -> Vec<(Topic, Data)> {
    (0..count)
        .map(|i| (Topic::from(topic), Data::Count(i)))
        .collect()
}

/// Reads one length-prefixed frame body from a raw socket (bounded by `WAIT`).
pub fn read_body(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    stream.read_exact(&mut body).unwrap();
    body
}

/// Makes a raw socket a broker-rs peer as an endpoint would: Broker's native handshake
/// as connector, offering our private version (which must be selected), then our
/// `Hello` exchange. Returns the endpoint's `Hello`; our frames follow on `stream`.
pub fn raw_handshake(
    stream: &mut std::net::TcpStream,
    hello: broker::wire::Hello,
) -> broker::wire::Hello {
    use broker::wire::codec::FrameCodec;
    use broker::wire::native::{
        HandshakeMachine, NativeCodec, Next, Reservation, Role, BROKER_RS_VERSION,
    };
    use std::io::Write;
    let native = NativeCodec::default();
    let own = hello.node;
    let (mut machine, first) = HandshakeMachine::offering(
        Role::Connector,
        own,
        hello.filter.clone(),
        BROKER_RS_VERSION,
    );
    let mut out = Vec::new();
    native.encode_handshake(&first, &mut out).unwrap();
    stream.write_all(&out).unwrap();
    loop {
        let mut step = machine.receive(&read_body(stream));
        if let Next::Reserve { .. } = step.next {
            step = machine.reserved(Reservation::Granted);
        }
        let mut out = Vec::new();
        for message in &step.send {
            native.encode_handshake(message, &mut out).unwrap();
        }
        stream.write_all(&out).unwrap();
        match step.next {
            Next::Continue => {}
            Next::Established { version, .. } => {
                assert_eq!(version, BROKER_RS_VERSION, "broker-rs selects its version");
                break;
            }
            other => panic!("handshake ended with {other:?}"),
        }
    }
    let mut out = Vec::new();
    FrameCodec::default()
        .encode(&broker::wire::Frame::Hello(hello), &mut out)
        .unwrap();
    stream.write_all(&out).unwrap();
    match broker::wire::codec::decode_body(&read_body(stream)).unwrap() {
        broker::wire::Frame::Hello(theirs) => theirs,
        other => panic!("expected the endpoint's Hello, got {other:?}"),
    }
}
