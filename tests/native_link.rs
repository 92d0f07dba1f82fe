//! The native link between broker-rs endpoints (`Config::native_only`): the same
//! behaviour as our own encoding where Broker's protocol can carry it. Runs without the
//! reference Broker; `native_interop.rs` checks the same link against it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broker::actors::{Config, Endpoint, ErrorCode, StatusCode, StatusEvent};
use broker::wire::native::EndpointId;
use broker::wire::zeek::Event;
use broker::wire::{Port, Protocol, Timespan, Timestamp};
use broker::{Data, Topic};
use common::*;

fn native() -> Config {
    Config {
        native_only: true,
        disable_ssl: true,
        ..Config::default()
    }
}

#[test]
fn a_native_peering_carries_every_kind_filters_and_unpeering() {
    // Only one side asks for the native protocol: the other then speaks it too.
    let net = Net::build(
        vec![
            native(),
            Config {
                disable_ssl: true,
                ..Config::default()
            },
        ],
        &[(1, 0)],
    );
    let (a, b) = (&net.nodes[0], &net.nodes[1]);
    // Over the native protocol a peer is known by its endpoint id, which is its node id.
    assert_eq!(a.peers()[0].peer.node, b.node_id());
    assert_eq!(b.peers()[0].peer.node, a.node_id());
    let sub_b = b.make_subscriber(vec![Topic::from("/to/b")], 64);
    await_subscription(a, "/to/b");
    let values = vec![
        Data::None,
        Data::Boolean(false),
        Data::Count(3),
        Data::Integer(-3),
        Data::Real(0.25),
        Data::from("text"),
        Data::Address("10.0.0.1".parse().unwrap()),
        Data::Subnet("10.0.0.0/8".parse().unwrap()),
        Data::Port(Port::new(443, Protocol::Tcp)),
        Data::Timestamp(Timestamp(1_000_000_000)),
        Data::Timespan(Timespan(-1)),
        Data::EnumValue("E::V".into()),
        Data::Set([Data::Count(1), Data::from("x")].into()),
        Data::Table([(Data::Count(1), Data::Vector(vec![]))].into()),
        Event::new("ev", vec![Data::Count(1)])
            .with_metadata(1, Data::Timestamp(Timestamp(5)))
            .to_data(),
    ];
    let published: Vec<(Topic, Data)> = values
        .iter()
        .map(|v| (Topic::from("/to/b/x"), v.clone()))
        .collect();
    a.publish_batch(published.clone());
    assert_eq!(receive(&sub_b, published.len()), published);
    // A later subscription travels as a routing_update.
    let sub_a = a.make_subscriber(vec![Topic::from("/to/a")], 16);
    await_subscription(b, "/to/a");
    b.publish(Topic::from("/to/a"), Data::Count(9));
    assert_eq!(
        receive(&sub_a, 1),
        vec![(Topic::from("/to/a"), Data::Count(9))]
    );
    // Unpeering: removed here, lost there (Broker's BYE, then the close).
    assert!(b.unpeer("127.0.0.1", net.ports[0]));
    assert_eq!(
        wait_statuses(&net.statuses[1], StatusCode::PeerRemoved, 1),
        1
    );
    assert_eq!(wait_statuses(&net.statuses[0], StatusCode::PeerLost, 1), 1);
}

#[test]
fn native_links_forward_along_a_chain() {
    let net = Net::build(vec![native(), native(), native()], &[(1, 0), (2, 1)]);
    let end = net.nodes[2].make_subscriber(vec![Topic::from("/m")], 64);
    net.nodes[1].forward(vec![Topic::from("/m")]);
    await_subscription(&net.nodes[0], "/m");
    await_subscription(&net.nodes[1], "/m");
    net.nodes[0].publish_batch(numbered("/m", 10));
    assert_eq!(receive(&end, 10), numbered("/m", 10));
    assert_quiet(&end);
}

#[test]
fn a_native_peer_is_reachable_through_its_peer_but_learns_nothing_itself() {
    // a and b speak our protocol; c speaks Broker's to b, as a Zeek would.
    let plain = || Config {
        disable_ssl: true,
        ..Config::default()
    };
    let net = Net::build(vec![plain(), plain(), native()], &[(0, 1), (2, 1)]);
    let (a, c) = (&net.nodes[0], &net.nodes[2]);
    assert!(
        a.await_peer(&c.node_id(), WAIT),
        "b tells a of its native peer c"
    );
    assert!(!c.await_peer(&a.node_id(), Duration::from_millis(200)));
    assert!(c.unpeer("127.0.0.1", net.ports[1]));
    loop {
        match next_event(&net.statuses[0]) {
            StatusEvent::Status(s) if s.code == StatusCode::EndpointUnreachable => {
                assert_eq!(s.context.map(|c| c.node), Some(c.node_id()));
                break;
            }
            StatusEvent::Status(s) if s.code == StatusCode::EndpointDiscovered => {}
            other => panic!("expected c unreachable, got {other:?}"),
        }
    }
    assert!(!a.await_peer(&c.node_id(), Duration::ZERO));
}

