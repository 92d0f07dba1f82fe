//! Multi-hop topologies described as data: forwarding, TTL, `forward()`, rings and
//! meshes delivering exactly once, star fan-out.

mod common;

use std::time::Duration;

use broker::actors::{Config, Endpoint, StatusCode, StatusEvent, StatusSubscriber};
use broker::wire::NodeId;
use broker::{Data, Topic};
use common::*;

const CHAIN: &[(usize, usize)] = &[(1, 0), (2, 1), (3, 2)];

fn chain_with(config_of: impl Fn(usize) -> Config) -> Net {
    Net::build((0..4).map(config_of).collect(), CHAIN)
}

/// Which nodes of `net` receive `count` messages published at node 0 on `/c`, given
/// subscribers at every other node. Waits for the filters to settle first.
fn receivers(net: &Net, count: u64) -> Vec<usize> {
    // Each node also subscribes to a probe topic of its own, so that a node can tell its
    // downstream neighbour's filter from its upstream one's (both hold `/c`).
    let probe = |i: usize| Topic::from(format!("/probe/{i}"));
    let subs: Vec<_> = net
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| n.make_subscriber(vec![Topic::from("/c"), probe(i)], 64))
        .collect();
    for i in 0..net.nodes.len() - 1 {
        await_subscription(&net.nodes[i], probe(i + 1).as_str());
    }
    net.nodes[0].publish_batch(numbered("/c", count));
    let mut got = Vec::new();
    for (i, sub) in subs.iter().enumerate().skip(1) {
        let received = receive_at_most(sub, count);
        if !received.is_empty() {
            assert_eq!(
                received,
                numbered("/c", count),
                "node {i} gets all, in order"
            );
            got.push(i);
        }
    }
    got
}

/// Nothing if no message arrives within a short window (for nodes that may get
/// nothing); otherwise up to `count` messages, waiting up to `WAIT` for the rest.
fn receive_at_most(sub: &broker::actors::Subscriber, count: u64) -> Vec<(Topic, Data)> {
    let Some(first) = sub.get(Some(std::time::Duration::from_millis(3000))) else {
        return Vec::new();
    };
    let mut got = vec![first];
    got.extend(receive(sub, count as usize - 1));
    got.extend(sub.poll());
    got
}

#[test]
fn chain_forwards_to_every_hop() {
    assert_eq!(
        receivers(&chain_with(|_| Config::default()), 100),
        vec![1, 2, 3]
    );
}

#[test]
fn chain_ttl_2_reaches_hops_1_and_2_only() {
    let net = chain_with(|i| Config {
        ttl: if i == 0 { 2 } else { 20 },
        ..Config::default()
    });
    assert_eq!(receivers(&net, 100), vec![1, 2]);
}

#[test]
fn chain_without_forwarding_stops_at_the_first_hop() {
    let net = chain_with(|i| Config {
        forward: i != 1,
        ..Config::default()
    });
    assert_eq!(receivers(&net, 100), vec![1]);
}

#[test]
fn unsubscribed_middle_nodes_forward_only_after_forward() {
    let net = Net::uniform(4, CHAIN);
    let end = net.nodes[3].make_subscriber(vec![Topic::from("/m")], 64);
    await_subscription(&net.nodes[2], "/m");
    net.nodes[0].publish_batch(numbered("/m", 10));
    assert_quiet(&end);
    net.nodes[1].forward(vec![Topic::from("/m")]);
    net.nodes[2].forward(vec![Topic::from("/m")]);
    // Each hop must know the next one's new filter: node 0 learns node 1's, node 1
    // learns node 2's (node 0 never asks for `/m`, so node 1 seeing it means node 2's).
    for hop in [0, 1] {
        await_subscription(&net.nodes[hop], "/m");
    }
    net.nodes[0].publish_batch(numbered("/m", 10));
    assert_eq!(receive(&end, 10), numbered("/m", 10));
}

/// Every node publishes `count` messages; every node must get each other node's
/// messages exactly once, in order per origin.
fn exactly_once(n: usize, edges: &[(usize, usize)], count: u64) {
    let net = Net::uniform(n, edges);
    // A marker topic per node shows that its filter (which replaces the previous one
    // whole) has reached each neighbour: "some peer wants /x/" would hold as soon as
    // one neighbour's filter arrived.
    let marker = |i: usize| format!("/ready/{i}");
    let subs: Vec<_> = net
        .nodes
        .iter()
        .enumerate()
        .map(|(i, e)| e.make_subscriber(vec![Topic::from("/x/"), Topic::from(marker(i))], 64))
        .collect();
    for &(a, b) in edges {
        await_subscription(&net.nodes[a], &marker(b));
        await_subscription(&net.nodes[b], &marker(a));
    }
    std::thread::scope(|scope| {
        for (i, node) in net.nodes.iter().enumerate() {
            scope.spawn(move || node.publish_batch(numbered(&format!("/x/{i}"), count)));
        }
    });
    for (i, sub) in subs.iter().enumerate() {
        let expected = (n as u64 - 1) * count;
        let got = receive(sub, expected as usize);
        assert_eq!(
            got.len() as u64,
            expected,
            "node {i} receives every other node's messages"
        );
        assert_quiet(sub);
        for origin in (0..n).filter(|&o| o != i) {
            let topic = Topic::from(format!("/x/{origin}"));
            let from: Vec<Data> = got
                .iter()
                .filter(|(t, _)| *t == topic)
                .map(|(_, d)| d.clone())
                .collect();
            assert_eq!(
                from,
                (0..count).map(Data::Count).collect::<Vec<_>>(),
                "node {i} from {origin}"
            );
        }
    }
}

#[test]
fn ring_of_3_delivers_exactly_once() {
    exactly_once(3, &[(1, 0), (2, 1), (0, 2)], 2_000);
}

