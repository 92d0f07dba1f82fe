//! The endpoint core: owns the peer table, subscriptions, forwarded topics, outbound
//! peerings with their retries, and the status subscribers. It rebuilds the routing
//! snapshot on every change, so data never passes through it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::{Frame, Hello, NodeId};
use broker_wire::Topic;
use futures::channel::oneshot;
use tokio::sync::watch;

use crate::connection::{connect, ConnectError, Established, Opening};
use crate::error::EndpointError;
use crate::framing::encode_frame;
use crate::info::{EndpointInfo, NetworkInfo, PeerFlags, PeerInfo, PeerStatus, UNKNOWN_NODE};
use crate::listener::{worth_reporting, Listener, StopListening};
use crate::peer::{sanitize, Close, CloseReason, Peer};
use crate::queue::BoundedQueue;
use crate::routing::{
    publish_async, PeerLink, PeerRoute, PublishQueue, Routes, Shared, SubscriberQueue,
    SubscriberRoute,
};
use crate::status::{text, ErrorCode, StatusCode, StatusEvent};

/// Answer to a blocking `peer` call.
pub(crate) type PeerReply = oneshot::Sender<Result<(), EndpointError>>;

/// Start listening; answers the bound port.
#[derive(Message)]
#[rtype(result = "Result<u16, EndpointError>")]
pub(crate) struct Listen {
    pub(crate) address: String,
    pub(crate) port: u16,
}

/// Peer with `address:port`, retrying every `retry` if set; `reply` learns the outcome
/// of the first attempt.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct PeerWith {
    pub(crate) address: String,
    pub(crate) port: u16,
    pub(crate) retry: Option<Duration>,
    pub(crate) reply: Option<PeerReply>,
}

/// End the peering with `address:port`; answers whether there was one.
#[derive(Message)]
#[rtype(result = "bool")]
pub(crate) struct Unpeer {
    pub(crate) address: String,
    pub(crate) port: u16,
}

/// List the peerings.
#[derive(Message)]
#[rtype(result = "Vec<PeerInfo>")]
pub(crate) struct GetPeers;

/// The union of the peers' filters.
#[derive(Message)]
#[rtype(result = "Vec<Topic>")]
pub(crate) struct GetPeerSubscriptions;

/// Forward these topics even without a local subscriber.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Forward {
    pub(crate) topics: Vec<Topic>,
}

/// A new subscriber.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddSubscriber {
    pub(crate) id: u64,
    pub(crate) topics: Vec<Topic>,
    pub(crate) queue: Arc<SubscriberQueue>,
}

/// Add or remove one topic of a subscriber; answered once peers have been told.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ChangeSubscription {
    pub(crate) id: u64,
    pub(crate) topic: Topic,
    pub(crate) add: bool,
}

/// A subscriber went away.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RemoveSubscriber {
    pub(crate) id: u64,
}

/// A new status subscriber.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddStatusSubscriber {
    pub(crate) queue: Arc<BoundedQueue<StatusEvent>>,
    pub(crate) statuses: bool,
}

/// A new publisher (or the endpoint's own mailbox): its buffer is drained into the
/// data path by a task of its own, whatever piled up at once.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddPublisher {
    pub(crate) queue: Arc<PublishQueue>,
}

/// A connection completed its handshake.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Handshaken {
    pub(crate) established: Established,
    /// The filter our `Hello` carried.
    pub(crate) sent_filter: Vec<Topic>,
    /// The `peer` target, for connections we initiated.
    pub(crate) outbound: Option<(String, u16)>,
}

/// A connection failed before or during its handshake.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct HandshakeFailed {
    pub(crate) network: NetworkInfo,
    pub(crate) outbound: Option<(String, u16)>,
    pub(crate) error: ConnectError,
}

/// A peer announced a new filter.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct PeerFilter {
    pub(crate) node: NodeId,
    pub(crate) conn: u64,
    pub(crate) filter: Vec<Topic>,
}