/// A Broker-like raw peer: Broker's handshake as connector (version 1 only), then it
/// answers pings with pongs while `answering`, as Broker does (it never pings itself).
fn raw_broker_peer(port: u16, answering: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    use broker::wire::native::{
        Content, Envelope, HandshakeMachine, NativeCodec, Next, Reservation, Role,
    };
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let codec = NativeCodec::default();
    let own = EndpointId([0x42; 16]);
    let (mut machine, first) = HandshakeMachine::start(Role::Connector, own, vec![]);
    let mut out = Vec::new();
    codec.encode_handshake(&first, &mut out).unwrap();
    stream.write_all(&out).unwrap();
    loop {
        let mut step = machine.receive(&read_body(&mut stream));
        if let Next::Reserve { .. } = step.next {
            step = machine.reserved(Reservation::Granted);
        }
        let mut out = Vec::new();
        for message in &step.send {
            codec.encode_handshake(message, &mut out).unwrap();
        }
        stream.write_all(&out).unwrap();
        match step.next {
            Next::Continue => {}
            Next::Established { .. } => break,
            other => panic!("handshake ended with {other:?}"),
        }
    }
    std::thread::spawn(move || {
        stream.set_read_timeout(None).unwrap();
        let mut prefix = [0u8; 4];
        while std::io::Read::read_exact(&mut stream, &mut prefix).is_ok() {
            let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
            if std::io::Read::read_exact(&mut stream, &mut body).is_err() {
                return;
            }
            let envelope = Envelope::decode(&body).unwrap();
            if let (Content::Ping(_), true) = (&envelope.content, answering.load(Ordering::Relaxed))
            {
                let mut out = Vec::new();
                let pong = envelope.pong().unwrap();
                codec.encode_envelope(&pong, &mut out).unwrap();
                if stream.write_all(&out).is_err() {
                    return;
                }
            }
        }
    })
}

#[test]
fn a_broker_peer_answering_pings_stays_and_a_silent_one_is_lost() {
    let keepalive = Duration::from_millis(250);
    let config = Config {
        keepalive,
        disable_ssl: true,
        ..Config::default()
    };
    let ours = Endpoint::new(config).unwrap();
    let statuses = ours.make_status_subscriber(true);
    let port = ours.listen("127.0.0.1", 0).unwrap();
    let answering = Arc::new(AtomicBool::new(true));
    let reader = raw_broker_peer(port, answering.clone());
    assert_eq!(wait_peered(&statuses, 1), [1, 1]);
    // Six keepalive intervals: our pings keep getting pongs, the peer stays.
    std::thread::sleep(keepalive * 6);
    assert_eq!(ours.peers().len(), 1);
    assert!(statuses.poll().is_empty());
    // Silent from now on (the socket stays open): lost after three intervals.
    answering.store(false, Ordering::Relaxed);
    match next_event(&statuses) {
        StatusEvent::Error(error) => assert_eq!(error.code, ErrorCode::PeerTimeout),
        other => panic!("expected PeerTimeout, got {other:?}"),
    }
    assert_eq!(wait_statuses(&statuses, StatusCode::PeerLost, 1), 1);
    reader.join().unwrap();
}

#[test]
fn a_connection_refused_as_redundant_is_answered_by_the_peering_we_have() {
    use broker::wire::codes::ErrorCode as Code;
    use broker::wire::native::{DropConn, Handshake, NativeCodec};
    use std::io::Write;
    let ours = Endpoint::new(native()).unwrap();
    let statuses = ours.make_status_subscriber(true);
    let port = ours.listen("127.0.0.1", 0).unwrap();
    // Peer X connects to us...
    let _x = raw_broker_peer(port, Arc::new(AtomicBool::new(true)));
    assert_eq!(wait_peered(&statuses, 1), [1, 1]);
    // ...and refuses our own connection to it as redundant, as Broker does.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_port = server.local_addr().unwrap().port();
    let refusing = std::thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        read_body(&mut conn); // our hello
        let drop = Handshake::DropConn(DropConn {
            sender: EndpointId([0x42; 16]),
            code: Code::RedundantConnection.code(),
            description: "redundant connection".into(),
        });
        let mut out = Vec::new();
        NativeCodec::default()
            .encode_handshake(&drop, &mut out)
            .unwrap();
        conn.write_all(&out).unwrap();
    });
    ours.peer("127.0.0.1", server_port, None)
        .expect("benign: the peer is connected already");
    refusing.join().unwrap();
    assert_eq!(ours.peers().len(), 1, "one peering, no pending target");
    assert!(statuses.poll().is_empty(), "no error, no second PeerAdded");
}
