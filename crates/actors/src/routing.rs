//! The data path shared by publishers (any thread) and peer readers (the endpoint's
//! thread): a routing snapshot, encoding each message once, pushing frames into peer
//! outboxes under the slow-peer policy, and feeding subscriber queues. The core
//! actor only rebuilds the snapshot when peers, filters or subscribers change; it is
//! never on the per-message path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use actix::Addr;
use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::{Data, Topic};
use bytes::Bytes;
use tokio::sync::watch;

use crate::config::{Config, SlowPeerPolicy};
use crate::core::{Core, SlowPeer};
use crate::dedup::Dedup;
use crate::framing::EncodedBatch;
use crate::publish_buffer::PublishBuffer;
use crate::queue::{BoundedQueue, PushError};
use crate::tls::TlsContext;
use crate::writer::{write_inline, WriterSlot};

/// A subscriber's queue of received messages.
pub(crate) type SubscriberQueue = BoundedQueue<(Topic, Data)>;

/// The sending side of one peering: encoded frames waiting for the peer's writer.
/// Shared by the core (registration, filters), the peer actor (its writer drains it)
/// and the routing snapshot (publishers and other peers' readers fill it).
pub(crate) struct PeerLink {
    /// The peer's identity.
    pub(crate) node: NodeId,
    /// Frames to write; weights count data messages, control frames weigh nothing.
    pub(crate) outbox: BoundedQueue<Bytes>,
    /// The connection's writer, for inline writes while the write task is idle.
    pub(crate) writer: WriterSlot,
    /// Messages dropped under [`SlowPeerPolicy::Drop`].
    pub(crate) dropped: AtomicU64,
    /// Whether the current drop episode was already reported; the writer ends the
    /// episode whenever it gets a flush through.
    dropping: AtomicBool,
}

impl PeerLink {
    /// The peer took everything written so far: a later drop is a new episode.
    pub(crate) fn made_progress(&self) {
        if self.dropping.load(Ordering::Relaxed) {
            self.dropping.store(false, Ordering::Relaxed);
        }
    }

    /// A link with an outbox of `capacity` messages.
    pub(crate) fn new(node: NodeId, capacity: usize) -> Self {
        PeerLink {
            node,
            outbox: BoundedQueue::new(capacity, None, None),
            writer: WriterSlot::default(),
            dropped: AtomicU64::new(0),
            dropping: AtomicBool::new(false),
        }
    }
}