/// A peer's connection ended.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct PeerClosed {
    pub(crate) node: NodeId,
    pub(crate) conn: u64,
    pub(crate) reason: CloseReason,
}

/// A peer's buffer stayed full (see `SlowPeerPolicy`).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SlowPeer {
    pub(crate) node: NodeId,
    /// Whether messages were dropped (`Drop`) rather than the peer disconnected.
    pub(crate) dropped: bool,
}

/// Flush publishers and peers, close everything, stop the endpoint's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// Bound on flushing during shutdown and unpeer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

struct PeerEntry {
    actor: Addr<Peer>,
    link: Arc<PeerLink>,
    conn: u64,
    filter: Arc<Vec<Topic>>,
    network: NetworkInfo,
    outbound: Option<(String, u16)>,
}

impl PeerEntry {
    fn info(&self) -> EndpointInfo {
        EndpointInfo {
            node: self.link.node,
            network: Some(self.network.clone()),
        }
    }
}

/// A `peer` target we keep connected.
struct Outbound {
    retry: Option<Duration>,
    waiters: Vec<PeerReply>,
    node: Option<NodeId>,
    connecting: bool,
}

struct StatusSink {
    queue: Arc<BoundedQueue<StatusEvent>>,
    statuses: bool,
}

/// The endpoint core actor.
pub(crate) struct Core {
    shared: Arc<Shared>,
    peers: HashMap<NodeId, PeerEntry>,
    subscribers: BTreeMap<u64, SubscriberRoute>,
    forwarded: Vec<Topic>,
    status_sinks: Vec<StatusSink>,
    outbound: HashMap<(String, u16), Outbound>,
    listeners: Vec<Addr<Listener>>,
    /// Publisher buffers, and whether their drain task finished; shutdown closes the
    /// buffers and waits for the tasks so that published data is flushed.
    publishers: Vec<(Weak<PublishQueue>, watch::Receiver<bool>)>,
    next_conn: u64,
    shutting_down: bool,
}

/// What opening a connection needs now: our `Hello` with the current filter, TLS,
/// limits.
pub(crate) fn opening(shared: &Shared) -> Opening {
    Opening {
        hello: Hello::new(shared.node, shared.routes().local_filter.to_vec()),
        tls: shared.tls.clone(),
        max_frame_len: shared.config.max_frame_len,
        timeout: shared.config.handshake_timeout,
    }
}

