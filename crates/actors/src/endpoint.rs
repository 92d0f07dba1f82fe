//! The endpoint handle: the API embedders use. Blocking calls work from any plain
//! thread; async variants serve async callers. The actors run on a thread the
//! endpoint owns, so no caller needs a runtime.
//!
//! Blocking calls must not be made from the endpoint's own thread (from inside an
//! actor): they would wait on the thread that has to answer them.

mod metrics;
mod stores;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Handler, Message};
use actix_rt::{Arbiter, ArbiterHandle};
use broker_wire::frame::NodeId;
use broker_wire::{Payload, Topic};
use futures::channel::oneshot;
use futures::future::Either;
use tokio::sync::watch;

use crate::config::Config;
use crate::core::{
    AddPublisher, AddStatusSubscriber, AddSubscriber, Core, Forward, GetPeerSubscriptions,
    GetPeers, Listen, PeerWith, Shutdown, Unpeer, WebSocketListen, WebSocketPeer, WebSocketUnpeer,
};
use crate::error::EndpointError;
use crate::flare::Flare;
use crate::info::PeerInfo;
use crate::publish_buffer::PublishBuffer;
use crate::publisher::Publisher;
use crate::queue::{BoundedQueue, PushError};
use crate::reports::Reporter;
use crate::routing::{Routes, Shared};
use crate::subscriber::{Inbox, StatusSubscriber, Subscriber};
use crate::tls::TlsContext;
use metrics::{Sources, StoreList};

/// A Broker endpoint: peers with others, publishes and subscribes. Cheap to clone;
/// all clones are the same endpoint. Dropping the last clone shuts it down.
#[derive(Clone)]
pub struct Endpoint {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// What `publish*` hands over (see `publish_buffer.rs`).
    mailbox: Arc<PublishBuffer>,
    core: Addr<Core>,
    /// Runs tasks on the endpoint's thread, where timers work whoever waits.
    arbiter: ArbiterHandle,
    /// The endpoint's thread, taken by the first shutdown.
    thread: Mutex<Option<JoinHandle<()>>>,
    /// What its metrics are read from.
    sources: Sources,
    /// The port serving them, if any.
    metrics_port: Option<u16>,
}

