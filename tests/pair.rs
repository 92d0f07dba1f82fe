//! Two endpoints: peering, statuses, publish/subscribe, unpeer, shutdown.

mod common;

use std::time::Duration;

use broker::actors::{Endpoint, ErrorCode, PeerFlags, PeerStatus, StatusCode, StatusEvent};
use broker::wire::data::DataWriter;
use broker::{Data, Topic};
use common::*;

#[test]
fn peering_reports_each_other_and_delivers_both_ways() {
    let net = Net::uniform(2, &[(1, 0)]);
    let (a, b) = (&net.nodes[0], &net.nodes[1]);
    let peers_a = a.peers();
    assert_eq!(peers_a.len(), 1);
    assert_eq!(peers_a[0].peer.node, b.node_id());
    assert_eq!(peers_a[0].status, PeerStatus::Peered);
    assert!(peers_a[0].flags.contains(PeerFlags::REMOTE));
    let peers_b = b.peers();
    assert_eq!(peers_b[0].peer.node, a.node_id());
    assert_eq!(peers_b[0].peer.network.as_ref().unwrap().port, net.ports[0]);

    let sub_a = a.make_subscriber(vec![Topic::from("/to/a")], 16);
    let sub_b = b.make_subscriber(vec![Topic::from("/to/b")], 16);
    await_subscription(a, "/to/b");
    await_subscription(b, "/to/a");
    assert_eq!(a.peer_subscriptions(), vec![Topic::from("/to/b")]);
    assert_eq!(b.peer_subscriptions(), vec![Topic::from("/to/a")]);
    a.publish(Topic::from("/to/b/x"), Data::from("hello b"));
    b.publish(Topic::from("/to/a"), Data::Count(7));
    assert_eq!(
        receive(&sub_b, 1),
        vec![(Topic::from("/to/b/x"), Data::from("hello b"))]
    );
    assert_eq!(
        receive(&sub_a, 1),
        vec![(Topic::from("/to/a"), Data::Count(7))]
    );
}

#[test]
fn await_peer_subscription_wakes_when_a_matching_filter_arrives() {
    let net = Net::uniform(2, &[(0, 1)]);
    let (a, b) = (&net.nodes[0], &net.nodes[1]);
    let topic = Topic::from("/late/x");
    assert!(!a.await_peer_subscription(&topic, Duration::from_millis(50)));
    let sub = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| a.await_peer_subscription(&topic, WAIT));
        let sub = b.make_subscriber(vec![Topic::from("/late")], 16);
        assert!(waiter.join().unwrap(), "the waiter saw the filter arrive");
        sub
    });
    // The filter is a prefix of the topic, not the other way round.
    assert!(!a.await_peer_subscription(&Topic::from("/la"), Duration::ZERO));
    a.publish(topic.clone(), Data::Count(1));
    assert_eq!(receive(&sub, 1), vec![(topic.clone(), Data::Count(1))]);
    a.shutdown();
    assert!(
        !a.await_peer_subscription(&topic, WAIT),
        "nothing to wait for"
    );
}

#[test]
fn prefix_filters_are_raw_and_publishers_do_not_hear_themselves() {
    let net = Net::uniform(2, &[(0, 1)]);
    let (a, b) = (&net.nodes[0], &net.nodes[1]);
    let local = a.make_subscriber(vec![Topic::from("/t")], 16);
    let remote = b.make_subscriber(vec![Topic::from("/t")], 16);
    await_subscription(a, "/t");
    a.publish_batch(vec![
        (Topic::from("/tfoo"), Data::Count(1)),
        (Topic::from("/other"), Data::Count(2)),
        (Topic::from("/t/x"), Data::Count(3)),
    ]);
    let got: Vec<Data> = receive(&remote, 2).into_iter().map(|(_, d)| d).collect();
    assert_eq!(got, vec![Data::Count(1), Data::Count(3)]);
    assert_quiet(&remote);
    assert_eq!(
        local.available(),
        0,
        "no local delivery on the publishing endpoint"
    );
}

