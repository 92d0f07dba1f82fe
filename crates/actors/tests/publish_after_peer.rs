//! A message published right after peering is delivered: once `peer` has returned
//! (or `PeerAdded` was reported, on the listening side), the routing snapshot holds
//! the new peer with its filter, for `publish`, `publish_batch` and publishers alike.
//! Each test peers fresh pairs several times, since the window it guards is short.

use std::time::Duration;

use broker_actors::{Config, Endpoint, StatusCode, StatusEvent, Subscriber};
use broker_wire::{Data, Topic};

/// Fresh pairs per test: each one a chance to hit the window.
const ROUNDS: usize = 5;
const WAIT: Option<Duration> = Some(Duration::from_secs(5));

fn endpoint() -> Endpoint {
    Endpoint::new(Config {
        disable_ssl: true,
        ..Config::default()
    })
    .unwrap()
}

/// A subscriber to two topics, as users subscribe.
fn subscriber(endpoint: &Endpoint) -> Subscriber {
    endpoint.make_subscriber(vec![Topic::from("/race/a"), Topic::from("/race/b")], 0)
}

/// `publishing` peers with a fresh listening endpoint that subscribed first, then
/// `publish` sends three messages at once; all three must arrive.
fn connecting_side_publishes(publish: impl Fn(&Endpoint)) {
    for round in 0..ROUNDS {
        let (publishing, listening) = (endpoint(), endpoint());
        let sub = subscriber(&listening);
        let port = listening.listen("127.0.0.1", 0).unwrap();
        publishing.peer("127.0.0.1", port, None).unwrap();
        publish(&publishing);
        let got: Vec<Data> = sub.get_n(3, WAIT).into_iter().map(|(_, d)| d).collect();
        assert_eq!(got, numbers(), "round {round}: messages lost after peer()");
    }
}

fn numbers() -> Vec<Data> {
    (0..3).map(Data::Count).collect()
}

#[test]
fn publish_right_after_peer_arrives() {
    connecting_side_publishes(|e| {
        for n in numbers() {
            e.publish(Topic::from("/race/a/x"), n);
        }
    });
}

#[test]
fn publish_batch_right_after_peer_arrives() {
    connecting_side_publishes(|e| {
        let batch = numbers().into_iter().map(|n| (Topic::from("/race/b"), n));
        e.publish_batch(batch.collect());
    });
}

#[test]
fn publisher_right_after_peer_arrives() {
    connecting_side_publishes(|e| {
        let publisher = e.make_publisher(Topic::from("/race/a"));
        for n in numbers() {
            publisher.publish(n);
        }
    });
}

#[test]
fn listening_side_publishes_right_after_peer_added() {
    for round in 0..ROUNDS {
        let (connecting, listening) = (endpoint(), endpoint());
        let statuses = listening.make_status_subscriber(true);
        let sub = subscriber(&connecting);
        let port = listening.listen("127.0.0.1", 0).unwrap();
        connecting.peer_nosync("127.0.0.1", port, None);
        loop {
            match statuses.get(WAIT) {
                Some(StatusEvent::Status(s)) if s.code == StatusCode::PeerAdded => break,
                Some(_) => {}
                None => panic!("round {round}: no PeerAdded"),
            }
        }
        for n in numbers() {
            listening.publish(Topic::from("/race/b"), n);
        }
        let got: Vec<Data> = sub.get_n(3, WAIT).into_iter().map(|(_, d)| d).collect();
        assert_eq!(
            got,
            numbers(),
            "round {round}: messages lost after PeerAdded"
        );
    }
}

#[test]
fn subscription_made_right_before_peering_is_honoured() {
    for round in 0..ROUNDS {
        let (publishing, listening) = (endpoint(), endpoint());
        let sub = listening.make_subscriber(vec![Topic::from("/race/a")], 0);
        // Not waited for: the handshake races the filter update.
        sub.add_topic(Topic::from("/race/b"), false);
        let port = listening.listen("127.0.0.1", 0).unwrap();
        publishing.peer("127.0.0.1", port, None).unwrap();
        for n in numbers() {
            publishing.publish(Topic::from("/race/b/y"), n);
        }
        let got: Vec<Data> = sub.get_n(3, WAIT).into_iter().map(|(_, d)| d).collect();
        assert_eq!(
            got,
            numbers(),
            "round {round}: the new topic was not routed"
        );
    }
}
