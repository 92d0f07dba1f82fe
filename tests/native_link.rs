//! The native link between broker-rs endpoints (`Config::native_only`): the same
//! behaviour as our own encoding where Broker's protocol can carry it. Runs without the
//! reference Broker; `native_interop.rs` checks the same link against it.

mod common;

use broker::actors::{Config, StatusCode};
use broker::wire::native::EndpointId;
use broker::wire::zeek::Event;
use broker::wire::NodeId;
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
    // Over the native protocol a peer is known by its endpoint id only (no pid).
    let native_id = |node| NodeId::from(EndpointId::from(&node));
    assert_eq!(a.peers()[0].peer.node, native_id(b.node_id()));
    assert_eq!(b.peers()[0].peer.node, native_id(a.node_id()));
    assert_ne!(native_id(a.node_id()), a.node_id());
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