#[test]
fn mesh_of_4_delivers_exactly_once() {
    exactly_once(4, &[(1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)], 2_000);
}

#[test]
fn star_fans_out_and_forwards_between_leaves() {
    let net = Net::uniform(5, &[(1, 0), (2, 0), (3, 0), (4, 0)]);
    let hub = net.nodes[0].make_subscriber(vec![Topic::from("/s")], 64);
    // A marker topic per leaf shows that leaf's filter (which replaces the previous
    // one whole) has reached the hub.
    let markers: Vec<Topic> = (1..5).map(|i| Topic::from(format!("/ready/{i}"))).collect();
    let leaves: Vec<_> = net.nodes[1..]
        .iter()
        .zip(&markers)
        .map(|(e, marker)| e.make_subscriber(vec![Topic::from("/s"), marker.clone()], 64))
        .collect();
    for marker in &markers {
        await_subscription(&net.nodes[0], marker.as_str());
    }
    for node in &net.nodes {
        await_subscription(node, "/s");
    }
    net.nodes[0].publish_batch(numbered("/s", 50));
    for leaf in &leaves {
        assert_eq!(receive(leaf, 50), numbered("/s", 50));
    }
    net.nodes[1].publish(Topic::from("/s/leaf"), Data::from("via hub"));
    assert_eq!(receive(&hub, 1).len(), 1);
    for leaf in &leaves[1..] {
        assert_eq!(
            receive(leaf, 1),
            vec![(Topic::from("/s/leaf"), Data::from("via hub"))]
        );
    }
    assert_quiet(&leaves[0]);
}

/// The statuses (code and endpoint) `status` reports until one is `last`, bounded.
fn statuses_until(
    status: &StatusSubscriber,
    last: (StatusCode, NodeId),
) -> Vec<(StatusCode, NodeId)> {
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        match next_event(status) {
            StatusEvent::Status(s) => seen.push((s.code, s.context.expect("a context").node)),
            StatusEvent::Error(e) => panic!("unexpected error {e:?} after {seen:?}"),
        }
    }
    seen
}

#[test]
fn an_endpoint_two_hops_away_is_discovered_awaited_and_lost() {
    let [a, b, c] = [(); 3].map(|_| Endpoint::new(Config::default()).unwrap());
    let statuses = a.make_status_subscriber(true);
    let b_port = b.listen("127.0.0.1", 0).unwrap();
    let c_port = c.listen("127.0.0.1", 0).unwrap();
    let (b_id, c_id) = (b.node_id(), c.node_id());
    a.peer("127.0.0.1", b_port, None).unwrap();
    assert!(!a.await_peer(&c_id, Duration::ZERO));
    b.peer("127.0.0.1", c_port, None).unwrap();
    assert!(a.await_peer(&c_id, WAIT), "c is reachable through b");
    assert_eq!(a.peers().len(), 1, "and no peer of a");
    use StatusCode::*;
    assert_eq!(
        statuses_until(&statuses, (EndpointDiscovered, c_id)),
        [
            (PeerAdded, b_id),
            (EndpointDiscovered, b_id),
            (EndpointDiscovered, c_id)
        ]
    );
    assert!(b.unpeer("127.0.0.1", c_port));
    assert_eq!(
        statuses_until(&statuses, (EndpointUnreachable, c_id)),
        [(EndpointUnreachable, c_id)],
        "the last path to c went"
    );
    assert!(!a.await_peer(&c_id, Duration::ZERO));
    assert!(a.await_peer(&b_id, Duration::ZERO));
}

#[test]
fn a_ring_that_loses_a_link_keeps_every_endpoint_reachable() {
    // The chain 1-2-3-0 first, closed into a ring by 1-0 once 0 and 1 reach each other
    // along it: then each already holds the path the other way round the ring, which
    // the cut of 1-0 must leave them (the tables have converged before the cut).
    let net = Net::uniform(4, &[(2, 1), (3, 2), (0, 3)]);
    let ids: Vec<NodeId> = net.nodes.iter().map(|n| n.node_id()).collect();
    for (i, node) in net.nodes.iter().enumerate() {
        for id in ids.iter().filter(|id| **id != ids[i]) {
            assert!(node.await_peer(id, WAIT), "{i} reaches {id}");
        }
        // Each discovery was reported before `await_peer` saw it.
        net.statuses[i].poll();
    }
    net.nodes[1].peer("127.0.0.1", net.ports[0], None).unwrap();
    assert!(net.nodes[1].unpeer("127.0.0.1", net.ports[0]));
    assert_eq!(wait_statuses(&net.statuses[0], StatusCode::PeerLost, 1), 1);
    // A newcomer beside 2: once the ring knows it, it has heard of the cut too.
    let newcomer = Endpoint::new(Config::default()).unwrap();
    newcomer.peer("127.0.0.1", net.ports[2], None).unwrap();
    for node in &net.nodes {
        assert!(node.await_peer(&newcomer.node_id(), WAIT));
    }
    for (i, status) in net.statuses.iter().enumerate() {
        while let Some(event) = status.get(Some(Duration::from_millis(300))) {
            let StatusEvent::Status(s) = &event else {
                panic!("node {i}: {event:?}");
            };
            let node = s.context.as_ref().expect("a context").node;
            match s.code {
                StatusCode::EndpointUnreachable => {
                    panic!("node {i}: {event:?} though another path is left")
                }
                StatusCode::EndpointDiscovered => {
                    assert_eq!(node, newcomer.node_id(), "node {i}: nothing else is new")
                }
                _ => {}
            }
        }
    }
    assert!(net.nodes[0].await_peer(&ids[1], Duration::ZERO));
    assert!(net.nodes[1].await_peer(&ids[0], Duration::ZERO));
}
