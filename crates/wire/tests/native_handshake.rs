//! The handshake machine driven in memory through the four handshake scenarios of
//! Broker's btests (originator, responder, redundant connection, version mismatch),
//! against the bytes of spec §6, plus its error paths.

mod common;

use broker_wire::codes::ErrorCode;
use broker_wire::native::{
    Closed, DropConn, EndpointId, Handshake, HandshakeError, HandshakeMachine, Hello, NativeCodec,
    NativeError, Next, Reservation, Role, Step, BROKER_RS_VERSION, PROTOCOL_VERSION,
};
use broker_wire::Topic;
use common::hex;

const P: &str = "00000000-0000-4000-8000-000000000000";
const N: &str = "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1";
const Q: &str = "ffffffff-ffff-4fff-bfff-ffffffffffff";

fn id(text: &str) -> EndpointId {
    text.parse().unwrap()
}

fn topics(names: &[&str]) -> Vec<Topic> {
    names.iter().copied().map(Topic::from).collect()
}

/// The frames of `messages`, length prefixes included.
fn frames(messages: &[Handshake]) -> Vec<u8> {
    let codec = NativeCodec::default();
    let mut out = Vec::new();
    for message in messages {
        codec.encode_handshake(message, &mut out).unwrap();
    }
    out
}

/// Feeds one whole frame (given as hex, length prefix included) to `machine`.
fn feed(machine: &mut HandshakeMachine, frame_hex: &str) -> Step {
    let frame = hex(frame_hex);
    let (body, used) = NativeCodec::default()
        .split_frame(&frame)
        .unwrap()
        .expect("a whole frame");
    assert_eq!(used, frame.len());
    machine.receive(body)
}

#[track_caller]
fn expect_sends(step: &Step, frames_hex: &str) {
    assert_eq!(frames(&step.send), hex(frames_hex), "sent {:?}", step.send);
}

/// The node under test of the btests: broker-node (id N) accepting with filter /test.
fn start_node() -> (HandshakeMachine, Handshake) {
    HandshakeMachine::start(Role::Acceptor, id(N), topics(&["/test"]))
}

#[test]
fn originator_scenario_node_responds() {
    let (mut node, first) = start_node();
    assert_eq!(frames(&[first]), hex("00000005 07 5a45454b"));
    // P (smaller) says hello with versions 1-99: the node answers with its own.
    let step = feed(
        &mut node,
        "00000017 06 5a45454b 00000000000040008000000000000000 01 63",
    );
    expect_sends(
        &step,
        "00000017 06 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01 01",
    );
    assert_eq!(step.next, Next::Continue);
    let step = feed(
        &mut node,
        "00000016 08 5a45454b 00000000000040008000000000000000 01",
    );
    assert_eq!(
        step.next,
        Next::Reserve {
            peer: id(P),
            originator: false,
        }
    );
    assert!(step.send.is_empty());
    let step = node.reserved(Reservation::Granted);
    assert_eq!((step.send.len(), step.next), (0, Next::Continue));
    let step = feed(&mut node, "0000000b 0a 01 08 2f666f6f2f626172");
    expect_sends(&step, "00000008 0b 01 05 2f74657374");
    let step = feed(&mut node, "00000001 0c");
    assert!(step.send.is_empty());
    assert_eq!(
        step.next,
        Next::Established {
            peer: id(P),
            filter: topics(&["/foo/bar"]),
            originator: false,
            version: PROTOCOL_VERSION,
        }
    );
}

#[test]
fn originator_scenario_connector_originates() {
    let (mut p, first) = HandshakeMachine::start(Role::Connector, id(P), topics(&["/foo/bar"]));
    assert_eq!(
        frames(&[first]),
        hex("00000017 06 5a45454b 00000000000040008000000000000000 01 01")
    );
    let step = feed(&mut p, "00000005 07 5a45454b");
    assert_eq!((step.send.len(), step.next), (0, Next::Continue));
    let step = feed(
        &mut p,
        "00000017 06 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01 01",
    );
    assert_eq!(
        step.next,
        Next::Reserve {
            peer: id(N),
            originator: true,
        }
    );
    let step = p.reserved(Reservation::Granted);
    expect_sends(
        &step,
        "00000016 08 5a45454b 00000000000040008000000000000000 01 \
         0000000b 0a 01 08 2f666f6f2f626172",
    );
    let step = feed(&mut p, "00000008 0b 01 05 2f74657374");
    expect_sends(&step, "00000001 0c");
    assert_eq!(
        step.next,
        Next::Established {
            peer: id(N),
            filter: topics(&["/test"]),
            originator: true,
            version: PROTOCOL_VERSION,
        }
    );
}

