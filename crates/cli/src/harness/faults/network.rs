//! Faults on the wire, through the harness's [`Proxy`]: a partition and its heal, and
//! garbage, truncated and oversized frames slipped into a live connection while another
//! peer of the same endpoint keeps publishing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_actors::Config;
use broker_wire::Topic;

use super::stream::{strike_mid_stream, Stream};
use super::{await_rerouted, Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::node::{LocalNode, Node};
use crate::harness::proxy::Proxy;
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/net";

/// How long the partition lasts.
const PARTITIONED: Duration = Duration::from_millis(500);

/// The publisher's link is cut while it streams, stays cut for a while, and heals.
pub const PARTITION_HEAL: Scenario = Scenario {
    name: "partition-heal",
    promise: "delivered exactly once: what was published before the cut, and everything \
              published once the healed peering routes to the subscriber again; what was in \
              flight at the cut or published while cut (no route) may be lost, with PeerLost \
              at the publisher",
    run: partition_heal,
};

/// Bytes that are no frame (an unknown frame type) after the last frame.
pub const GARBAGE_FRAMES: Scenario = Scenario {
    name: "garbage-frames",
    promise: "the corrupted connection ends (PeerInvalid, PeerLost) and is re-peered; every \
              message of either publisher is delivered exactly once (none was in flight), \
              and the other peer is unaffected",
    run: |options, out| corrupt(options, out, &garbage(), false),
};

/// A frame whose length promises more bytes than come before the end of stream.
pub const TRUNCATED_FRAMES: Scenario = Scenario {
    name: "truncated-frames",
    promise: "the truncated connection ends (PeerLost) and is re-peered; every message of \
              either publisher is delivered exactly once, and the other peer is unaffected",
    run: |options, out| corrupt(options, out, &truncated(), true),
};

/// A length prefix beyond the endpoint's frame limit.
pub const OVERSIZED_FRAME: Scenario = Scenario {
    name: "oversized-frame",
    promise: "the connection ends before anything is allocated (PeerInvalid, PeerLost) and \
              is re-peered; every message is delivered exactly once, the other peer is \
              unaffected",
    run: |options, out| corrupt(options, out, &oversized(), false),
};

fn garbage() -> Vec<u8> {
    let mut bytes = 12u32.to_be_bytes().to_vec();
    bytes.extend([0xA5; 12]);
    bytes
}

fn truncated() -> Vec<u8> {
    let mut bytes = 1000u32.to_be_bytes().to_vec();
    bytes.extend([0x01; 10]);
    bytes
}

fn oversized() -> Vec<u8> {
    let mut bytes = (u32::MAX - 16).to_be_bytes().to_vec();
    bytes.extend([0x01; 16]);
    bytes
}

fn subscribing(name: &str) -> NodeSpec {
    NodeSpec {
        subscribe: vec![TOPIC.to_owned()],
        ..NodeSpec::named(name)
    }
}

fn partition_heal(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let mut subscriber = LocalNode::new("subscriber");
    let proxy = Proxy::start(subscriber.start(&subscribing("subscriber"))?)?;
    let mut publisher = LocalNode::new("publisher");
    publisher.start(&NodeSpec::named("publisher"))?;
    publisher.peer(proxy.port())?;
    let mut publishers = [publisher];
    let ledger = strike_mid_stream(
        out,
        &mut publishers,
        &mut subscriber,
        &topic,
        options.messages,
        |_| {
            proxy.partition();
            std::thread::sleep(PARTITIONED);
            proxy.heal();
            Ok(())
        },
    )?;
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("publisher", &publishers[0].statuses());
    Ok(())
}

/// Plaintext, so the injected bytes reach the frame decoder rather than TLS.
fn plaintext(name: &str) -> LocalNode {
    let config = Config {
        disable_ssl: true,
        ..Config::default()
    };
    LocalNode::new(name).configured(config, 4096)
}

/// A publisher peered through the proxy, a bystander peered directly and streaming;
/// once the publisher's messages arrived, `bytes` go into its connection (then its
/// end, with `end`), and it publishes again after the re-peering.
fn corrupt(options: &Options, out: &mut Outcome, bytes: &[u8], end: bool) -> Result<(), CliError> {
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let mut subscriber = plaintext("subscriber");
    let port = subscriber.start(&subscribing("subscriber"))?;
    let proxy = Proxy::start(port)?;
    let (mut publisher, mut bystander) = (plaintext("publisher"), plaintext("bystander"));
    publisher.start(&NodeSpec::named("publisher"))?;
    publisher.peer(proxy.port())?;
    bystander.start(&NodeSpec::named("bystander"))?;
    bystander.peer(port)?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let routed = out.wait("publisher is routed", WAIT, || publisher.routed(&topic))
        && out.wait("bystander is routed", WAIT, || bystander.routed(&topic));
    if routed {
        let endpoint = bystander.endpoint().expect("started").clone();
        let _stream = Stream::promised(endpoint, "bystander", topic.clone(), ledger.clone());
        let lock = || ledger.lock().expect("ledger lock poisoned");
        lock().publish(&mut publisher, &topic, n, true)?;
        let before = lock().clone();
        before.await_promised(subscriber.received(), WAIT);
        let written = proxy.inject(bytes, end);
        out.check(written == 1, "bytes injected into one connection", written);
        if await_rerouted(out, &mut publisher, &topic, 0) {
            lock().publish(&mut publisher, &topic, n, true)?;
        }
        let after = lock().clone();
        after.await_promised(subscriber.received(), WAIT);
    }
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    out.tally(&ledger, subscriber.received(), WAIT);
    let seen = subscriber.statuses();
    let ended = seen
        .iter()
        .any(|s| s == "error PeerInvalid" || s == "PeerLost");
    out.check(
        ended,
        "subscriber reports the bad connection",
        seen.join(", "),
    );
    out.statuses("subscriber", &seen);
    out.statuses("publisher", &publisher.statuses());
    Ok(())
}
