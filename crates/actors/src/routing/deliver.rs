//! Delivery: a plan's bytes handed to each link (which applies the slow-peer policy),
//! and messages fed to the local subscribers whose filters match.

use broker_wire::{Payload, Topic};

use super::plan::Deliveries;
use super::{matches, Routes};

/// Hands each link its bytes from async code, waiting as the slow-peer policy says.
pub(crate) async fn push_async(deliveries: Deliveries) {
    for (link, bytes, count) in deliveries {
        link.send(bytes, count).await;
    }
}

/// Feeds every matching subscriber, in order, waiting for room: messages from peers and
/// the events of local stores alike.
pub(crate) async fn deliver_local<P: Into<Payload>>(
    routes: &Routes,
    messages: impl IntoIterator<Item = (Topic, P)>,
) {
    let subscribers = &routes.subscribers;
    if subscribers.is_empty() {
        return;
    }
    let mut per_subscriber: Vec<Vec<(Topic, Payload)>> = vec![Vec::new(); subscribers.len()];
    for (topic, data) in messages {
        let data = data.into();
        let mut targets = subscribers
            .iter()
            .enumerate()
            .filter(|(_, s)| matches(&s.filter, &topic));
        let Some((mut last, _)) = targets.next() else {
            continue;
        };
        for (next, _) in targets {
            per_subscriber[last].push((topic.clone(), data.clone()));
            last = next;
        }
        per_subscriber[last].push((topic, data));
    }
    for (subscriber, items) in subscribers.iter().zip(per_subscriber) {
        // One lock per batch (or per queue-full of it); a closed queue belongs to a
        // dropped subscriber: nothing to deliver.
        let _ = subscriber.queue.push_many_async(items).await;
    }
}