/// Q (larger) connects to the node, which becomes the originator.
fn responder_scenario_until_reserved(node: &mut HandshakeMachine) -> Step {
    let step = feed(
        node,
        "00000017 06 5a45454b ffffffffffff4fffbfffffffffffffff 01 63",
    );
    assert_eq!(
        step.next,
        Next::Reserve {
            peer: id(Q),
            originator: true,
        }
    );
    assert!(step.send.is_empty());
    step
}

#[test]
fn responder_scenario_node_originates() {
    let (mut node, _) = start_node();
    responder_scenario_until_reserved(&mut node);
    let step = node.reserved(Reservation::Granted);
    // VERSION_SELECT 21 and ORIGINATOR_SYN 7 in the btest's count (tag excluded).
    expect_sends(
        &step,
        "00000016 08 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01 00000008 0a 01 05 2f74657374",
    );
    let step = feed(&mut node, "0000000b 0b 01 08 2f666f6f2f626172");
    expect_sends(&step, "00000001 0c");
    assert_eq!(
        step.next,
        Next::Established {
            peer: id(Q),
            filter: topics(&["/foo/bar"]),
            originator: true,
            version: PROTOCOL_VERSION,
        }
    );
}

#[test]
fn responder_scenario_connector_responds() {
    let (mut q, _) = HandshakeMachine::start(Role::Connector, id(Q), topics(&["/foo/bar"]));
    assert_eq!(feed(&mut q, "00000005 07 5a45454b").next, Next::Continue);
    let step = feed(
        &mut q,
        "00000016 08 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01",
    );
    assert_eq!(
        step.next,
        Next::Reserve {
            peer: id(N),
            originator: false,
        }
    );
    assert_eq!(q.reserved(Reservation::Granted).next, Next::Continue);
    let step = feed(&mut q, "00000008 0a 01 05 2f74657374");
    expect_sends(&step, "0000000b 0b 01 08 2f666f6f2f626172");
    let step = feed(&mut q, "00000001 0c");
    assert_eq!(
        step.next,
        Next::Established {
            peer: id(N),
            filter: topics(&["/test"]),
            originator: false,
            version: PROTOCOL_VERSION,
        }
    );
}

const DROP_REDUNDANT_FROM_N: &str = "0000002b 09 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 27 14 \
                                     726564756e64616e7420636f6e6e656374696f6e";

#[test]
fn redundant_connection_scenario() {
    // First connection from Q: reserved.
    let (mut first, _) = start_node();
    responder_scenario_until_reserved(&mut first);
    let step = first.reserved(Reservation::Granted);
    assert_eq!(step.send.len(), 2);
    // Second connection from Q with the same id: its handshake waits for the first.
    let (mut second, probe) = start_node();
    assert_eq!(probe, Handshake::Probe);
    responder_scenario_until_reserved(&mut second);
    let step = second.reserved(Reservation::Pending);
    assert_eq!(
        (step.send.len(), step.next),
        (0, Next::Parked { peer: id(Q) })
    );
    // A parked connection reads nothing more.
    let mut not_reading = second.clone();
    let step = feed(&mut not_reading, "00000001 0c");
    assert!(matches!(
        step.next,
        Next::Closed(Closed::Failed {
            error: HandshakeError::NotReading(_),
            release: None
        })
    ));
    // The first handshake ends; then the second connection is refused with ec 39.
    let step = feed(&mut first, "00000008 0b 01 05 2f74657374");
    assert!(matches!(
        step.next,
        Next::Established {
            originator: true,
            ..
        }
    ));
    let step = second.drop_redundant();
    expect_sends(&step, DROP_REDUNDANT_FROM_N);
    assert_eq!(step.next, Next::Closed(Closed::Redundant { peer: id(Q) }));
    // A third connection once Q is connected is refused at once.
    let (mut third, _) = start_node();
    responder_scenario_until_reserved(&mut third);
    let step = third.reserved(Reservation::Connected);
    expect_sends(&step, DROP_REDUNDANT_FROM_N);
    assert_eq!(step.next, Next::Closed(Closed::Redundant { peer: id(Q) }));
}

