//! Peers killed with SIGKILL mid-stream and restarted (each in a child process), and a
//! listener restarting while the nodes dialing it keep publishing.

use std::sync::{Arc, Mutex, RwLock};

use broker_wire::Topic;

use super::stream::Stream;
use super::{await_rerouted, occurrences, Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::child::ChildNode;
use crate::harness::node::{LocalNode, Node};
use crate::harness::proxy::Proxy;
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/kill";

/// The subscriber's process is killed right after a burst and restarted.
pub const KILL_SUBSCRIBER: Scenario = Scenario {
    name: "kill-subscriber",
    promise: "delivered exactly once: what was published on the healthy peering, and \
              everything published once the restarted subscriber's filter reached the \
              publisher; the burst in flight at the SIGKILL may be lost, with PeerLost at the \
              publisher",
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
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let mut publisher = LocalNode::new("publisher");
    publisher.start(&NodeSpec::named("publisher"))?;
    let mut subscriber = ChildNode::new("subscriber", &options.program);
    let spec = subscribing("subscriber");
    let proxy = Proxy::start(subscriber.start(&spec)?)?;
    publisher.peer(proxy.port())?;
    let mut ledger = Ledger::default();
    if out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        ledger.publish(&mut publisher, &topic, n, true)?;
        ledger.await_promised(subscriber.received(), WAIT);
        ledger.publish(&mut publisher, &topic, n, false)?;
        subscriber.kill();
        proxy.retarget(subscriber.start(&spec)?);
        if await_rerouted(out, &mut publisher, &topic, 0) {
            ledger.publish(&mut publisher, &topic, n, true)?;
        }
    }
    out.tally(&ledger, subscriber.received(), WAIT);
    out.statuses("publisher", &publisher.statuses());
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
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let mut listener = LocalNode::new("listener");
    let spec = subscribing("listener");
    let port = listener.start(&spec)?;
    let mut dialers = [LocalNode::new("dialer-1"), LocalNode::new("dialer-2")];
    let proxies = [Proxy::start(port)?, Proxy::start(port)?];
    for (dialer, proxy) in dialers.iter_mut().zip(&proxies) {
        dialer.start(&NodeSpec::named(dialer.name()))?;
        dialer.peer(proxy.port())?;
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let promise = Arc::new(RwLock::new(true));
    let mut streams = Vec::new();
    for dialer in &mut dialers {
        if !out.wait(&format!("{} is routed", dialer.name()), WAIT, || {
            dialer.routed(&topic)
        }) {
            return Ok(());
        }
        let endpoint = dialer.endpoint().expect("started").clone();
        let (ledger, promise) = (ledger.clone(), promise.clone());
        streams.push(Stream::start(
            endpoint,
            dialer.name(),
            topic.clone(),
            ledger,
            promise,
        ));
    }
    let delivered = |listener: &LocalNode| {
        let received = listener.received().lock().expect("received lock poisoned");
        received.distinct.len() as u64
    };
    out.wait("streams flow", WAIT, || delivered(&listener) >= n);
    *promise.write().expect("promise lock poisoned") = false;
    let before_restart = ledger.lock().expect("ledger lock poisoned").clone();
    before_restart.await_promised(listener.received(), WAIT);
    listener.kill();
    let port = listener.start(&spec)?;
    for proxy in &proxies {
        proxy.retarget(port);
    }
    let rerouted = dialers
        .iter_mut()
        .all(|dialer| await_rerouted(out, dialer, &topic, 0));
    if rerouted {
        *promise.write().expect("promise lock poisoned") = true;
        let so_far = delivered(&listener);
        out.wait("streams flow again", WAIT, || {
            delivered(&listener) >= so_far + n
        });
    }
    drop(streams);
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    out.tally(&ledger, listener.received(), WAIT);
    for dialer in &mut dialers {
        let statuses = dialer.statuses();
        out.statuses(dialer.name(), &statuses);
    }
    Ok(())
}
