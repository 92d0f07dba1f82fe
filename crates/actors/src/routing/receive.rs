//! Batches from elsewhere: a peer's (duplicates and our own messages dropped,
//! forwarded while their TTL lasts) and a WebSocket client's (published on its
//! behalf); either way WebSocket clients and local subscribers get them too.

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::{Payload, Topic};

use super::deliver::{deliver_local, push_async};
use super::plan::{plan, plan_to};
use super::Shared;
use crate::metrics::MessageKind;

/// Received messages as routing sends them on.
fn outgoing<P: Into<Payload>>(messages: Vec<DataMessage<P>>) -> Vec<DataMessage<Payload>> {
    messages
        .into_iter()
        .map(|m| DataMessage {
            origin: m.origin,
            id: m.id,
            ttl: m.ttl,
            topic: m.topic,
            data: m.data.into(),
        })
        .collect()
}

/// Handles a batch received from peer `from`: drops duplicates and our own messages,
/// forwards what may travel further, then feeds local subscribers. Waits (without
/// reading the socket further) while outboxes or subscriber queues are full.
pub(crate) async fn receive_batch<P: Into<Payload>>(
    shared: &Shared,
    from: NodeId,
    batch: Vec<DataMessage<P>>,
) {
    let received = batch.len();
    shared.counters.processed(MessageKind::Data, received);
    let fresh = shared
        .dedup
        .lock()
        .expect("dedup lock poisoned")
        .retain_fresh(shared.node, batch);
    shared.counters.dedup_hits(received - fresh.len());
    receive_fresh(shared, from, fresh).await;
}

/// Handles messages from peer `from` known to be new: forwards what may travel
/// further, then feeds local subscribers. Messages from a Broker peer come here
/// directly, stamped with our own origin and ids (Broker's wire has no ids: a message
/// entering broker-rs's mesh gets its identity where it enters, as Broker rewrites the
/// sender of a message it forwards).
pub(crate) async fn receive_fresh<P: Into<Payload>>(
    shared: &Shared,
    from: NodeId,
    fresh: Vec<DataMessage<P>>,
) {
    if fresh.is_empty() {
        return;
    }
    let fresh = outgoing(fresh);
    let routes = shared.routes();
    // WebSocket clients are local: they get every fresh message, TTL or not.
    let clients = routes.client_positions();
    push_async(plan_to(shared, &routes, clients, &fresh, Some(from))).await;
    if shared.config.forward && routes.peers.len() > 1 {
        // Each hop spends one unit of TTL; a message arriving with 1 stops here.
        let mut fresh = fresh;
        for message in &mut fresh {
            message.ttl = message.ttl.saturating_sub(1);
        }
        let onward: Vec<usize> = (0..fresh.len()).filter(|&i| fresh[i].ttl > 0).collect();
        let peers = 0..routes.peers.len();
        let deliveries = if onward.len() == fresh.len() {
            plan_to(shared, &routes, peers, &fresh, Some(from))
        } else {
            let subset: Vec<_> = onward.iter().map(|&i| fresh[i].clone()).collect();
            plan_to(shared, &routes, peers, &subset, Some(from))
        };
        push_async(deliveries).await;
        deliver_local(&routes, contents(fresh)).await;
        return;
    }
    deliver_local(&routes, contents(fresh)).await;
}

/// Handles a batch that WebSocket client `from` published (stamped with its id and
/// the configured TTL): this endpoint publishes it on the client's behalf, to every
/// peer and every other client whose filter matches, whether it forwards or not, and
/// to local subscribers. Its ids are marked seen, so copies coming back over a cycle
/// of peers are dropped. Waits while outboxes or subscriber queues are full.
pub(crate) async fn receive_from_client(shared: &Shared, from: NodeId, batch: Vec<DataMessage>) {
    shared.counters.processed(MessageKind::Data, batch.len());
    let fresh = shared
        .dedup
        .lock()
        .expect("dedup lock poisoned")
        .retain_fresh(shared.node, batch);
    let fresh = outgoing(fresh);
    let routes = shared.routes();
    push_async(plan(shared, &routes, &fresh, Some(from))).await;
    deliver_local(&routes, contents(fresh)).await;
}

/// What local subscribers receive of `messages`.
fn contents(messages: Vec<DataMessage<Payload>>) -> impl Iterator<Item = (Topic, Payload)> {
    messages.into_iter().map(|m| (m.topic, m.data))
}
