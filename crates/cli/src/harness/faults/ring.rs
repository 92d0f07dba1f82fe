//! A ring of four forwarding endpoints with one link cut and healed while a node
//! streams: the other way round still reaches everyone, and de-duplication keeps the
//! copies that travel both ways from being delivered twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker_wire::Topic;

use super::stream::Stream;
use super::{occurrences, Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::node::{LocalNode, Node};
use crate::harness::proxy::Proxy;
use crate::harness::topology::NodeSpec;

/// What the origin publishes on.
const TOPIC: &str = "/faults/ring/data";

/// The subscribers and their prefixes of [`TOPIC`]: different ones, so a node's view
/// of its peers' filters shows which neighbour's filter has arrived.
const SUBSCRIBERS: [(&str, &str); 3] = [
    ("b", "/faults/ring"),
    ("c", "/faults/r"),
    ("d", "/faults/ri"),
];

/// How long the link stays cut.
const CUT: Duration = Duration::from_millis(500);

/// The ring a-b-c-d-a; a streams, the link a-b is cut and healed.
pub const RING_PARTITION: Scenario = Scenario {
    name: "ring-partition",
    promise: "in a ring, a message reaches every subscriber exactly once even when one \
              link is cut mid-stream and healed: the other way round is still there",
    run: ring_partition,
};

/// Whether `node`'s peers' filters include every one of `prefixes`, exactly: the
/// subscribers' prefixes nest, so `await_peer_subscription` (does some filter cover
/// this topic?) would answer before the filter looked for arrived.
fn knows(node: &LocalNode, prefixes: &[&str]) -> bool {
    let known = node.endpoint().expect("started").peer_subscriptions();
    prefixes
        .iter()
        .all(|prefix| known.iter().any(|t| t.as_str() == *prefix))
}

fn ring_partition(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let mut origin = LocalNode::new("a");
    let port_a = origin.start(&NodeSpec::named("a"))?;
    let mut ring = SUBSCRIBERS.map(|(name, _)| LocalNode::new(name));
    let mut ports = Vec::new();
    for (node, (name, prefix)) in ring.iter_mut().zip(SUBSCRIBERS) {
        let spec = NodeSpec {
            subscribe: vec![prefix.to_owned()],
            ..NodeSpec::named(name)
        };
        ports.push(node.start(&spec)?);
    }
    // a -> b through the proxy that cuts it; b -> c, c -> d, d -> a directly.
    let cut = Proxy::start(ports[0])?;
    origin.peer(cut.port())?;
    let [b, c, d] = &mut ring;
    b.peer(ports[1])?;
    c.peer(ports[2])?;
    d.peer(port_a)?;
    let prefix = |name: &str| {
        SUBSCRIBERS
            .iter()
            .find(|s| s.0 == name)
            .expect("a subscriber")
            .1
    };
    let ready = out.wait("every node knows its neighbours' filters", WAIT, || {
        knows(&origin, &[prefix("b"), prefix("d")])
            && knows(b, &[prefix("c")])
            && knows(c, &[prefix("b"), prefix("d")])
            && knows(d, &[prefix("c")])
    });
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    if ready {
        let endpoint = origin.endpoint().expect("started").clone();
        let stream = Stream::promised(endpoint, "a", topic, ledger.clone());
        let delivered = |node: &LocalNode| {
            let received = node.received().lock().expect("received lock poisoned");
            received.distinct.len() as u64
        };
        let n = options.messages;
        out.wait("the stream reaches c", WAIT, || delivered(c) >= n);
        cut.partition();
        std::thread::sleep(CUT);
        cut.heal();
        out.wait("a reports PeerLost", WAIT, || {
            occurrences(&origin.statuses(), "PeerLost") > 0
        });
        out.wait("a is peered with b again", WAIT, || {
            knows(&origin, &[prefix("b")])
        });
        let so_far = delivered(c);
        out.wait("the stream goes on", WAIT, || delivered(c) >= so_far + n);
        drop(stream);
    }
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    for node in &mut ring {
        out.tally(&ledger, node.received(), WAIT);
        let statuses = node.statuses();
        out.statuses(node.name(), &statuses);
    }
    out.statuses("a", &origin.statuses());
    Ok(())
}
