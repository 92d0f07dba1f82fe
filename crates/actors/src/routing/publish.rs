//! Batches originating here: stamped with fresh ids and the configured TTL, then
//! planned and handed to the links, from async code or inline on the caller's thread.

use broker_wire::frame::DataMessage;
use broker_wire::{Payload, Topic};

use super::deliver::push_async;
use super::plan::plan;
use super::{Routes, Shared};
use crate::metrics::MessageKind;

/// Stamps messages originating here with fresh ids and the configured TTL.
fn stamp<P: Into<Payload>>(
    shared: &Shared,
    messages: Vec<(Topic, P)>,
) -> Vec<DataMessage<Payload>> {
    shared.counters.processed(MessageKind::Data, messages.len());
    let first = shared.reserve_ids(messages.len());
    let (origin, ttl) = (shared.node, shared.config.ttl);
    messages
        .into_iter()
        .zip(first..)
        .map(|((topic, data), id)| DataMessage {
            origin,
            id,
            ttl,
            topic,
            data: data.into(),
        })
        .collect()
}

/// Publishes a batch originating here from async code, waiting under backpressure.
pub(crate) async fn publish_async<P: Into<Payload>>(shared: &Shared, messages: Vec<(Topic, P)>) {
    let routes = shared.routes();
    if (routes.peers.is_empty() && routes.clients.is_empty()) || messages.is_empty() {
        shared.counters.processed(MessageKind::Data, messages.len());
        return;
    }
    let deliveries = plan(shared, &routes, &stamp(shared, messages), None);
    push_async(deliveries).await;
}

/// Publishes a batch originating here on the caller's thread, without waiting: each
/// frame is written inline where the peer's writer is idle, queued otherwise. Callers
/// checked that every outbox has room; an outbox that another sender filled meanwhile
/// takes the frame beyond its capacity rather than block here.
pub(crate) fn publish_inline(shared: &Shared, routes: &Routes, messages: Vec<(Topic, Payload)>) {
    for (link, bytes, count) in plan(shared, routes, &stamp(shared, messages), None) {
        link.send_now(bytes, count);
    }
}
