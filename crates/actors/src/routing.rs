//! The data path shared by publishers (any thread) and peer readers (the endpoint's
//! thread): a routing snapshot, encoding each message once per encoding in use, handing
//! the bytes to each link (which applies the slow-peer policy), and feeding subscriber
//! queues. The core actor only rebuilds the snapshot when peers, filters or subscribers
//! change; it is never on the per-message path. Routing knows links only through
//! `link::{Link, Encoding}`: a new kind of link needs no change here.
//!
//! The snapshot and the state every thread of the data path shares are here; what
//! happens to a batch is in the submodules: `plan` (the bytes each link gets),
//! `publish` (batches originating here), `receive` (batches from peers and WebSocket
//! clients), `deliver` (handing bytes to links and messages to local subscribers).

mod deliver;
mod index;
mod plan;
mod publish;
mod receive;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::{Payload, Topic};
use tokio::sync::watch;

use crate::config::Config;
use crate::dedup::Dedup;
use crate::link::Link;
use crate::metrics::Counters;
use crate::queue::BoundedQueue;
use crate::reports::Reporter;
use crate::tls::TlsContext;
use index::TopicIndex;

pub(crate) use deliver::deliver_local;
pub(crate) use publish::{publish_async, publish_inline};
pub(crate) use receive::{receive_batch, receive_fresh, receive_from_client};

/// A subscriber's queue of received messages; containers from our peers stay encoded
/// until the consumer decodes them (on its own thread).
pub(crate) type SubscriberQueue = BoundedQueue<(Topic, Payload)>;

/// A peer as routing sees it.
#[derive(Clone)]
pub(crate) struct PeerRoute {
    /// The peer's subscription filter.
    pub(crate) filter: Arc<Vec<Topic>>,
    /// Where its messages go.
    pub(crate) link: Arc<Link>,
}

/// A local subscriber as routing sees it.
#[derive(Clone)]
pub(crate) struct SubscriberRoute {
    /// Its topics.
    pub(crate) filter: Arc<Vec<Topic>>,
    /// Its queue.
    pub(crate) queue: Arc<SubscriberQueue>,
}

/// An immutable picture of where messages go, swapped whole by the core.
#[derive(Default)]
pub(crate) struct Routes {
    /// Peered endpoints.
    pub(crate) peers: Vec<PeerRoute>,
    /// WebSocket clients of this endpoint: they get what local subscribers get (every
    /// message from a peer, whether this endpoint forwards or not) and what is
    /// published here, but never their own messages back.
    pub(crate) clients: Vec<PeerRoute>,
    /// Local subscribers.
    pub(crate) subscribers: Vec<SubscriberRoute>,
    /// What this endpoint asks its peers for: subscriptions plus forwarded topics.
    pub(crate) local_filter: Arc<Vec<Topic>>,
    /// The filters of `peers`, then of `clients` (positions `peers.len()..`), by topic.
    index: TopicIndex,
}

impl Routes {
    pub(crate) fn new(
        peers: Vec<PeerRoute>,
        clients: Vec<PeerRoute>,
        subscribers: Vec<SubscriberRoute>,
        local_filter: Arc<Vec<Topic>>,
    ) -> Self {
        let links = peers.iter().chain(&clients);
        let index = TopicIndex::new(links.map(|link| link.filter.as_slice()));
        Routes {
            peers,
            clients,
            subscribers,
            local_filter,
            index,
        }
    }

    /// Whether some peer's (or WebSocket client's) filter matches `topic`.
    pub(crate) fn peer_wants(&self, topic: &Topic) -> bool {
        self.index.any_matches(topic.as_str())
    }

