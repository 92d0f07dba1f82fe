//! Slow and stalled consumers: backpressure under the `Block` policy loses nothing;
//! under `Disconnect` a stalled peer is cut loose so the others keep receiving.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_actors::{Config, SlowPeerPolicy};
use broker_wire::Topic;

use super::stream::Stream;
use super::{occurrences, Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::node::{LocalNode, Node};
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/consumers";

/// Subscriber queues and peer buffers are small, so backpressure sets in early.
const QUEUE: usize = 64;
const PEER_BUFFER: usize = 256;

/// How long the stalled consumer does not read.
const STALL: Duration = Duration::from_secs(1);

/// A subscriber that spends 100 µs on every message.
pub const SLOW_CONSUMER: Scenario = Scenario {
    name: "slow-consumer",
    promise: "with SlowPeerPolicy::Block every message is delivered exactly once; the \
              publisher is slowed down instead",
    run: slow_consumer,
};

/// A subscriber that stops reading for a while, then resumes.
pub const STALLED_CONSUMER: Scenario = Scenario {
    name: "stalled-consumer",
    promise: "with SlowPeerPolicy::Block every message is delivered exactly once; the \
              publisher blocks while the consumer stalls",
    run: stalled_consumer,
};

/// One of two subscribers stops reading; the publisher's policy is `Disconnect`.
pub const STALLED_CONSUMER_DISCONNECT: Scenario = Scenario {
    name: "stalled-consumer-disconnect",
    promise: "with SlowPeerPolicy::Disconnect the healthy subscriber gets every message \
              exactly once; the stalled one is cut loose (PeerTimeout, PeerLost at the \
              publisher) and loses what its buffers could not hold, never duplicated",
    run: stalled_consumer_disconnect,
};

fn subscriber(name: &str, prefix: &str) -> Result<(LocalNode, u16), CliError> {
    let config = Config {
        subscriber_queue: QUEUE,
        ..Config::default()
    };
    let mut node = LocalNode::new(name).configured(config, QUEUE);
    let spec = NodeSpec {
        subscribe: vec![prefix.to_owned()],
        ..NodeSpec::named(name)
    };
    let port = node.start(&spec)?;
    Ok((node, port))
}

fn publisher(slow_peer: SlowPeerPolicy, ports: &[u16]) -> Result<LocalNode, CliError> {
    let config = Config {
        peer_buffer: PEER_BUFFER,
        slow_peer,
        ..Config::default()
    };
    let mut node = LocalNode::new("publisher").configured(config, QUEUE);
    node.start(&NodeSpec::named("publisher"))?;
    for &port in ports {
        node.peer(port)?;
    }
    Ok(node)
}

fn slow_consumer(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let (subscriber, port) = subscriber("subscriber", TOPIC)?;
    subscriber.pace().delay_us.store(100, Ordering::Relaxed);
    let mut publisher = publisher(SlowPeerPolicy::Block, &[port])?;
    let mut ledger = Ledger::default();
    if out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        for _ in 0..options.messages.div_ceil(100) {
            ledger.publish(&mut publisher, &topic, 100, true)?;
        }
    }
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("publisher", &publisher.statuses());
    Ok(())
}

fn stalled_consumer(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let (subscriber, port) = subscriber("subscriber", TOPIC)?;
    let mut publisher = publisher(SlowPeerPolicy::Block, &[port])?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let published = || ledger.lock().expect("ledger lock poisoned").published();
    if out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        subscriber.pace().paused.store(true, Ordering::Relaxed);
        let endpoint = publisher.endpoint().expect("started").clone();
        let stream = Stream::promised(endpoint, "publisher", topic.clone(), ledger.clone());
        std::thread::sleep(STALL);
        out.note(format!(
            "{} published during a {STALL:?} stall",
            published()
        ));
        subscriber.pace().paused.store(false, Ordering::Relaxed);
        let resumed = published();
        out.wait("publisher resumes", WAIT, || {
            published() >= resumed + options.messages
        });
        drop(stream);
    }
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("publisher", &publisher.statuses());
    Ok(())
}

fn stalled_consumer_disconnect(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    // Different prefixes of the topic, so the publisher's view shows both filters.
    let healthy_prefix = format!("{TOPIC}/healthy");
    let topic = Topic::new(&*format!("{healthy_prefix}/data"));
    let (mut stalled, stalled_port) = subscriber("stalled", TOPIC)?;
    let (healthy, healthy_port) = subscriber("healthy", &healthy_prefix)?;
    let policy = SlowPeerPolicy::Disconnect {
        after: Duration::from_millis(500),
    };
    let mut publisher = publisher(policy, &[stalled_port, healthy_port])?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // Both filters exactly: the stalled one's prefix covers the healthy one's, so
    // `await_peer_subscription` would answer before the healthy filter arrived.
    let ready = out.wait("publisher is routed to both", WAIT, || {
        let known = publisher.endpoint().expect("started").peer_subscriptions();
        [TOPIC, &healthy_prefix]
            .iter()
            .all(|prefix| known.iter().any(|t| t.as_str() == *prefix))
    });
    if ready {
        stalled.pace().paused.store(true, Ordering::Relaxed);
        let endpoint = publisher.endpoint().expect("started").clone();
        let stream = Stream::promised(endpoint, "publisher", topic.clone(), ledger.clone());
        out.wait("publisher cuts the stalled peer loose", WAIT, || {
            occurrences(&publisher.statuses(), "error PeerTimeout") > 0
        });
        let published = || ledger.lock().expect("ledger lock poisoned").published();
        let so_far = published();
        out.wait("publisher goes on", WAIT, || {
            published() >= so_far + options.messages
        });
        drop(stream);
        stalled.pace().paused.store(false, Ordering::Relaxed);
    }
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    out.tally(&ledger, healthy.received(), WAIT);
    out.tally(&ledger.unpromised(), stalled.received(), WAIT);
    out.statuses("publisher", &publisher.statuses());
    out.statuses("stalled", &stalled.statuses());
    Ok(())
}
