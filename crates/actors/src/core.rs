//! The endpoint core: owns the peer table, subscriptions, forwarded topics, outbound
//! peerings with their retries, and the status subscribers. It rebuilds the routing
//! snapshot on every change, so data never passes through it.
//!
//! This file holds the actor, its messages and its handlers; the work is split by
//! concern: `peering` (outbound targets, attempts, retries, handshakes), `departures`
//! (unpeering, lost and cut-loose peers), `inbound` (failed inbound handshakes),
//! `keepalive` (the liveness tick), `clients` (WebSocket connections), `filters`
//! (subscribers, forwarded topics, the routing snapshot), `reachability` (endpoints
//! reached through the overlay: the `Reach` frames and the discovery statuses) and
//! `statuses` (status subscribers).

mod clients;
mod departures;
mod filters;
mod inbound;
mod keepalive;
mod peering;
mod reachability;
mod statuses;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::{NodeId, Reach};
use broker_wire::Topic;
use futures::channel::oneshot;
use tokio::sync::watch;

use crate::connection::{ConnectError, Established, Peerings};
use crate::error::EndpointError;
use crate::info::{NetworkInfo, PeerInfo};
use crate::listener::{Listener, StopListening};
use crate::metrics::SlowPeerAction;
use crate::peer::{Close, CloseReason, Peer};
use crate::publish_buffer::{drain, PublishBuffer};
use crate::queue::BoundedQueue;
use crate::reach::ReachTable;
use crate::reports::{Report, Reports};
use crate::routing::{Shared, SubscriberQueue, SubscriberRoute};
use crate::status::StatusEvent;
use crate::store::StoreActor;

pub(crate) use clients::{
    AttachClient, ClientClosed, WebSocketListen, WebSocketPeer, WebSocketUnpeer,
};
use inbound::InboundFailures;
pub(crate) use peering::opening;
use peering::{Outbound, PeerEntry};
use statuses::StatusSink;

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
    /// Counts the events shed because `queue` was full; the subscriber reads it.
    pub(crate) dropped: Arc<AtomicU64>,
}

/// A new publisher (or the endpoint's own mailbox): its buffer is drained into the
/// data path by a task of its own, whatever piled up at once.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddPublisher {
    pub(crate) queue: Arc<PublishBuffer>,
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

/// A peer told of changes of the endpoints it reaches.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct PeerReach {
    pub(crate) node: NodeId,
    pub(crate) conn: u64,
    pub(crate) changes: Vec<Reach>,
}

/// A peer's connection ended.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct PeerClosed {
    pub(crate) node: NodeId,
    pub(crate) conn: u64,
    pub(crate) reason: CloseReason,
}

/// Start a store actor (`attach_*`) on the endpoint's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StartStore(pub(crate) StoreActor);

/// Flush publishers and peers, close everything, stop the endpoint's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// Binds a listening socket on `address` (`""` = all interfaces) and `port` (0 = any);
/// the socket and its port.
fn bind(address: &str, port: u16) -> Result<(tokio::net::TcpListener, u16), EndpointError> {
    let host = if address.is_empty() {
        "0.0.0.0"
    } else {
        address
    };
    let listen_error = |source| EndpointError::Listen {
        address: address.to_owned(),
        port,
        source,
    };
    let socket = std::net::TcpListener::bind((host, port)).map_err(listen_error)?;
    socket.set_nonblocking(true).map_err(listen_error)?;
    let bound = socket.local_addr().map_err(listen_error)?.port();
    let socket = tokio::net::TcpListener::from_std(socket).map_err(listen_error)?;
    Ok((socket, bound))
}