#[test]
fn redundant_connection_as_seen_by_the_connector() {
    let (mut q, _) = HandshakeMachine::start(Role::Connector, id(Q), vec![]);
    assert_eq!(feed(&mut q, "00000005 07 5a45454b").next, Next::Continue);
    let step = feed(&mut q, DROP_REDUNDANT_FROM_N);
    assert_eq!(
        step.next,
        Next::Closed(Closed::DroppedByPeer(DropConn {
            sender: id(N),
            code: ErrorCode::RedundantConnection.code(),
            description: "redundant connection".into()
        }))
    );
}

#[test]
fn version_mismatch_scenario() {
    let (mut node, _) = start_node();
    let step = feed(
        &mut node,
        "00000017 06 5a45454b ffffffffffff4fffbfffffffffffffff c8 c9",
    );
    let description: String = "unsupported versions offered"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    expect_sends(
        &step,
        &format!("00000033 09 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 02 1c {description}"),
    );
    assert_eq!(
        step.next,
        Next::Closed(Closed::Failed {
            error: HandshakeError::Decode(NativeError::UnsupportedVersions { min: 200, max: 201 }),
            release: None
        })
    );
}

#[test]
fn decode_errors_are_answered_with_drop_conn() {
    let (mut node, _) = start_node();
    let step = feed(
        &mut node,
        "00000017 06 5a45454c ffffffffffff4fffbfffffffffffffff 01 01",
    );
    let Handshake::DropConn(drop) = &step.send[0] else {
        panic!("expected drop_conn, got {:?}", step.send)
    };
    assert_eq!(
        (drop.code, drop.description.as_str()),
        (38, "wrong magic number")
    );
    let (mut node, _) = start_node();
    let step = feed(&mut node, "00000003 06 5a45");
    let Handshake::DropConn(drop) = &step.send[0] else {
        panic!("expected drop_conn, got {:?}", step.send)
    };
    assert_eq!(
        (drop.code, drop.description.as_str()),
        (20, "failed to parse hello_msg")
    );
    let (mut node, _) = start_node();
    let step = feed(&mut node, "00000001 02");
    let Handshake::DropConn(drop) = &step.send[0] else {
        panic!("expected drop_conn, got {:?}", step.send)
    };
    assert_eq!(
        (drop.code, drop.description.as_str()),
        (20, "invalid message type tag")
    );
    // An empty frame closes without a drop_conn, as Broker does.
    let (mut node, _) = start_node();
    let step = node.receive(&[]);
    assert!(step.send.is_empty());
    assert!(matches!(step.next, Next::Closed(Closed::Failed { .. })));
}

#[test]
fn valid_messages_in_the_wrong_state_close_without_drop_conn() {
    let (mut node, _) = start_node();
    let step = node.handle(Handshake::OriginatorAck);
    assert!(step.send.is_empty());
    assert!(matches!(
        step.next,
        Next::Closed(Closed::Failed {
            error: HandshakeError::Unexpected { .. },
            release: None
        })
    ));
    // After the reservation, probes are no longer allowed, and the reservation is
    // handed back for release.
    let (mut node, _) = start_node();
    responder_scenario_until_reserved(&mut node);
    node.reserved(Reservation::Granted);
    let step = node.handle(Handshake::Probe);
    assert!(step.send.is_empty());
    assert!(matches!(
        step.next,
        Next::Closed(Closed::Failed {
            release: Some(peer),
            ..
        }) if peer == id(Q)
    ));
}

#[test]
fn responder_refuses_redundancy_and_shutdown_refuses_all() {
    let (mut q, _) = HandshakeMachine::start(Role::Connector, id(Q), vec![]);
    feed(
        &mut q,
        "00000016 08 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01",
    );
    let step = q.reserved(Reservation::Connected);
    assert_eq!(
        step.send,
        vec![Handshake::DropConn(DropConn {
            sender: id(Q),
            code: ErrorCode::LogicError.code(),
            description: "detected redundant connection at the responder".into()
        })]
    );
    assert!(matches!(
        step.next,
        Next::Closed(Closed::Failed {
            error: HandshakeError::RedundantAtResponder,
            release: None
        })
    ));
    let (mut node, _) = start_node();
    responder_scenario_until_reserved(&mut node);
    let step = node.reserved(Reservation::ShuttingDown);
    let Handshake::DropConn(drop) = &step.send[0] else {
        panic!("expected drop_conn")
    };
    assert_eq!(
        (drop.code, drop.description.as_str()),
        (28, "shutting down")
    );
}

