//! Peers killed with SIGKILL mid-stream and restarted (each in a child process), and a
//! listener restarting while the nodes dialing it keep publishing.

use broker_wire::Topic;

use super::stream::strike_mid_stream;
use super::{occurrences, Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::child::ChildNode;
use crate::harness::node::{LocalNode, Node};
use crate::harness::proxy::Proxy;
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/kill";

/// The subscriber's process is killed while a publisher streams to it, and restarted.
pub const KILL_SUBSCRIBER: Scenario = Scenario {
    name: "kill-subscriber",
    promise: "delivered exactly once: what was published on the healthy peering, and \
              everything published once the restarted subscriber's filter reached the \
              publisher; what the stream published in between (in flight at the SIGKILL, \
              or while no subscriber was there) may be lost, with PeerLost at the publisher",
    run: kill_subscriber,
};

/// The publisher's process is killed right after a burst and restarted.
pub const KILL_PUBLISHER: Scenario = Scenario {
    name: "kill-publisher",
    promise: "delivered exactly once: what was published on the healthy peering, and \
              everything the restarted publisher published once the subscriber's filter \
              reached it; the burst in flight at the SIGKILL may be lost, with PeerLost at \
              the subscriber",
    run: kill_publisher,
};

/// The listening node shuts down and starts again on a new port while two nodes
/// dialing it stream messages.
pub const LISTENER_RESTART: Scenario = Scenario {
    name: "listener-restart",
    promise: "delivered exactly once: what was published before the restart began, and \
              everything published once each dialer is routed to the new listener; in \
              between, messages may be lost, with PeerLost at the dialers",
    run: listener_restart,
};

fn subscribing(name: &str) -> NodeSpec {
    NodeSpec {
        subscribe: vec![TOPIC.to_owned()],
        ..NodeSpec::named(name)
    }
}

fn kill_subscriber(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let mut publisher = LocalNode::new("publisher");
    publisher.start(&NodeSpec::named("publisher"))?;
    let mut subscriber = ChildNode::new("subscriber", &options.program);
    let spec = subscribing("subscriber");
    let proxy = Proxy::start(subscriber.start(&spec)?)?;
    publisher.peer(proxy.port())?;
    let mut publishers = [publisher];
    let ledger = strike_mid_stream(
        out,
        &mut publishers,
        &mut subscriber,
        &topic,
        options.messages,
        |subscriber| {
            subscriber.kill();
            proxy.retarget(subscriber.start(&spec)?);
            Ok(())
        },
    )?;
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("publisher", &publishers[0].statuses());
    Ok(())
}

fn kill_publisher(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let mut subscriber = LocalNode::new("subscriber");
    let port = subscriber.start(&subscribing("subscriber"))?;
    let mut publisher = ChildNode::new("publisher", &options.program);
    let spec = NodeSpec::named("publisher");
    publisher.start(&spec)?;
    publisher.peer(port)?;
    let mut ledger = Ledger::default();
    if out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        ledger.publish(&mut publisher, &topic, n, true)?;
        ledger.await_promised(subscriber.received(), WAIT);
        ledger.publish(&mut publisher, &topic, n, false)?;
        publisher.kill();
        out.wait("subscriber reports PeerLost", WAIT, || {
            occurrences(&subscriber.statuses(), "PeerLost") > 0
        });
        publisher.start(&spec)?;
        publisher.peer(port)?;
        if out.wait("restarted publisher is routed", WAIT, || {
            publisher.routed(&topic)
        }) {
            ledger.publish(&mut publisher, &topic, n, true)?;
        }
    }
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("subscriber", &subscriber.statuses());
    Ok(())
}

fn listener_restart(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let topic = Topic::new(TOPIC);
    let mut listener = LocalNode::new("listener");
    let spec = subscribing("listener");
    let port = listener.start(&spec)?;
    let mut dialers = [LocalNode::new("dialer-1"), LocalNode::new("dialer-2")];
    let proxies = [Proxy::start(port)?, Proxy::start(port)?];
    for (dialer, proxy) in dialers.iter_mut().zip(&proxies) {
        dialer.start(&NodeSpec::named(dialer.name()))?;
        dialer.peer(proxy.port())?;
    }
    let ledger = strike_mid_stream(
        out,
        &mut dialers,
        &mut listener,
        &topic,
        options.messages,
        |listener| {
            listener.kill();
            let port = listener.start(&spec)?;
            for proxy in &proxies {
                proxy.retarget(port);
            }
            Ok(())
        },
    )?;
    out.tally(&ledger, listener.received(), WAIT);
    for dialer in &mut dialers {
        let statuses = dialer.statuses();
        out.statuses(dialer.name(), &statuses);
    }
    Ok(())
}
