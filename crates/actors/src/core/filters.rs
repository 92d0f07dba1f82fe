//! The core's subscription bookkeeping: local subscribers and forwarded topics, the
//! filter they make up, and the routing snapshot built from them and the peer table.

use std::sync::Arc;

use broker_wire::Topic;

use super::{AddSubscriber, ChangeSubscription, Core};
use crate::peer::sanitize;
use crate::routing::{PeerRoute, Routes, SubscriberRoute};
use crate::store::{Inbox, StoreActor};

impl Core {
    /// What we subscribe to on behalf of local subscribers, forwarding and WebSocket
    /// clients.
    fn local_filter(&self) -> Vec<Topic> {
        let subscribed = self.subscribers.values().flat_map(|s| s.filter.iter());
        let topics = subscribed
            .chain(&self.forwarded)
            .chain(self.web_sockets.topics())
            .filter(|t| !t.is_local_only())
            .cloned()
            .collect();
        sanitize(topics)
    }

    /// Installs a fresh routing snapshot; tells peers when our filter changed.
    pub(super) fn rebuild_routes(&mut self) {
        let local_filter = self.local_filter();
        let previous = self.shared.routes();
        if *previous.local_filter != local_filter {
            for peer in self.peers.values() {
                if let Some(frame) =
                    peer.link
                        .encoding
                        .filter(self.shared.node, peer.link.node, &local_filter)
                {
                    let _ = peer.link.outbox.push_unbounded(frame);
                }
            }
        }
        let peers = self.peers.values().map(|p| PeerRoute {
            filter: p.filter.clone(),
            link: p.link.clone(),
        });
        self.shared.set_routes(Routes::new(
            peers.collect(),
            self.web_sockets.routes(),
            self.subscribers.values().cloned().collect(),
            Arc::new(local_filter),
        ));
    }

    /// Adds topics forwarded without a local subscriber.
    pub(super) fn forward(&mut self, topics: Vec<Topic>) {
        self.forwarded.extend(topics);
        self.rebuild_routes();
    }

    /// Routes to a new subscriber.
    pub(super) fn add_subscriber(&mut self, msg: AddSubscriber) {
        let route = SubscriberRoute {
            filter: Arc::new(sanitize(msg.topics)),
            queue: msg.queue,
        };
        self.subscribers.insert(msg.id, route);
        self.rebuild_routes();
    }

    /// Adds or removes one topic of a subscriber.
    pub(super) fn change_subscription(&mut self, msg: ChangeSubscription) {
        let Some(route) = self.subscribers.get_mut(&msg.id) else {
            return;
        };
        let mut filter = route.filter.to_vec();
        if msg.add {
            filter.push(msg.topic);
        } else {
            filter.retain(|t| *t != msg.topic);
        }
        route.filter = Arc::new(sanitize(filter));
        self.rebuild_routes();
    }

    /// Subscribes a store actor's inbox to its topic and starts the actor.
    pub(super) fn start_store(&mut self, actor: StoreActor) {
        let inbox = Inbox::new(self.shared.subscriber_id(), self.shared.reporter.clone());
        self.add_subscriber(AddSubscriber {
            id: inbox.id(),
            topics: vec![actor.topic()],
            queue: inbox.queue.clone(),
        });
        actor.start(self.shared.clone(), inbox);
    }

    /// Stops routing to a subscriber.
    pub(super) fn remove_subscriber(&mut self, id: u64) {
        if self.subscribers.remove(&id).is_some() {
            self.rebuild_routes();
        }
    }
}
