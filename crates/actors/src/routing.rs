//! The data path shared by publishers (any thread) and peer readers (the endpoint's
//! thread): a routing snapshot, encoding each message once per encoding in use, handing
//! the bytes to each link (which applies the slow-peer policy), and feeding subscriber
//! queues. The core actor only rebuilds the snapshot when peers, filters or subscribers
//! change; it is never on the per-message path. Routing knows links only through
//! `link::{Link, Encoding}`: a new kind of link needs no change here.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::{Payload, Topic};
use bytes::Bytes;
use tokio::sync::watch;

use crate::config::Config;
use crate::dedup::Dedup;
use crate::link::{Encoder, Link};
use crate::metrics::{Counters, MessageKind};
use crate::queue::BoundedQueue;
use crate::reports::Reporter;
use crate::tls::TlsContext;

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
#[derive(Clone, Default)]
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
}

impl Routes {
    /// Whether some peer's (or WebSocket client's) filter matches `topic`.
    pub(crate) fn peer_wants(&self, topic: &Topic) -> bool {
        let mut links = self.peers.iter().chain(&self.clients);
        links.any(|peer| matches(&peer.filter, topic))
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

/// The bytes one batch produces: for each link that wants part of it, the bytes its
/// encoding made and the number of messages they hold.
pub(crate) type Deliveries = Vec<(Arc<Link>, Bytes, usize)>;

/// Encodes `messages` once per encoding in use and cuts the bytes for each peer and
/// WebSocket client (except `skip`) whose filter wants some of them. Local-only topics
/// never leave the endpoint.
pub(crate) fn plan(
    shared: &Shared,
    routes: &Routes,
    messages: &[DataMessage<Payload>],
    skip: Option<NodeId>,
) -> Deliveries {
    plan_to(
        shared,
        routes.peers.iter().chain(&routes.clients),
        messages,
        skip,
    )
}

/// One encoding's encoder for a batch, and the bytes of the whole batch once made.
struct BatchEncoding {
    name: &'static str,
    encoder: Box<dyn Encoder>,
    whole: Option<(Bytes, usize)>,
}

/// [`plan`] for the links of `targets` only.
fn plan_to<'r>(
    shared: &Shared,
    targets: impl Iterator<Item = &'r PeerRoute>,
    messages: &[DataMessage<Payload>],
    skip: Option<NodeId>,
) -> Deliveries {
    let mut deliveries = Vec::new();
    // Usually one: every link of an encoding shares its encoder, and the bytes of the
    // whole batch, which most links want.
    let mut encoders: Vec<BatchEncoding> = Vec::new();
    let mut selected = Vec::with_capacity(messages.len());
    for peer in targets.filter(|p| Some(p.link.node) != skip) {
        selected.clear();
        selected.extend((0..messages.len()).filter(|&i| {
            !messages[i].topic.is_local_only() && matches(&peer.filter, &messages[i].topic)
        }));
        if selected.is_empty() {
            continue;
        }
        let encoding = peer.link.encoding;
        let index = match encoders.iter().position(|e| e.name == encoding.name()) {
            Some(index) => index,
            None => {
                let encoder =
                    encoding.encoder(shared.node, messages.len(), shared.config.max_frame_len);
                encoders.push(BatchEncoding {
                    name: encoding.name(),
                    encoder,
                    whole: None,
                });
                encoders.len() - 1
            }
        };
        let BatchEncoding { encoder, whole, .. } = &mut encoders[index];
        let to = peer.link.node;
        let (bytes, count) = if selected.len() == messages.len() && !encoder.names_receiver() {
            whole
                .get_or_insert_with(|| encoder.encode(messages, &selected, to))
                .clone()
        } else {
            encoder.encode(messages, &selected, to)
        };
        if count > 0 {
            deliveries.push((peer.link.clone(), bytes, count));
        }
    }
    deliveries
}

/// Hands each link its bytes from async code, waiting as the slow-peer policy says.
pub(crate) async fn push_async(deliveries: Deliveries) {
    for (link, bytes, count) in deliveries {
        link.send(bytes, count).await;
    }
}

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
    push_async(plan_to(shared, routes.clients.iter(), &fresh, Some(from))).await;
    if shared.config.forward && routes.peers.len() > 1 {
        // Each hop spends one unit of TTL; a message arriving with 1 stops here.
        let mut fresh = fresh;
        for message in &mut fresh {
            message.ttl = message.ttl.saturating_sub(1);
        }
        let onward: Vec<usize> = (0..fresh.len()).filter(|&i| fresh[i].ttl > 0).collect();
        let peers = routes.peers.iter();
        let deliveries = if onward.len() == fresh.len() {
            plan_to(shared, peers, &fresh, Some(from))
        } else {
            let subset: Vec<_> = onward.iter().map(|&i| fresh[i].clone()).collect();
            plan_to(shared, peers, &subset, Some(from))
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::config::SlowPeerPolicy;
    use crate::link::{Encoding, BATCH};

    /// A second encoding, as a new kind of link brings one: one line per message
    /// naming its topic and the receiver. It counts the encoders made.
    struct Lines {
        encoders: AtomicUsize,
    }

    struct LinesEncoder;

    impl Encoding for Lines {
        fn name(&self) -> &'static str {
            "lines"
        }

        fn encoder(&self, _: NodeId, _: usize, _: usize) -> Box<dyn Encoder> {
            self.encoders.fetch_add(1, Ordering::Relaxed);
            Box::new(LinesEncoder)
        }

        fn filter(&self, _: NodeId, _: NodeId, _: &[Topic]) -> Option<Bytes> {
            None
        }

        fn ping(&self, _: NodeId, _: NodeId, _: u64) -> Option<Bytes> {
            None
        }

        fn goodbye(&self, _: NodeId, _: NodeId) -> Option<Bytes> {
            None
        }
    }

    impl Encoder for LinesEncoder {
        fn encode(
            &mut self,
            messages: &[DataMessage<Payload>],
            selected: &[usize],
            to: NodeId,
        ) -> (Bytes, usize) {
            let lines: String = selected
                .iter()
                .map(|&i| format!("{} to {}\n", messages[i].topic.as_str(), to.0[0]))
                .collect();
            (Bytes::from(lines), selected.len())
        }

        fn names_receiver(&self) -> bool {
            true
        }
    }

    static LINES: Lines = Lines {
        encoders: AtomicUsize::new(0),
    };

    fn node(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    fn route(
        n: u8,
        encoding: &'static dyn Encoding,
        filter: &str,
        reporter: &Reporter,
    ) -> PeerRoute {
        let link = Link::new(
            node(n),
            encoding,
            64,
            SlowPeerPolicy::Block,
            reporter.clone(),
        );
        PeerRoute {
            filter: Arc::new(vec![Topic::from(filter)]),
            link: Arc::new(link),
        }
    }

    #[test]
    fn each_link_gets_its_encodings_bytes_encoded_once_per_encoding() {
        let (reporter, _reports) = Reporter::channel();
        let shared = Shared::new(node(0), Config::default(), None, reporter.clone());
        let routes = Routes {
            peers: vec![
                route(1, &BATCH, "/", &reporter),
                route(2, &LINES, "/", &reporter),
                route(3, &BATCH, "/", &reporter),
                route(4, &LINES, "/b", &reporter),
            ],
            ..Routes::default()
        };
        let messages: Vec<DataMessage<Payload>> = ["/a", "/b", "/c"]
            .into_iter()
            .zip(1..)
            .map(|(topic, id)| DataMessage {
                origin: node(9),
                id,
                ttl: 4,
                topic: Topic::from(topic),
                data: broker_wire::Data::Count(id).into(),
            })
            .collect();
        let before = LINES.encoders.load(Ordering::Relaxed);
        let deliveries = plan(&shared, &routes, &messages, None);
        assert_eq!(LINES.encoders.load(Ordering::Relaxed) - before, 1);
        let by_node = |n: u8| {
            let (_, bytes, count) = deliveries
                .iter()
                .find(|(link, _, _)| link.node == node(n))
                .expect("a delivery for every interested link");
            (bytes.clone(), *count)
        };
        let (first, count) = by_node(1);
        assert_eq!(count, 3);
        // The batch links wanting the whole batch share the very same bytes.
        assert_eq!(first.as_ptr(), by_node(3).0.as_ptr());
        assert_eq!(by_node(2), (Bytes::from("/a to 2\n/b to 2\n/c to 2\n"), 3));
        assert_eq!(by_node(4), (Bytes::from("/b to 4\n"), 1));
    }
}