#[test]
fn subscriber_fd_is_readable_exactly_while_messages_are_pending() {
    let net = Net::uniform(2, &[(0, 1)]);
    let sub = net.nodes[1].make_subscriber(vec![Topic::from("/fd")], 16);
    await_subscription(&net.nodes[0], "/fd");
    let readable = |fd| {
        let mut pfd = libc_poll(fd);
        pfd(0)
    };
    assert!(!readable(sub.fd()));
    net.nodes[0].publish_batch(numbered("/fd", 3));
    eventually("the fd to become readable", || readable(sub.fd()));
    assert_eq!(receive(&sub, 3).len(), 3);
    assert!(!readable(sub.fd()));
    assert_eq!(sub.poll().len(), 0);
}

/// A poll(2) of one descriptor for readability.
fn libc_poll(fd: i32) -> impl FnMut(i32) -> bool {
    move |timeout_ms| {
        #[repr(C)]
        struct PollFd {
            fd: i32,
            events: i16,
            revents: i16,
        }
        extern "C" {
            fn poll(fds: *mut PollFd, n: u64, timeout: i32) -> i32;
        }
        let mut pfd = PollFd {
            fd,
            events: 1,
            revents: 0,
        };
        // SAFETY: one valid pollfd struct laid out as the C one.
        unsafe { poll(&mut pfd, 1, timeout_ms) == 1 }
    }
}

#[test]
fn unpeer_is_removed_here_and_lost_there() {
    let net = Net::uniform(2, &[(1, 0)]);
    assert!(net.nodes[1].unpeer("127.0.0.1", net.ports[0]));
    match next_event(&net.statuses[1]) {
        StatusEvent::Status(s) => {
            assert_eq!(s.code, StatusCode::PeerRemoved);
            assert_eq!(s.context.unwrap().node, net.nodes[0].node_id());
            assert_eq!(s.message, "removed connection to remote peer");
        }
        other => panic!("unexpected {other:?}"),
    }
    match next_event(&net.statuses[0]) {
        StatusEvent::Status(s) => {
            assert_eq!(s.code, StatusCode::PeerLost);
            assert_eq!(s.message, "lost connection to remote peer");
        }
        other => panic!("unexpected {other:?}"),
    }
    eventually("both sides to forget", || {
        net.nodes[0].peers().is_empty() && net.nodes[1].peers().is_empty()
    });
    assert!(
        !net.nodes[1].unpeer("127.0.0.1", net.ports[0]),
        "nothing left to unpeer"
    );
}