impl Core {
    /// A core over `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Core {
            shared,
            peers: HashMap::new(),
            subscribers: BTreeMap::new(),
            forwarded: Vec::new(),
            status_sinks: Vec::new(),
            outbound: HashMap::new(),
            listeners: Vec::new(),
            publishers: Vec::new(),
            next_conn: 0,
            shutting_down: false,
        }
    }

    /// Hands `event` to the status subscribers that want it.
    pub(crate) fn emit(&mut self, event: StatusEvent) {
        self.status_sinks.retain(|sink| !sink.queue.is_closed());
        for sink in &self.status_sinks {
            if sink.statuses || matches!(event, StatusEvent::Error(_)) {
                // A full status queue sheds the newest events: statuses must never
                // stall the core.
                let _ = sink.queue.try_push(event.clone(), 1);
            }
        }
    }

    fn local_filter(&self) -> Vec<Topic> {
        let subscribed = self.subscribers.values().flat_map(|s| s.filter.iter());
        let topics = subscribed
            .chain(&self.forwarded)
            .filter(|t| !t.is_local_only())
            .cloned()
            .collect();
        sanitize(topics)
    }

    /// Installs a fresh routing snapshot; tells peers when our filter changed.
    fn rebuild_routes(&mut self) {
        let local_filter = self.local_filter();
        let previous = self.shared.routes();
        if *previous.local_filter != local_filter {
            let frame = encode_frame(&Frame::Filter(local_filter.clone()));
            for peer in self.peers.values() {
                let _ = peer.link.outbox.push_unbounded(frame.clone());
            }
        }
        self.shared.set_routes(Routes {
            peers: self
                .peers
                .values()
                .map(|p| PeerRoute {
                    filter: p.filter.clone(),
                    link: p.link.clone(),
                })
                .collect(),
            subscribers: self.subscribers.values().cloned().collect(),
            local_filter: Arc::new(local_filter),
        });
    }

    fn attempt(&mut self, key: (String, u16), ctx: &mut Context<Self>) {
        let Some(target) = self.outbound.get_mut(&key) else {
            return;
        };
        if target.connecting || self.shutting_down {
            return;
        }
        target.connecting = true;
        let opening = opening(&self.shared);
        let sent_filter = opening.hello.filter.clone();
        let (address, port) = key.clone();
        let opening = async move { connect(&address, port, opening).await };
        ctx.spawn(
            opening
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(established) => act.established(
                        Handshaken {
                            established,
                            sent_filter,
                            outbound: Some(key),
                        },
                        ctx,
                    ),
                    Err(error) => {
                        let network = NetworkInfo {
                            address: key.0.clone(),
                            port: key.1,
                        };
                        act.failed(
                            HandshakeFailed {
                                network,
                                outbound: Some(key),
                                error,
                            },
                            ctx,
                        )
                    }
                }),
        );
    }

    fn established(&mut self, msg: Handshaken, ctx: &mut Context<Self>) {
        let Handshaken {
            established,
            sent_filter,
            outbound,
        } = msg;
        let node = established.remote.node;
        if let Some(key) = &outbound {
            if let Some(target) = self.outbound.get_mut(key) {
                target.connecting = false;
                target.node = Some(node);
                for waiter in target.waiters.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
        }
        // Peering twice with one endpoint keeps the first peering; ourselves, never.
        if self.shutting_down || node == self.shared.node || self.peers.contains_key(&node) {
            return;
        }
        let Established {
            reader,
            writer,
            remote,
            network,
        } = established;
        self.next_conn += 1;
        let conn = self.next_conn;
        let link = Arc::new(PeerLink::new(node, self.shared.config.peer_buffer));
        let current = self.shared.routes().local_filter.clone();
        if *current != sent_filter {
            let _ = link
                .outbox
                .push_unbounded(encode_frame(&Frame::Filter(current.to_vec())));
        }
        let peer = Peer::new(
            self.shared.clone(),
            ctx.address(),
            conn,
            link.clone(),
            reader,
            writer,
        );
        let entry = PeerEntry {
            actor: peer.start(),
            link,
            conn,
            filter: Arc::new(sanitize(remote.filter)),
            network,
            outbound,
        };
        let info = entry.info();
        self.peers.insert(node, entry);
        self.rebuild_routes();
        // Before the peer actor reads anything: PeerAdded precedes the peer's data.
        self.emit(StatusEvent::status(
            StatusCode::PeerAdded,
            Some(info),
            text::HANDSHAKE_SUCCESSFUL,
        ));
    }

    fn failed(&mut self, msg: HandshakeFailed, ctx: &mut Context<Self>) {
        let HandshakeFailed {
            network,
            outbound,
            error,
        } = msg;
        let context = Some(EndpointInfo {
            node: UNKNOWN_NODE,
            network: Some(network.clone()),
        });
        let (code, message) = match &error {
            ConnectError::Unreachable(_) | ConnectError::Timeout => (
                ErrorCode::PeerUnavailable,
                text::UNABLE_TO_CONNECT.to_owned(),
            ),
            ConnectError::Incompatible(why) => (ErrorCode::PeerIncompatible, why.clone()),
            ConnectError::Invalid(why) => (ErrorCode::PeerInvalid, why.to_string()),
            ConnectError::Tls(why) => (ErrorCode::PeerInvalid, why.to_string()),
        };
        if outbound.is_some() || worth_reporting(&error) {
            self.emit(StatusEvent::error(code, context, message.clone()));
        }
        let Some(key) = outbound else { return };
        let Some(target) = self.outbound.get_mut(&key) else {
            return;
        };
        target.connecting = false;
        for waiter in target.waiters.drain(..) {
            let (address, port) = key.clone();
            let _ = waiter.send(Err(match &error {
                ConnectError::Incompatible(reason) => EndpointError::PeerIncompatible {
                    address,
                    port,
                    reason: reason.clone(),
                },
                _ => EndpointError::PeerUnavailable {
                    address,
                    port,
                    reason: error.to_string(),
                },
            }));
        }
        self.retry_later(key, ctx);
    }

    /// Schedules another attempt for an outbound peering that has a retry interval;
    /// forgets it otherwise.
    fn retry_later(&mut self, key: (String, u16), ctx: &mut Context<Self>) {
        match self.outbound.get(&key).and_then(|t| t.retry) {
            Some(retry) if !retry.is_zero() && !self.shutting_down => {
                ctx.run_later(retry, move |act, ctx| act.attempt(key, ctx));
            }
            _ => {
                self.outbound.remove(&key);
            }
        }
    }

    /// Forgets a peer after its connection ended or was dropped.
    fn lose(&mut self, node: NodeId, ctx: &mut Context<Self>) -> Option<PeerEntry> {
        let entry = self.peers.remove(&node)?;
        entry.link.outbox.close();
        self.rebuild_routes();
        if let Some(key) = &entry.outbound {
            if let Some(target) = self.outbound.get_mut(key) {
                target.node = None;
            }
            self.retry_later(key.clone(), ctx);
        }
        Some(entry)
    }

    fn find_peer(&self, address: &str, port: u16) -> Option<NodeId> {
        self.peers
            .iter()
            .find(|(_, p)| {
                p.outbound
                    .as_ref()
                    .is_some_and(|(a, o)| a == address && *o == port)
                    || (p.network.address == address && p.network.port == port)
            })
            .map(|(node, _)| *node)
    }
}