/// Bound on flushing during shutdown and unpeer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoint core actor.
pub(crate) struct Core {
    shared: Arc<Shared>,
    /// What links and store actors report, until the Core starts reading it.
    reports: Option<Reports>,
    peers: HashMap<NodeId, PeerEntry>,
    subscribers: BTreeMap<u64, SubscriberRoute>,
    forwarded: Vec<Topic>,
    status_sinks: Vec<StatusSink>,
    /// Whether a retry of reporting shed status events is scheduled.
    shed_retry: bool,
    /// Failed inbound handshakes, reported without a flood.
    inbound_failures: InboundFailures,
    outbound: HashMap<(String, u16), Outbound>,
    listeners: Vec<Addr<Listener>>,
    /// Publisher buffers, and whether their drain task finished; shutdown closes the
    /// buffers and waits for the tasks so that published data is flushed.
    publishers: Vec<(Weak<PublishBuffer>, watch::Receiver<bool>)>,
    next_conn: u64,
    shutting_down: bool,
    /// The peers reserved by handshakes and peerings (ours and the listeners').
    peerings: Arc<Peerings>,
    /// WebSocket servers and connections.
    web_sockets: clients::Clients,
    /// The endpoints reached through the overlay, peers and further away.
    reach: ReachTable,
    /// The `Reach` changes not sent yet.
    reach_outbox: reachability::ReachOutbox,
}

impl Core {
    /// A core over `shared`, reading what the data path reports from `reports`.
    pub(crate) fn new(shared: Arc<Shared>, reports: Reports) -> Self {
        let config = &shared.config;
        let reach = ReachTable::new(shared.node, config.ttl, config.forward);
        Core {
            shared,
            reports: Some(reports),
            peers: HashMap::new(),
            subscribers: BTreeMap::new(),
            forwarded: Vec::new(),
            status_sinks: Vec::new(),
            shed_retry: false,
            inbound_failures: InboundFailures::default(),
            outbound: HashMap::new(),
            listeners: Vec::new(),
            publishers: Vec::new(),
            next_conn: 0,
            shutting_down: false,
            peerings: Arc::default(),
            web_sockets: clients::Clients::default(),
            reach,
            reach_outbox: Default::default(),
        }
    }

    /// Binds a listening socket and starts its listener; the bound port.
    fn listen(&mut self, msg: Listen, ctx: &mut Context<Self>) -> Result<u16, EndpointError> {
        let (socket, port) = bind(&msg.address, msg.port)?;
        self.listeners.push(
            Listener::new(
                self.shared.clone(),
                self.peerings.clone(),
                ctx.address(),
                socket,
            )
            .start(),
        );
        Ok(port)
    }

    /// Starts the task draining a publisher's buffer into the data path.
    fn add_publisher(&mut self, msg: AddPublisher) {
        let (done, finished) = watch::channel(false);
        self.publishers.retain(|(_, finished)| !*finished.borrow());
        self.publishers.push((Arc::downgrade(&msg.queue), finished));
        let shared = self.shared.clone();
        actix::spawn(async move {
            drain(shared, msg.queue).await;
            let _ = done.send(true);
        });
    }

    /// Stops listening and retrying, flushes publishers, then closes the peers.
    fn shut_down(&mut self) -> ResponseActFuture<Self, ()> {
        self.shutting_down = true;
        self.peerings.close();
        for listener in self.listeners.drain(..) {
            listener.do_send(StopListening);
        }
        self.stop_web_socket_servers();
        self.cancel_outbound();
        // Publishers first, so what they buffered still finds the peers.
        let mut drained = Vec::new();
        for (queue, mut finished) in self.publishers.drain(..) {
            if let Some(buffer) = queue.upgrade() {
                buffer.queue.close();
            }
            drained.push(async move {
                let _ = finished.wait_for(|done| *done).await;
            });
        }
        // One bound for both phases: a peer that stopped reading delays shutdown by at
        // most FLUSH_TIMEOUT in all.
        let deadline = tokio::time::Instant::now() + FLUSH_TIMEOUT;
        let publishers_flushed = async move {
            let _ = tokio::time::timeout_at(deadline, futures::future::join_all(drained)).await;
        };
        let close_peers = publishers_flushed.into_actor(self).then(move |_, act, _| {
            let peers: Vec<Addr<Peer>> = act.peers.drain().map(|(_, p)| p.actor).collect();
            act.rebuild_routes();
            let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            let closed =
                futures::future::join_all(peers.into_iter().map(|p| p.send(Close { timeout })));
            let clients_closed = act.close_clients(deadline);
            futures::future::join(closed, clients_closed).into_actor(act)
        });
        Box::pin(close_peers.map(|_, _, _| System::current().stop()))
    }
}