#[test]
fn failed_attempt_is_one_peer_unavailable() {
    let a = Endpoint::new(Default::default()).unwrap();
    let status = a.make_status_subscriber(false);
    let closed_port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    assert!(a.peer("127.0.0.1", closed_port, None).is_err());
    match next_event(&status) {
        StatusEvent::Error(e) => {
            assert_eq!(e.code, ErrorCode::PeerUnavailable);
            assert_eq!(e.message, "unable to connect to remote peer");
            assert_eq!(e.context.unwrap().network.unwrap().port, closed_port);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        status.get(Some(Duration::from_millis(300))).is_none(),
        "exactly one error per attempt"
    );
}

#[test]
fn peering_twice_keeps_one_peering() {
    let net = Net::uniform(2, &[(1, 0)]);
    net.nodes[1].peer("127.0.0.1", net.ports[0], None).unwrap();
    assert_eq!(net.nodes[1].peers().len(), 1);
    assert!(net.statuses[1]
        .get(Some(Duration::from_millis(300)))
        .is_none());
}

#[test]
fn peering_each_other_at_once_keeps_one_peering_and_both_calls_succeed() {
    for _ in 0..5 {
        let nodes: Vec<Endpoint> = (0..2)
            .map(|_| Endpoint::new(broker::actors::Config::default()).unwrap())
            .collect();
        let ports: Vec<u16> = nodes
            .iter()
            .map(|n| n.listen("127.0.0.1", 0).unwrap())
            .collect();
        std::thread::scope(|scope| {
            // Broker's tie-break keeps one connection; the other is dropped as redundant
            // (drop_conn 39) and its `peer` call is answered by the peering kept.
            let a = scope.spawn(|| nodes[0].peer("127.0.0.1", ports[1], None));
            let b = scope.spawn(|| nodes[1].peer("127.0.0.1", ports[0], None));
            a.join().unwrap().expect("a peers with b");
            b.join().unwrap().expect("b peers with a");
        });
        for (node, other) in [(&nodes[0], &nodes[1]), (&nodes[1], &nodes[0])] {
            let peers = node.peers();
            assert_eq!(peers.len(), 1, "{peers:?}");
            assert_eq!(peers[0].peer.node, other.node_id());
        }
    }
}

#[test]
fn shutdown_flushes_published_messages() {
    let net = Net::uniform(2, &[(0, 1)]);
    let sub = net.nodes[1].make_subscriber(vec![Topic::from("/flush")], 100_000);
    await_subscription(&net.nodes[0], "/flush");
    let publisher = net.nodes[0].make_publisher(Topic::from("/flush"));
    net.nodes[0].publish_batch(numbered("/flush", 20_000));
    publisher.publish_batch((0..5_000).map(Data::Count).collect());
    net.nodes[0].shutdown();
    net.nodes[0].shutdown();
    assert_eq!(receive(&sub, 25_000).len(), 25_000);
    assert_eq!(wait_statuses(&net.statuses[1], StatusCode::PeerLost, 1), 1);
}

/// The next status (skipping nothing), asserting its code; its context's node and
/// whether the context has a network address.
fn next_status_is(status: &broker::actors::StatusSubscriber, code: StatusCode) -> (String, bool) {
    match next_event(status) {
        StatusEvent::Status(s) if s.code == code => {
            let context = s.context.expect("a context");
            (context.node.to_string(), context.network.is_some())
        }
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[test]
fn a_peering_discovers_its_endpoint_and_losing_it_makes_it_unreachable() {
    let a = Endpoint::new(Default::default()).unwrap();
    let b = Endpoint::new(Default::default()).unwrap();
    let statuses = a.make_status_subscriber(true);
    let port = b.listen("127.0.0.1", 0).unwrap();
    assert!(!a.await_peer(&b.node_id(), Duration::from_millis(50)));
    a.peer("127.0.0.1", port, None).unwrap();
    // Right after `peer` returns, with no wait of our own.
    assert!(a.await_peer(&b.node_id(), Duration::ZERO));
    let b_id = b.node_id().to_string();
    // PeerAdded first (Broker's ping example takes the first status as the outcome).
    assert_eq!(
        next_status_is(&statuses, StatusCode::PeerAdded),
        (b_id.clone(), true)
    );
    let discovered = next_status_is(&statuses, StatusCode::EndpointDiscovered);
    assert_eq!(discovered, (b_id.clone(), false));
    b.shutdown();
    assert_eq!(
        next_status_is(&statuses, StatusCode::PeerLost),
        (b_id.clone(), true)
    );
    let unreachable = next_status_is(&statuses, StatusCode::EndpointUnreachable);
    assert_eq!(unreachable, (b_id, false));
    assert!(!a.await_peer(&b.node_id(), Duration::from_millis(50)));
}

#[test]
fn await_peer_wakes_when_the_peering_arrives() {
    let a = Endpoint::new(Default::default()).unwrap();
    let b = Endpoint::new(Default::default()).unwrap();
    let port = a.listen("127.0.0.1", 0).unwrap();
    let waiter = {
        let (a, b_id) = (a.clone(), b.node_id());
        std::thread::spawn(move || a.await_peer(&b_id, WAIT))
    };
    b.peer("127.0.0.1", port, None).unwrap();
    assert!(
        waiter.join().unwrap(),
        "a learns of b, which peered with it"
    );
}

#[test]
fn encoded_values_arrive_as_their_data_would_even_out_of_order() {
    // Values published already encoded travel as they are and are decoded by the
    // subscriber's thread; a table whose keys come out of order and repeated (as only
    // another encoder would write it) still arrives sorted, the last of equal keys kept.
    let net = Net::uniform(2, &[(0, 1)]);
    let (a, b) = (&net.nodes[0], &net.nodes[1]);
    let sub = b.make_subscriber(vec![Topic::from("/enc")], 16);
    await_subscription(a, "/enc");
    let mut writer = DataWriter::new();
    writer.table(3).unwrap();
    for (key, value) in [("b", 1), ("a", 2), ("b", 3)] {
        writer.string(key.as_bytes());
        writer.count(value);
    }
    a.publish(Topic::from("/enc"), writer.finish().unwrap());
    let expected = [("a", 2), ("b", 3)]
        .into_iter()
        .map(|(k, v)| (Data::from(k), Data::Count(v)))
        .collect();
    assert_eq!(
        receive(&sub, 1),
        vec![(Topic::from("/enc"), Data::Table(expected))]
    );
}