impl Actor for Core {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The mailbox only carries control traffic; keep `send` from waiting on it.
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Listen> for Core {
    type Result = Result<u16, EndpointError>;

    fn handle(&mut self, msg: Listen, ctx: &mut Context<Self>) -> Self::Result {
        let host = if msg.address.is_empty() {
            "0.0.0.0"
        } else {
            msg.address.as_str()
        };
        let listen_error = |source| EndpointError::Listen {
            address: msg.address.clone(),
            port: msg.port,
            source,
        };
        let socket = std::net::TcpListener::bind((host, msg.port)).map_err(listen_error)?;
        socket.set_nonblocking(true).map_err(listen_error)?;
        let port = socket.local_addr().map_err(listen_error)?.port();
        let socket = tokio::net::TcpListener::from_std(socket).map_err(listen_error)?;
        self.listeners
            .push(Listener::new(self.shared.clone(), ctx.address(), socket).start());
        Ok(port)
    }
}

impl Handler<PeerWith> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerWith, ctx: &mut Context<Self>) {
        if self.shutting_down {
            if let Some(reply) = msg.reply {
                let _ = reply.send(Err(EndpointError::ShutDown));
            }
            return;
        }
        let key = (msg.address, msg.port);
        let target = self.outbound.entry(key.clone()).or_insert(Outbound {
            retry: None,
            waiters: Vec::new(),
            node: None,
            connecting: false,
        });
        target.retry = msg.retry;
        if target
            .node
            .is_some_and(|node| self.peers.contains_key(&node))
        {
            if let Some(reply) = msg.reply {
                let _ = reply.send(Ok(()));
            }
            return;
        }
        target.waiters.extend(msg.reply);
        self.attempt(key, ctx);
    }
}

impl Handler<Unpeer> for Core {
    type Result = bool;