/// A peer as routing sees it.
#[derive(Clone)]
pub(crate) struct PeerRoute {
    /// The peer's subscription filter.
    pub(crate) filter: Arc<Vec<Topic>>,
    /// Where its frames go.
    pub(crate) link: Arc<PeerLink>,
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
#[derive(Clone, Default)]
pub(crate) struct Routes {
    /// Peered endpoints.
    pub(crate) peers: Vec<PeerRoute>,
    /// Local subscribers.
    pub(crate) subscribers: Vec<SubscriberRoute>,
    /// What this endpoint asks its peers for: subscriptions plus forwarded topics.
    pub(crate) local_filter: Arc<Vec<Topic>>,
}

impl Routes {
    /// Whether some peer's filter matches `topic`.
    pub(crate) fn peer_wants(&self, topic: &Topic) -> bool {
        self.peers.iter().any(|peer| matches(&peer.filter, topic))
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
    /// The current routing snapshot, published as a watch: readers hold its lock only to
    /// clone the `Arc`, waiters are told when it changes; only the core writes.
    routes: watch::Sender<Arc<Routes>>,
    /// Seen `(origin, id)` pairs. Locked by peer readers, all on the endpoint's thread,
    /// so the lock is uncontended; a `Mutex` keeps `Shared` `Sync`.
    pub(crate) dedup: Mutex<Dedup>,
    /// The core, for reporting slow peers; set once when the core starts.
    pub(crate) core: OnceLock<Addr<Core>>,
    /// What `Endpoint::publish*` hands over (see `publish_buffer.rs`).
    pub(crate) mailbox: Arc<PublishBuffer>,
}

impl Shared {
    /// Shared state of a new endpoint.
    pub(crate) fn new(node: NodeId, config: Config, tls: Option<TlsContext>) -> Self {
        let mailbox = Arc::new(PublishBuffer::new(config.peer_buffer, None));
        Shared {
            mailbox,
            node,
            config,
            tls,
            next_id: AtomicU64::new(0),
            routes: watch::Sender::new(Arc::default()),
            dedup: Mutex::new(Dedup::default()),
            core: OnceLock::new(),
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

    /// Reserves `count` consecutive message ids; returns the first.
    pub(crate) fn reserve_ids(&self, count: usize) -> u64 {
        self.next_id.fetch_add(count as u64, Ordering::Relaxed) + 1
    }

    fn report_slow(&self, link: &PeerLink, dropped: bool) {
        if let Some(core) = self.core.get() {
            core.do_send(SlowPeer {
                node: link.node,
                dropped,
            });
        }
    }
}

/// The frames one batch produces: for each peer that wants part of it, its frames
/// and the number of messages they hold.
pub(crate) type Deliveries = Vec<(Arc<PeerLink>, Bytes, usize)>;

/// Encodes `messages` once and cuts frames for each peer (except `skip`) whose filter
/// wants some of them. Local-only topics never leave the endpoint.
pub(crate) fn plan(
    shared: &Shared,
    routes: &Routes,
    messages: &[DataMessage],
    skip: Option<NodeId>,
) -> Deliveries {
    let mut deliveries = Vec::new();
    let mut encoded = EncodedBatch::new(messages.len());
    // Peers wanting the whole batch share one set of frames.
    let mut whole: Option<(Bytes, usize)> = None;
    let mut selected = Vec::with_capacity(messages.len());
    let cap = shared.config.max_frame_len;
    for peer in routes.peers.iter().filter(|p| Some(p.link.node) != skip) {
        selected.clear();
        selected.extend((0..messages.len()).filter(|&i| {
            !messages[i].topic.is_local_only() && matches(&peer.filter, &messages[i].topic)
        }));
        let (frames, count) = match selected.len() {
            0 => continue,
            n if n == messages.len() => whole
                .get_or_insert_with(|| encoded.frames(messages, &selected, cap))
                .clone(),
            _ => encoded.frames(messages, &selected, cap),
        };
        if count > 0 {
            deliveries.push((peer.link.clone(), frames, count));
        }
    }
    deliveries
}

/// Pushes frames from async code, waiting as the slow-peer policy says.
pub(crate) async fn push_async(shared: &Shared, deliveries: Deliveries) {
    for (link, frame, count) in deliveries {
        let result = match shared.config.slow_peer {
            SlowPeerPolicy::Block => link.outbox.push_async(frame, count).await,
            SlowPeerPolicy::Disconnect { after } => {
                match tokio::time::timeout(after, link.outbox.push_async(frame.clone(), count))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(PushError::Full(frame)),
                }
            }
            SlowPeerPolicy::Drop => link.outbox.try_push(frame, count),
        };
        settle(shared, &link, result, count);
    }
}

/// Accounts for the outcome of a push: a full outbox is a slow peer.
fn settle(shared: &Shared, link: &PeerLink, result: Result<(), PushError<Bytes>>, count: usize) {
    match result {
        Ok(()) => {}
        // The peering is going away; its messages go with it.
        Err(PushError::Closed(_)) => {}
        Err(PushError::Full(_)) => {
            let drop_policy = shared.config.slow_peer == SlowPeerPolicy::Drop;
            if drop_policy {
                link.dropped.fetch_add(count as u64, Ordering::Relaxed);
            }
            if !drop_policy || !link.dropping.swap(true, Ordering::Relaxed) {
                shared.report_slow(link, drop_policy);
            }
        }
    }
}

/// Stamps messages originating here with fresh ids and the configured TTL.
fn stamp(shared: &Shared, messages: Vec<(Topic, Data)>) -> Vec<DataMessage> {
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
            data,
        })
        .collect()
}

/// Publishes a batch originating here from async code, waiting under backpressure.
pub(crate) async fn publish_async(shared: &Shared, messages: Vec<(Topic, Data)>) {
    let routes = shared.routes();
    if routes.peers.is_empty() || messages.is_empty() {
        return;
    }
    let deliveries = plan(shared, &routes, &stamp(shared, messages), None);
    push_async(shared, deliveries).await;
}

/// Publishes a batch originating here on the caller's thread, without waiting: each
/// frame is written inline where the peer's writer is idle, queued otherwise. Callers
/// checked that every outbox has room; an outbox that another sender filled meanwhile
/// takes the frame beyond its capacity rather than block here.
pub(crate) fn publish_inline(shared: &Shared, routes: &Routes, messages: Vec<(Topic, Data)>) {
    for (link, frame, count) in plan(shared, routes, &stamp(shared, messages), None) {
        let Err(frame) = write_inline(&link, frame) else {
            continue;
        };
        let result = match link.outbox.try_push(frame, count) {
            Err(PushError::Full(frame)) if shared.config.slow_peer != SlowPeerPolicy::Drop => {
                link.outbox.push_unbounded(frame)
            }
            other => other,
        };
        settle(shared, &link, result, count);
    }
}

/// Handles a batch received from peer `from`: drops duplicates and our own messages,
/// forwards what may travel further, then feeds local subscribers. Waits (without
/// reading the socket further) while outboxes or subscriber queues are full.
pub(crate) async fn receive_batch(shared: &Shared, from: NodeId, batch: Vec<DataMessage>) {
    let fresh = shared
        .dedup
        .lock()
        .expect("dedup lock poisoned")
        .retain_fresh(shared.node, batch);
    if fresh.is_empty() {
        return;
    }
    let routes = shared.routes();
    if shared.config.forward && routes.peers.len() > 1 {
        // Each hop spends one unit of TTL; a message arriving with 1 stops here.
        let mut fresh = fresh;
        for message in &mut fresh {
            message.ttl = message.ttl.saturating_sub(1);
        }
        let onward: Vec<usize> = (0..fresh.len()).filter(|&i| fresh[i].ttl > 0).collect();
        let deliveries = if onward.len() == fresh.len() {
            plan(shared, &routes, &fresh, Some(from))
        } else {
            let subset: Vec<DataMessage> = onward.iter().map(|&i| fresh[i].clone()).collect();
            plan(shared, &routes, &subset, Some(from))
        };
        push_async(shared, deliveries).await;
        deliver_local(&routes, contents(fresh)).await;
        return;
    }
    deliver_local(&routes, contents(fresh)).await;
}

/// What local subscribers receive of `messages`.
fn contents(messages: Vec<DataMessage>) -> impl Iterator<Item = (Topic, Data)> {
    messages.into_iter().map(|m| (m.topic, m.data))
}

/// Feeds every matching subscriber, in order, waiting for room: messages from peers and
/// the events of local stores alike.
pub(crate) async fn deliver_local(
    routes: &Routes,
    messages: impl IntoIterator<Item = (Topic, Data)>,
) {
    let subscribers = &routes.subscribers;
    if subscribers.is_empty() {
        return;
    }
    let mut per_subscriber: Vec<Vec<(Topic, Data)>> = vec![Vec::new(); subscribers.len()];
    for (topic, data) in messages {
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