/// Feeds `machine` every whole frame in `inbox`, granting every reservation, and
/// appends what it sends to `outbox`; returns how the handshake ended, if it did.
fn turn(machine: &mut HandshakeMachine, inbox: &mut Vec<u8>, outbox: &mut Vec<u8>) -> Option<Next> {
    let codec = NativeCodec::default();
    while let Some((body, used)) = codec.split_frame(inbox).unwrap() {
        let mut step = machine.receive(body);
        inbox.drain(..used);
        if let Next::Reserve { .. } = step.next {
            step = machine.reserved(Reservation::Granted);
        }
        outbox.extend(frames(&step.send));
        if step.next != Next::Continue {
            return Some(step.next);
        }
    }
    None
}

/// Two machines talking through bytes until both are done; returns how each ended.
fn pump(a: (HandshakeMachine, Handshake), b: (HandshakeMachine, Handshake)) -> (Next, Next) {
    let ((mut a, a_first), (mut b, b_first)) = (a, b);
    let (mut to_a, mut to_b) = (frames(&[b_first]), frames(&[a_first]));
    let (mut a_done, mut b_done) = (None, None);
    for _ in 0..16 {
        if a_done.is_none() {
            a_done = turn(&mut a, &mut to_a, &mut to_b);
        }
        if b_done.is_none() {
            b_done = turn(&mut b, &mut to_b, &mut to_a);
        }
        if let (Some(a), Some(b)) = (&a_done, &b_done) {
            return (a.clone(), b.clone());
        }
    }
    panic!("handshake did not finish: {a_done:?} {b_done:?}");
}

#[test]
fn two_machines_peer_whichever_id_is_smaller() {
    for (connector, acceptor) in [(P, N), (N, P), (Q, N), (N, Q)] {
        let c = HandshakeMachine::start(Role::Connector, id(connector), topics(&["/c"]));
        let a = HandshakeMachine::start(Role::Acceptor, id(acceptor), topics(&["/a"]));
        let (c_next, a_next) = pump(c, a);
        let c_originates = id(connector) < id(acceptor);
        assert_eq!(
            c_next,
            Next::Established {
                peer: id(acceptor),
                filter: topics(&["/a"]),
                originator: c_originates,
                version: PROTOCOL_VERSION,
            }
        );
        assert_eq!(
            a_next,
            Next::Established {
                peer: id(connector),
                filter: topics(&["/c"]),
                originator: !c_originates,
                version: PROTOCOL_VERSION,
            }
        );
    }
}

#[test]
fn two_broker_rs_machines_select_the_private_version_a_broker_selects_1() {
    for (connector, acceptor) in [(P, N), (N, P)] {
        let both = |c_max, a_max| {
            let c = HandshakeMachine::offering(Role::Connector, id(connector), vec![], c_max);
            let a = HandshakeMachine::offering(Role::Acceptor, id(acceptor), vec![], a_max);
            match pump(c, a) {
                (Next::Established { version: c, .. }, Next::Established { version: a, .. }) => {
                    (c, a)
                }
                other => panic!("not established: {other:?}"),
            }
        };
        let private = (BROKER_RS_VERSION, BROKER_RS_VERSION);
        assert_eq!(both(BROKER_RS_VERSION, BROKER_RS_VERSION), private);
        let broker = (PROTOCOL_VERSION, PROTOCOL_VERSION);
        assert_eq!(both(BROKER_RS_VERSION, PROTOCOL_VERSION), broker);
        assert_eq!(both(PROTOCOL_VERSION, BROKER_RS_VERSION), broker);
        // broker-rs endpoints of different frame versions meet on Broker's.
        assert_eq!(both(BROKER_RS_VERSION, BROKER_RS_VERSION + 1), broker);
    }
}

#[test]
fn our_hello_offers_the_range_and_a_foreign_selection_is_refused() {
    let (_, hello) = HandshakeMachine::offering(Role::Connector, id(Q), vec![], BROKER_RS_VERSION);
    assert_eq!(
        hello,
        Handshake::Hello(Hello {
            sender: id(Q),
            min_version: PROTOCOL_VERSION,
            max_version: BROKER_RS_VERSION,
        })
    );
    // A Broker machine (offering only 1) refuses our private version when selected.
    let (mut broker, _) = HandshakeMachine::start(Role::Connector, id(Q), vec![]);
    let step = broker.handle(Handshake::VersionSelect {
        sender: id(P),
        version: BROKER_RS_VERSION,
    });
    match step.next {
        Next::Closed(Closed::Failed { .. }) => {}
        other => panic!("accepted a version it does not offer: {other:?}"),
    }
    assert!(
        matches!(&step.send[..], [Handshake::DropConn(d)] if d.code == ErrorCode::PeerIncompatible.code())
    );
}