impl Actor for Core {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The mailbox only carries control traffic; keep `send` from waiting on it.
        ctx.set_mailbox_capacity(4096);
        if let Some(reports) = self.reports.take() {
            ctx.add_stream(reports);
        }
        let keepalive = self.shared.config.keepalive;
        if !keepalive.is_zero() {
            ctx.run_interval(keepalive, |core, ctx| core.keepalive(ctx));
        }
    }
}

impl Handler<Listen> for Core {
    type Result = Result<u16, EndpointError>;

    fn handle(&mut self, msg: Listen, ctx: &mut Context<Self>) -> Self::Result {
        self.listen(msg, ctx)
    }
}

impl Handler<PeerWith> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerWith, ctx: &mut Context<Self>) {
        self.peer_with(msg, ctx);
    }
}

impl Handler<Unpeer> for Core {
    type Result = bool;

    fn handle(&mut self, msg: Unpeer, ctx: &mut Context<Self>) -> Self::Result {
        self.unpeer(msg, ctx)
    }
}

impl Handler<GetPeers> for Core {
    type Result = Vec<PeerInfo>;

    fn handle(&mut self, _: GetPeers, _: &mut Context<Self>) -> Self::Result {
        self.peer_infos()
    }
}

impl Handler<GetPeerSubscriptions> for Core {
    type Result = Vec<Topic>;

    fn handle(&mut self, _: GetPeerSubscriptions, _: &mut Context<Self>) -> Self::Result {
        self.peer_subscriptions()
    }
}

impl Handler<Forward> for Core {
    type Result = ();

    fn handle(&mut self, msg: Forward, _: &mut Context<Self>) {
        self.forward(msg.topics);
    }
}

impl Handler<AddSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddSubscriber, _: &mut Context<Self>) {
        self.add_subscriber(msg);
    }
}

impl Handler<ChangeSubscription> for Core {
    type Result = ();

    fn handle(&mut self, msg: ChangeSubscription, _: &mut Context<Self>) {
        self.change_subscription(msg);
    }
}

impl Handler<RemoveSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: RemoveSubscriber, _: &mut Context<Self>) {
        self.remove_subscriber(msg.id);
    }
}

impl Handler<AddStatusSubscriber> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddStatusSubscriber, _: &mut Context<Self>) {
        self.add_status_subscriber(msg);
    }
}

impl Handler<AddPublisher> for Core {
    type Result = ();

    fn handle(&mut self, msg: AddPublisher, _: &mut Context<Self>) {
        self.add_publisher(msg);
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
        self.peer_filter(msg);
    }
}

impl Handler<PeerReach> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerReach, ctx: &mut Context<Self>) {
        self.peer_reach(msg, ctx);
    }
}

impl Handler<PeerClosed> for Core {
    type Result = ();

    fn handle(&mut self, msg: PeerClosed, ctx: &mut Context<Self>) {
        self.peer_closed(msg, ctx);
    }
}

/// What links and store actors report.
impl StreamHandler<Report> for Core {
    fn handle(&mut self, report: Report, ctx: &mut Context<Self>) {
        match report {
            Report::SlowPeer { node, dropped } if self.web_sockets.has(&node) => {
                self.slow_client(node, dropped, ctx)
            }
            Report::SlowPeer { node, dropped } => {
                // Reports of a peering already dropped are no new action.
                if self.peers.contains_key(&node) {
                    let action = if dropped {
                        SlowPeerAction::Drop
                    } else {
                        SlowPeerAction::Disconnect
                    };
                    self.shared.counters.slow_peer_action(action);
                }
                self.slow_peer(node, dropped, ctx)
            }
            Report::Status(event) => self.emit(event),
            Report::Unsubscribe(id) => self.remove_subscriber(id),
            Report::ShedStatusEvents => self.retry_shed_reports(ctx),
        }
    }

    /// Never: the Core holds a sender itself (in `shared`).
    fn finished(&mut self, _: &mut Context<Self>) {}
}

impl Handler<StartStore> for Core {
    type Result = ();

    fn handle(&mut self, msg: StartStore, _: &mut Context<Self>) {
        self.start_store(msg.0);
    }
}

impl Handler<Shutdown> for Core {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        self.shut_down()
    }
}