    fn handle(&mut self, msg: Unpeer, _: &mut Context<Self>) -> bool {
        // Stop retrying; callers still waiting on a first attempt learn it was cancelled.
        let target = self.outbound.remove(&(msg.address.clone(), msg.port));
        let had_target = target.is_some();
        for waiter in target.into_iter().flat_map(|t| t.waiters) {
            let _ = waiter.send(Err(EndpointError::Cancelled {
                address: msg.address.clone(),
                port: msg.port,
            }));
        }
        let Some(node) = self.find_peer(&msg.address, msg.port) else {
            if !had_target {
                let context = EndpointInfo {
                    node: UNKNOWN_NODE,
                    network: Some(NetworkInfo {
                        address: msg.address.clone(),
                        port: msg.port,
                    }),
                };
                self.emit(StatusEvent::error(
                    ErrorCode::PeerInvalid,
                    Some(context),
                    text::UNKNOWN_PEER,
                ));
            }
            return had_target;
        };
        let entry = self.peers.remove(&node).expect("found above");
        self.rebuild_routes();
        self.emit(StatusEvent::status(
            StatusCode::PeerRemoved,
            Some(entry.info()),
            text::REMOVED_CONNECTION,
        ));
        entry.actor.do_send(Close {
            timeout: FLUSH_TIMEOUT,
        });
        true
    }
}

impl Handler<GetPeers> for Core {
    type Result = Vec<PeerInfo>;

    fn handle(&mut self, _: GetPeers, _: &mut Context<Self>) -> Vec<PeerInfo> {
        // Broker 1.4 reports `Remote | Outbound | Inbound` on both sides of a peering.
        let flags = PeerFlags::REMOTE | PeerFlags::OUTBOUND | PeerFlags::INBOUND;
        let peered = self.peers.values().map(|p| PeerInfo {
            peer: p.info(),
            flags,
            status: PeerStatus::Peered,
        });
        let pending =
            self.outbound
                .iter()
                .filter(|(_, t)| t.node.is_none())
                .map(|((address, port), t)| PeerInfo {
                    peer: EndpointInfo {
                        node: UNKNOWN_NODE,
                        network: Some(NetworkInfo {
                            address: address.clone(),
                            port: *port,
                        }),
                    },
                    flags: PeerFlags::REMOTE | PeerFlags::OUTBOUND,
                    status: if t.connecting {
                        PeerStatus::Connecting
                    } else {
                        PeerStatus::Reconnecting
                    },
                });
        peered.chain(pending).collect()
    }
}

impl Handler<GetPeerSubscriptions> for Core {
    type Result = Vec<Topic>;

    fn handle(&mut self, _: GetPeerSubscriptions, _: &mut Context<Self>) -> Vec<Topic> {
        sanitize(
            self.peers
                .values()
                .flat_map(|p| p.filter.iter().cloned())
                .collect(),
        )
    }
}

impl Handler<Forward> for Core {
    type Result = ();

    fn handle(&mut self, msg: Forward, _: &mut Context<Self>) {
        self.forwarded.extend(msg.topics);
        self.rebuild_routes();
    }
}

impl Handler<AddSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddSubscriber, _: &mut Context<Self>) {
        let route = SubscriberRoute {
            filter: Arc::new(sanitize(msg.topics)),
            queue: msg.queue,
        };
        self.subscribers.insert(msg.id, route);
        self.rebuild_routes();
    }
}

impl Handler<ChangeSubscription> for Core {
    type Result = ();

    fn handle(&mut self, msg: ChangeSubscription, _: &mut Context<Self>) {
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
}

impl Handler<RemoveSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: RemoveSubscriber, _: &mut Context<Self>) {
        if self.subscribers.remove(&msg.id).is_some() {
            self.rebuild_routes();
        }
    }
}

impl Handler<AddStatusSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddStatusSubscriber, _: &mut Context<Self>) {
        self.status_sinks.push(StatusSink {
            queue: msg.queue,
            statuses: msg.statuses,
        });
    }
}

impl Handler<AddPublisher> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddPublisher, _: &mut Context<Self>) {
        let (done, finished) = watch::channel(false);
        self.publishers.retain(|(_, finished)| !*finished.borrow());
        self.publishers.push((Arc::downgrade(&msg.queue), finished));
        let shared = self.shared.clone();
        actix::spawn(async move {
            while let Some(batch) = msg.queue.pop_all_async().await {
                publish_async(&shared, batch).await;
            }
            let _ = done.send(true);
        });
    }
}

