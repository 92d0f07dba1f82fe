//! Sparse publishes (single messages or small batches) are written on the publishing
//! thread, bursts go through the endpoint's thread: mixed, they keep each sender's
//! order and never tear a frame, over TLS and plaintext.

use std::time::Duration;

use broker_actors::{Config, Endpoint, Subscriber};
use broker_wire::{Data, Topic};

/// The default configuration, over TLS or not.
fn config(disable_ssl: bool) -> Config {
    Config {
        disable_ssl,
        ..Config::default()
    }
}

/// Two endpoints, `a` peered with `b`.
fn pair(a: Config, b: Config) -> (Endpoint, Endpoint) {
    let a = Endpoint::new(a).unwrap();
    let b = Endpoint::new(b).unwrap();
    let port = b.listen("127.0.0.1", 0).unwrap();
    a.peer("127.0.0.1", port, None).unwrap();
    (a, b)
}

/// A subscriber on `b` to `topic`, once `a` knows of it.
fn subscribe(a: &Endpoint, b: &Endpoint, topic: &str) -> Subscriber {
    let subscriber = b.make_subscriber(vec![Topic::from(topic)], 0);
    assert!(
        a.await_peer_subscription(&Topic::from(topic), Duration::from_secs(10)),
        "the filter never arrived"
    );
    subscriber
}

/// The next `count` values, in the order received.
fn receive(subscriber: &Subscriber, count: usize) -> Vec<Data> {
    let mut values = Vec::with_capacity(count);
    while values.len() < count {
        let batch = subscriber.get_n(count - values.len(), Some(Duration::from_secs(10)));
        assert!(
            !batch.is_empty(),
            "stalled after {} of {count}",
            values.len()
        );
        values.extend(batch.into_iter().map(|(_, data)| data));
    }
    values
}

fn senders_keep_their_order(disable_ssl: bool) {
    const SENDERS: u64 = 4;
    const EACH: u64 = 2000;
    let (a, b) = pair(config(disable_ssl), config(disable_ssl));
    let subscriber = subscribe(&a, &b, "/order");
    std::thread::scope(|scope| {
        for sender in 0..SENDERS {
            let a = &a;
            scope.spawn(move || {
                let topic = Topic::from("/order/endpoint");
                let publisher = a.make_publisher(Topic::from("/order/publisher"));
                for seq in (0..EACH).step_by(2) {
                    let values = [seq, seq + 1]
                        .map(|seq| Data::Vector(vec![Data::Count(sender), Data::Count(seq)]));
                    // Two senders share the endpoint's buffer, two have publishers; one
                    // of each publishes pairs as batches.
                    match sender {
                        0 => values.into_iter().for_each(|v| a.publish(topic.clone(), v)),
                        1 => values.into_iter().for_each(|v| publisher.publish(v)),
                        2 => a.publish_batch(values.map(|v| (topic.clone(), v)).to_vec()),
                        _ => publisher.publish_batch(values.to_vec()),
                    }
                    // Bursts of 16 between pauses: the first of a burst goes inline,
                    // the rest queue behind it (or behind another sender's).
                    if (seq / 2) % 8 == sender {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
            });
        }
    });
    let mut next = [0; SENDERS as usize];
    for value in receive(&subscriber, (SENDERS * EACH) as usize) {
        let Data::Vector(fields) = value else {
            panic!("unexpected {value:?}");
        };
        let [Data::Count(sender), Data::Count(seq)] = fields[..] else {
            panic!("unexpected {fields:?}");
        };
        assert_eq!(seq, next[sender as usize], "sender {sender} out of order");
        next[sender as usize] += 1;
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn inline_and_queued_sends_keep_each_senders_order_over_tls() {
    senders_keep_their_order(false);
}

#[test]
fn inline_and_queued_sends_keep_each_senders_order_in_plaintext() {
    senders_keep_their_order(true);
}

fn sparse_messages_into_a_full_socket_arrive_whole(disable_ssl: bool) {
    const COUNT: u64 = 1000;
    // `b` stops reading while its subscriber's queue is full: the socket fills, and
    // the inline write that finds it full leaves its frame to the write task.
    let stalling = Config {
        subscriber_queue: 16,
        ..config(disable_ssl)
    };
    let (a, b) = pair(config(disable_ssl), stalling);
    let subscriber = subscribe(&a, &b, "/full");
    let payload = Data::String(vec![b'y'; 40 << 10]);
    for seq in 0..COUNT {
        let value = Data::Vector(vec![Data::Count(seq), payload.clone()]);
        a.publish(Topic::from("/full"), value);
        std::thread::sleep(Duration::from_micros(100));
    }
    for (seq, value) in receive(&subscriber, COUNT as usize).into_iter().enumerate() {
        assert!(
            value == Data::Vector(vec![Data::Count(seq as u64), payload.clone()]),
            "message {seq} is not the one sent at that place"
        );
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn sparse_messages_into_a_full_socket_arrive_whole_over_tls() {
    sparse_messages_into_a_full_socket_arrive_whole(false);
}

#[test]
fn sparse_messages_into_a_full_socket_arrive_whole_in_plaintext() {
    sparse_messages_into_a_full_socket_arrive_whole(true);
}

fn large_messages_arrive_whole(disable_ssl: bool) {
    let (a, b) = pair(config(disable_ssl), config(disable_ssl));
    let subscriber = subscribe(&a, &b, "/large");
    // Larger than any socket buffer and too large to go inline: the write task writes
    // it, and the small message published right after it follows it.
    let large = Data::String(vec![b'x'; 12 << 20]);
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(2));
        a.publish(Topic::from("/large"), large.clone());
        a.publish(Topic::from("/large"), Data::Count(round));
    }
    let values = receive(&subscriber, 6);
    for (round, pair) in values.chunks(2).enumerate() {
        assert!(
            pair[0] == large,
            "round {round}: the large message was torn"
        );
        assert_eq!(pair[1], Data::Count(round as u64));
    }
    a.shutdown();
    b.shutdown();
}

#[test]
fn large_messages_arrive_whole_over_tls() {
    large_messages_arrive_whole(false);
}

#[test]
fn large_messages_arrive_whole_in_plaintext() {
    large_messages_arrive_whole(true);
}