impl Endpoint {
    /// Starts an endpoint with `config`.
    pub fn new(config: Config) -> Result<Endpoint, EndpointError> {
        let tls = TlsContext::new(&config.tls, config.disable_ssl)?;
        let metrics_listener = metrics::bind(&config)?;
        let (reporter, reports) = Reporter::channel();
        let mailbox = Arc::new(PublishBuffer::new(config.peer_buffer, None));
        let shared = Arc::new(Shared::new(NodeId::random(), config, tls, reporter));
        let (started, core) = std::sync::mpsc::sync_channel(1);
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("broker-endpoint".into())
            .spawn(move || {
                // Built here rather than by `System::new`, which panics when the runtime
                // cannot be had (out of file descriptors for its epoll and waker).
                let runtime = match new_runtime() {
                    Ok(runtime) => runtime,
                    Err(cause) => {
                        let _ = started.send(Err(cause));
                        return;
                    }
                };
                let system = actix_rt::System::with_tokio_rt(move || runtime);
                let core = system.block_on(async move { Core::new(for_thread, reports).start() });
                if started.send(Ok((core, Arbiter::current()))).is_ok() {
                    let _ = system.run();
                }
            })
            .map_err(EndpointError::Start)?;
        let (core, arbiter) = core
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("endpoint thread died")))
            .map_err(EndpointError::Start)?;
        core.do_send(AddPublisher {
            queue: mailbox.clone(),
        });
        let sources = Sources {
            shared: shared.clone(),
            mailbox: mailbox.clone(),
            stores: StoreList::default(),
        };
        let metrics_port = metrics_listener.map(|(listener, port)| {
            arbiter.spawn(sources.serve(listener));
            port
        });
        let inner = Inner {
            shared,
            mailbox,
            core,
            arbiter,
            thread: Mutex::new(Some(thread)),
            sources,
            metrics_port,
        };
        let endpoint = Endpoint {
            inner: Arc::new(inner),
        };
        let config = endpoint.config();
        if let Some(port) = config.web_socket_port {
            // On failure the endpoint is dropped, which shuts it down.
            endpoint.web_socket_listen(&config.web_socket_address, port)?;
        }
        Ok(endpoint)
    }

    /// This endpoint's identity.
    pub fn node_id(&self) -> NodeId {
        self.inner.shared.node
    }

    /// The configuration the endpoint runs with.
    pub fn config(&self) -> &Config {
        &self.inner.shared.config
    }

    /// The data path state, for the store actors.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    pub(crate) fn call<M>(&self, msg: M) -> Result<M::Result, EndpointError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Core: Handler<M>,
    {
        futures::executor::block_on(self.inner.core.send(msg)).map_err(|_| EndpointError::ShutDown)
    }

    /// Listens on `address` (`""` = all interfaces) and `port` (0 = any); returns the
    /// bound port.
    pub fn listen(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        self.call(Listen {
            address: address.to_owned(),
            port,
        })?
    }

    /// Listens for WebSocket clients (Zeek's WebSocket API, JSON v1, on
    /// `/v1/messages/json`) on `address` (`""` = all interfaces) and `port` (0 = any),
    /// with TLS as peerings have it (none with `disable_ssl`); returns the bound port.
    /// Each client is a peer with an id of its own (see docs/websocket.md).
    pub fn web_socket_listen(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        self.call(WebSocketListen {
            address: address.to_owned(),
            port,
        })?
    }

    /// Connects to the WebSocket server at `url` (`ws://` or `wss://`, the path
    /// `/v1/messages/json`: Broker's server or Zeek's), subscribing there to `topics`
    /// and sending it what is published here (or reaches this endpoint) on a topic
    /// under a prefix of `send` (`[""]`: everything); blocks until connected or the
    /// first attempt failed. With a non-zero `retry`, failed and lost connections are
    /// retried in the background at that interval.
    pub fn web_socket_peer(
        &self,
        url: &str,
        topics: Vec<Topic>,
        send: Vec<Topic>,
        retry: Option<Duration>,
    ) -> Result<(), EndpointError> {
        let (reply, outcome) = oneshot::channel();
        self.inner.core.do_send(WebSocketPeer {
            url: url.to_owned(),
            topics,
            send,
            retry,
            reply: Some(reply),
        });
        futures::executor::block_on(outcome).map_err(|_| EndpointError::ShutDown)?
    }

    /// Stops connecting to the WebSocket server at `url` and closes the connection;
    /// whether there was either.
    pub fn web_socket_unpeer(&self, url: &str) -> bool {
        self.call(WebSocketUnpeer {
            url: url.to_owned(),
        })
        .unwrap_or(false)
    }

    /// Peers with `address:port`, blocking until peered or the first attempt failed.
    /// With a non-zero `retry`, failed and lost connections are retried in the
    /// background at that interval.
    pub fn peer(
        &self,
        address: &str,
        port: u16,
        retry: Option<Duration>,
    ) -> Result<(), EndpointError> {
        futures::executor::block_on(self.peer_async(address, port, retry))
    }

    /// Async [`Endpoint::peer`].
    pub async fn peer_async(
        &self,
        address: &str,
        port: u16,
        retry: Option<Duration>,
    ) -> Result<(), EndpointError> {
        let (reply, outcome) = oneshot::channel();
        self.inner.core.do_send(PeerWith {
            address: address.to_owned(),
            port,
            retry,
            reply: Some(reply),
        });
        outcome.await.map_err(|_| EndpointError::ShutDown)?
    }

    /// Starts peering with `address:port` without waiting for the outcome.
    pub fn peer_nosync(&self, address: &str, port: u16, retry: Option<Duration>) {
        self.inner.core.do_send(PeerWith {
            address: address.to_owned(),
            port,
            retry,
            reply: None,
        });
    }

    /// Ends the peering with `address:port` (as given to `peer`, or as `peers()`
    /// reports it); whether there was one.
    pub fn unpeer(&self, address: &str, port: u16) -> bool {
        self.call(Unpeer {
            address: address.to_owned(),
            port,
        })
        .unwrap_or(false)
    }

    /// Async [`Endpoint::unpeer`].
    pub async fn unpeer_async(&self, address: &str, port: u16) -> bool {
        self.inner
            .core
            .send(Unpeer {
                address: address.to_owned(),
                port,
            })
            .await
            .unwrap_or(false)
    }

    /// Ends a peering without waiting.
    pub fn unpeer_nosync(&self, address: &str, port: u16) {
        self.inner.core.do_send(Unpeer {
            address: address.to_owned(),
            port,
        });
    }

    /// The current peerings, including outbound ones still connecting.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.call(GetPeers).unwrap_or_default()
    }

    /// Async [`Endpoint::peers`].
    pub async fn peers_async(&self) -> Vec<PeerInfo> {
        self.inner.core.send(GetPeers).await.unwrap_or_default()
    }

    /// The union of the direct peers' filters.
    pub fn peer_subscriptions(&self) -> Vec<Topic> {
        self.call(GetPeerSubscriptions).unwrap_or_default()
    }

    /// Waits up to `timeout` until some direct peer's (or WebSocket client's) filter
    /// matches `topic` (a message published on `topic` now would reach it); whether one
    /// does. Returns at once if one does already; `false` once the endpoint is shut down.
    pub fn await_peer_subscription(&self, topic: &Topic, timeout: Duration) -> bool {
        futures::executor::block_on(self.await_peer_subscription_async(topic, timeout))
    }

    /// Async [`Endpoint::await_peer_subscription`].
    pub async fn await_peer_subscription_async(&self, topic: &Topic, timeout: Duration) -> bool {
        let topic = topic.clone();
        self.await_routes(timeout, move |routes| routes.peer_wants(&topic))
            .await
    }

    /// Waits up to `timeout` until `node` is reachable, a peer or an endpoint further
    /// away that some peer speaking our protocol reaches (within the TTL); whether it is.
    pub fn await_peer(&self, node: &NodeId, timeout: Duration) -> bool {
        futures::executor::block_on(self.await_peer_async(node, timeout))
    }

    /// Async [`Endpoint::await_peer`].
    pub async fn await_peer_async(&self, node: &NodeId, timeout: Duration) -> bool {
        let node = *node;
        let reachable = self.inner.shared.watch_reachable();
        self.await_watch(reachable, timeout, move |nodes| nodes.contains(&node))
            .await
    }

    /// Waits up to `timeout` until the routing snapshot satisfies `condition`; whether
    /// it does.
    pub(crate) async fn await_routes(
        &self,
        timeout: Duration,
        condition: impl Fn(&Routes) -> bool + Send + 'static,
    ) -> bool {
        let routes = self.inner.shared.watch_routes();
        self.await_watch(routes, timeout, move |routes| condition(routes))
            .await
    }

    /// Waits up to `timeout` until the value `watched` satisfies `condition`; whether it
    /// does. The wait runs on the endpoint's thread, whose runtime has the timer, so
    /// callers need none; it ends early when the caller stops waiting.
    async fn await_watch<T: Send + Sync + 'static>(
        &self,
        mut watched: watch::Receiver<T>,
        timeout: Duration,
        condition: impl Fn(&T) -> bool + Send + 'static,
    ) -> bool {
        if condition(&watched.borrow_and_update()) {
            return true;
        }
        let (mut found, outcome) = oneshot::channel();
        let wait = async move {
            let changed = watched.wait_for(move |value| condition(value));
            let timed = std::pin::pin!(tokio::time::timeout(timeout, changed));
            let met = match futures::future::select(timed, found.cancellation()).await {
                // An error: the watch's sender is gone, the endpoint shut down.
                Either::Left((result, _)) => matches!(result, Ok(Ok(_))),
                Either::Right(_) => return,
            };
            let _ = found.send(met);
        };
        self.inner.arbiter.spawn(wait) && outcome.await.unwrap_or(false)
    }

    /// Forwards `topics` between peers even without a local subscriber; returns once
    /// peers have been told.
    pub fn forward(&self, topics: Vec<Topic>) {
        let _ = self.call(Forward { topics });
    }

    /// Publishes one message to the peers whose filters match; blocks while the
    /// endpoint's buffer (`Config::peer_buffer` messages) is full. Messages go out in
    /// the order of the `publish*` calls, batched with whatever else is buffered; a
    /// message after a quiet spell, with nothing buffered, is sent on this thread.
    ///
    /// The value is a [`Data`], or one encoded already ([`Payload`]).
    pub fn publish(&self, topic: Topic, data: impl Into<Payload>) {
        let inner = &self.inner;
        // Closed only by shutdown, when nothing is delivered any more.
        let _ = inner.mailbox.publish(&inner.shared, (topic, data.into()));
    }

    /// Publishes one message if the endpoint's buffer has room; gives it back if not.
    pub fn try_publish(
        &self,
        topic: Topic,
        data: impl Into<Payload>,
    ) -> Result<(), (Topic, Payload)> {
        let inner = &self.inner;
        match inner
            .mailbox
            .try_publish(&inner.shared, (topic, data.into()))
        {
            Err(PushError::Full(message)) => Err(message),
            // Closed only by shutdown, when nothing is delivered any more.
            Ok(()) | Err(PushError::Closed(_)) => Ok(()),
        }
    }

    /// Publishes messages in order, like as many [`Endpoint::publish`] calls under
    /// one lock per buffer-full.
    pub fn publish_batch<P: Into<Payload>>(&self, messages: Vec<(Topic, P)>) {
        let _ = self.inner.mailbox.queue.push_many_wait(payloads(messages));
    }

    /// Async [`Endpoint::publish_batch`]: waits instead of blocking.
    pub async fn publish_batch_async<P: Into<Payload>>(&self, messages: Vec<(Topic, P)>) {
        let mailbox = &self.inner.mailbox;
        let _ = mailbox.queue.push_many_async(payloads(messages)).await;
    }

    /// A subscriber to `topics` (raw prefixes), its queue holding `queue_size`
    /// messages but at least `Config::subscriber_queue`. Peers know of it on return.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_subscriber(
        &self,
        topics: Vec<Topic>,
        queue_size: usize,
    ) -> Result<Subscriber, EndpointError> {
        let capacity = queue_size.max(self.inner.shared.config.subscriber_queue);
        let flare = new_flare("subscriber")?;
        let queue = Arc::new(BoundedQueue::new(capacity, Some(flare), None));
        let id = self.inner.shared.subscriber_id();
        let _ = self.call(AddSubscriber {
            id,
            topics,
            queue: queue.clone(),
        });
        Ok(Subscriber {
            id,
            inbox: Inbox { queue },
            core: self.inner.core.clone(),
        })
    }

    /// [`Endpoint::try_make_subscriber`] for callers that treat running out of file
    /// descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the subscriber's flare.
    pub fn make_subscriber(&self, topics: Vec<Topic>, queue_size: usize) -> Subscriber {
        self.try_make_subscriber(topics, queue_size)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A status subscriber: errors always, statuses too with `receive_statuses`.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_status_subscriber(
        &self,
        receive_statuses: bool,
    ) -> Result<StatusSubscriber, EndpointError> {
        let queue = Arc::new(BoundedQueue::new(
            self.inner.shared.config.status_queue,
            Some(new_flare("status subscriber")?),
            None,
        ));
        let dropped = Arc::new(AtomicU64::new(0));
        let _ = self.call(AddStatusSubscriber {
            queue: queue.clone(),
            statuses: receive_statuses,
            dropped: dropped.clone(),
        });
        Ok(StatusSubscriber {
            inbox: Inbox { queue },
            dropped,
        })
    }

    /// [`Endpoint::try_make_status_subscriber`] for callers that treat running out of
    /// file descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the subscriber's flare.
    pub fn make_status_subscriber(&self, receive_statuses: bool) -> StatusSubscriber {
        self.try_make_status_subscriber(receive_statuses)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A publisher on `topic` with a buffer of `Config::publisher_buffer` messages.
    /// Fails with [`EndpointError::Descriptor`] when out of file descriptors.
    pub fn try_make_publisher(&self, topic: Topic) -> Result<Publisher, EndpointError> {
        let buffer = Arc::new(PublishBuffer::new(
            self.inner.shared.config.publisher_buffer,
            Some(new_flare("publisher")?),
        ));
        let _ = self.call(AddPublisher {
            queue: buffer.clone(),
        });
        Ok(Publisher {
            topic,
            buffer,
            shared: self.inner.shared.clone(),
            sent: AtomicU64::new(0),
            created: Instant::now(),
        })
    }

    /// [`Endpoint::try_make_publisher`] for callers that treat running out of file
    /// descriptors as fatal.
    ///
    /// # Panics
    /// When the process is out of file descriptors for the publisher's flare.
    pub fn make_publisher(&self, topic: Topic) -> Publisher {
        self.try_make_publisher(topic)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Flushes everything published so far to the connected peers, closes every
    /// peering and stops the endpoint's thread. Idempotent; later calls do nothing.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        let Some(thread) = self.thread.lock().expect("thread lock poisoned").take() else {
            return;
        };
        let _ = futures::executor::block_on(self.core.send(Shutdown));
        if thread.thread().id() != std::thread::current().id() {
            let _ = thread.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The endpoint thread's runtime: what actix's `System::new` builds, as a `Result`.
/// Messages as the publish buffer holds them.
fn payloads<P: Into<Payload>>(messages: Vec<(Topic, P)>) -> Vec<(Topic, Payload)> {
    messages.into_iter().map(|(t, d)| (t, d.into())).collect()
}

fn new_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A flare for a new `queue` ("subscriber", ...), or why there is none.
fn new_flare(queue: &'static str) -> Result<Flare, EndpointError> {
    Flare::new().map_err(|source| EndpointError::Descriptor { queue, source })
}