impl Handler<Handshaken> for Core {
    type Result = ();

    fn handle(&mut self, msg: Handshaken, ctx: &mut Context<Self>) {
        self.established(msg, ctx);
    }
}

impl Handler<HandshakeFailed> for Core {
    type Result = ();

    fn handle(&mut self, msg: HandshakeFailed, ctx: &mut Context<Self>) {
        self.failed(msg, ctx);
    }
}

impl Handler<PeerFilter> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerFilter, _: &mut Context<Self>) {
        let Some(peer) = self.peers.get_mut(&msg.node).filter(|p| p.conn == msg.conn) else {
            return;
        };
        peer.filter = Arc::new(msg.filter);
        self.rebuild_routes();
    }
}

impl Handler<PeerClosed> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerClosed, ctx: &mut Context<Self>) {
        if self.peers.get(&msg.node).is_none_or(|p| p.conn != msg.conn) {
            return; // Already removed by unpeer, a slow-peer disconnect or shutdown.
        }
        let Some(entry) = self.lose(msg.node, ctx) else {
            return;
        };
        let context = Some(entry.info());
        match msg.reason {
            CloseReason::Closed => {}
            CloseReason::Invalid(why) => self.emit(StatusEvent::error(
                ErrorCode::PeerInvalid,
                context.clone(),
                why,
            )),
            CloseReason::Timeout => self.emit(StatusEvent::error(
                ErrorCode::PeerTimeout,
                context.clone(),
                "peer stopped responding",
            )),
        }
        self.emit(StatusEvent::status(
            StatusCode::PeerLost,
            context,
            text::LOST_CONNECTION,
        ));
    }
}

impl Handler<SlowPeer> for Core {
    type Result = ();

    fn handle(&mut self, msg: SlowPeer, ctx: &mut Context<Self>) {
        let Some(peer) = self.peers.get(&msg.node) else {
            return;
        };
        let context = Some(peer.info());
        if msg.dropped {
            let count = peer.link.dropped.load(std::sync::atomic::Ordering::Relaxed);
            let why = format!("peer is not reading: dropping messages for it ({count} so far)");
            self.emit(StatusEvent::error(ErrorCode::PeerTimeout, context, why));
            return;
        }
        let entry = self.lose(msg.node, ctx).expect("present above");
        entry.actor.do_send(Close {
            timeout: Duration::ZERO,
        });
        self.emit(StatusEvent::error(
            ErrorCode::PeerTimeout,
            context.clone(),
            "peer stopped reading: disconnected",
        ));
        self.emit(StatusEvent::status(
            StatusCode::PeerLost,
            context,
            text::LOST_CONNECTION,
        ));
    }
}

impl Handler<Shutdown> for Core {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        self.shutting_down = true;
        for listener in self.listeners.drain(..) {
            listener.do_send(StopListening);
        }
        for target in self.outbound.drain().map(|(_, t)| t) {
            for waiter in target.waiters {
                let _ = waiter.send(Err(EndpointError::ShutDown));
            }
        }
        // Publishers first, so what they buffered still finds the peers.
        let mut drained = Vec::new();
        for (queue, mut finished) in self.publishers.drain(..) {
            if let Some(queue) = queue.upgrade() {
                queue.close();
            }
            drained.push(async move {
                let _ = finished.wait_for(|done| *done).await;
            });
        }
        let publishers_flushed = async move {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, futures::future::join_all(drained)).await;
        };
        let close_peers = publishers_flushed.into_actor(self).then(|_, act, _| {
            let peers: Vec<Addr<Peer>> = act.peers.drain().map(|(_, p)| p.actor).collect();
            act.rebuild_routes();
            let closed = futures::future::join_all(peers.into_iter().map(|p| {
                p.send(Close {
                    timeout: FLUSH_TIMEOUT,
                })
            }));
            closed.into_actor(act)
        });
        Box::pin(close_peers.map(|_, _, _| System::current().stop()))
    }
}