    /// The links (peers and WebSocket clients) whose filter matches `topic`, each once.
    pub(crate) fn links_wanting<'a>(
        &'a self,
        topic: &'a Topic,
    ) -> impl Iterator<Item = &'a PeerRoute> + 'a {
        let positions = self.index.matching(topic.as_str());
        positions.map(|position| self.link(position as usize))
    }

    /// The positions of every link: peers, then WebSocket clients.
    fn link_positions(&self) -> Range<usize> {
        0..self.peers.len() + self.clients.len()
    }

    /// The positions of the WebSocket clients.
    fn client_positions(&self) -> Range<usize> {
        self.peers.len()..self.peers.len() + self.clients.len()
    }

    /// The link at `position` (see [`Routes::link_positions`]).
    fn link(&self, position: usize) -> &PeerRoute {
        match self.peers.get(position) {
            Some(peer) => peer,
            None => &self.clients[position - self.peers.len()],
        }
    }

    /// The positions, among `positions` and ascending, of the links whose filter
    /// matches some message of `messages` that may leave the endpoint: found through
    /// the index, so links that want none of them cost nothing.
    fn wanting(&self, positions: Range<usize>, messages: &[DataMessage<Payload>]) -> Vec<usize> {
        let mut wanting = Vec::new();
        let mut previous: Option<&Topic> = None;
        for topic in messages.iter().map(|message| &message.topic) {
            // Batches mostly repeat one topic: look each run of it up once.
            if topic.is_local_only() || previous == Some(topic) {
                continue;
            }
            previous = Some(topic);
            let matching = self.index.matching(topic.as_str()).map(|p| p as usize);
            wanting.extend(matching.filter(|p| positions.contains(p)));
        }
        // Already ascending for one topic matched by one filter topic (linear then).
        wanting.sort_unstable();
        wanting.dedup();
        wanting
    }

    /// Whether some local subscriber's filter matches `topic`.
    pub(crate) fn subscriber_wants(&self, topic: &Topic) -> bool {
        self.subscribers.iter().any(|s| matches(&s.filter, topic))
    }

    /// Whether some peer subscribed to exactly `topic`.
    pub(crate) fn peer_subscribed(&self, topic: &Topic) -> bool {
        self.peers.iter().any(|peer| peer.filter.contains(topic))
    }
}

/// Whether any topic of `filter` is a prefix of `topic`.
pub(crate) fn matches(filter: &[Topic], topic: &Topic) -> bool {
    filter.iter().any(|f| f.is_prefix_of(topic.as_str()))
}

/// State of one endpoint that every thread of its data path reads.
pub(crate) struct Shared {
    /// This endpoint's identity.
    pub(crate) node: NodeId,
    /// Its configuration.
    pub(crate) config: Config,
    /// TLS for its connections; `None` for plaintext.
    pub(crate) tls: Option<TlsContext>,
    /// The last message id handed out.
    next_id: AtomicU64,
    /// The last subscriber id handed out.
    next_subscriber: AtomicU64,
    /// The current routing snapshot, published as a watch: readers hold its lock only to
    /// clone the `Arc`, waiters are told when it changes; only the core writes.
    routes: watch::Sender<Arc<Routes>>,
    /// The endpoints reachable through the overlay, peers and those further away, as a
    /// watch for `await_peer`; only the core writes it, in place. Control plane: the
    /// data path never reads it.
    reachable: watch::Sender<HashSet<NodeId>>,
    /// Seen `(origin, id)` pairs. Locked by peer readers, all on the endpoint's thread,
    /// so the lock is uncontended; a `Mutex` keeps `Shared` `Sync`.
    pub(crate) dedup: Mutex<Dedup>,
    /// Where links and store actors report to the Core.
    pub(crate) reporter: Reporter,
    /// What the data path counts for the endpoint's metrics.
    pub(crate) counters: Counters,
}

impl Shared {
    /// Shared state of a new endpoint.
    pub(crate) fn new(
        node: NodeId,
        config: Config,
        tls: Option<TlsContext>,
        reporter: Reporter,
    ) -> Self {
        Shared {
            node,
            config,
            tls,
            next_id: AtomicU64::new(0),
            next_subscriber: AtomicU64::new(0),
            routes: watch::Sender::new(Arc::default()),
            reachable: watch::Sender::new(HashSet::new()),
            dedup: Mutex::new(Dedup::default()),
            reporter,
            counters: Counters::default(),
        }
    }

    /// The current routing snapshot.
    pub(crate) fn routes(&self) -> Arc<Routes> {
        self.routes.borrow().clone()
    }

    /// The routing snapshot as it changes, for waiting on a condition.
    pub(crate) fn watch_routes(&self) -> watch::Receiver<Arc<Routes>> {
        self.routes.subscribe()
    }

    /// Installs a new routing snapshot and tells the waiters.
    pub(crate) fn set_routes(&self, routes: Routes) {
        self.routes.send_replace(Arc::new(routes));
    }

    /// The reachable endpoints as they change, for waiting on one.
    pub(crate) fn watch_reachable(&self) -> watch::Receiver<HashSet<NodeId>> {
        self.reachable.subscribe()
    }

    /// Changes the reachable endpoints in place and tells the waiters.
    pub(crate) fn update_reachable(&self, update: impl FnOnce(&mut HashSet<NodeId>)) {
        self.reachable.send_modify(update);
    }

    /// A fresh id for a subscriber.
    pub(crate) fn subscriber_id(&self) -> u64 {
        self.next_subscriber.fetch_add(1, Ordering::Relaxed)
    }

    /// Reserves `count` consecutive message ids; returns the first.
    pub(crate) fn reserve_ids(&self, count: usize) -> u64 {
        self.next_id.fetch_add(count as u64, Ordering::Relaxed) + 1
    }
}
