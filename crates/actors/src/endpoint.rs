//! The endpoint handle: the API embedders use. Blocking calls work from any plain
//! thread; async variants serve async callers. The actors run on a thread the
//! endpoint owns, so no caller needs a runtime.
//!
//! Blocking calls must not be made from the endpoint's own thread (from inside an
//! actor): they would wait on the thread that has to answer them.

mod metrics;
mod queues;
mod stores;
mod waits;

pub use stores::PendingClone;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix::{Actor, Addr, Handler, Message};
use actix_rt::{Arbiter, ArbiterHandle};
use broker_wire::frame::NodeId;
use broker_wire::{Payload, Topic};
use futures::channel::oneshot;

use crate::config::Config;
use crate::core::{
    AddPublisher, Core, Forward, GetPeerSubscriptions, GetPeers, Listen, PeerWith, Shutdown,
    Unpeer, WebSocketListen, WebSocketPeer, WebSocketUnpeer,
};
use crate::error::EndpointError;
use crate::info::PeerInfo;
use crate::publish_buffer::PublishBuffer;
use crate::queue::PushError;
use crate::reports::Reporter;
use crate::routing::Shared;
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
    /// The endpoint's thread, taken by the first shutdown, and what tells when it is
    /// about to end (its sender dropped), so that a shutdown can await that.
    thread: Mutex<Option<(JoinHandle<()>, oneshot::Receiver<()>)>>,
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
        let (ending, ended) = oneshot::channel::<()>();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("broker-endpoint".into())
            .spawn(move || {
                // Dropped last, however the thread ends: its runtime is gone by then.
                let _ending = ending;
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
            thread: Mutex::new(Some((thread, ended))),
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
        futures::executor::block_on(self.ask(msg))
    }

    /// Async [`Endpoint::call`].
    pub(crate) async fn ask<M>(&self, msg: M) -> Result<M::Result, EndpointError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Core: Handler<M>,
    {
        self.inner
            .core
            .send(msg)
            .await
            .map_err(|_| EndpointError::ShutDown)
    }

    /// Listens on `address` (`""` = all interfaces) and `port` (0 = any); returns the
    /// bound port.
    pub fn listen(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        futures::executor::block_on(self.listen_async(address, port))
    }

    /// Async [`Endpoint::listen`].
    pub async fn listen_async(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        self.ask(Listen {
            address: address.to_owned(),
            port,
        })
        .await?
    }

    /// Listens for WebSocket clients (Zeek's WebSocket API, JSON v1, on
    /// `/v1/messages/json`) on `address` (`""` = all interfaces) and `port` (0 = any),
    /// with TLS as peerings have it (none with `disable_ssl`); returns the bound port.
    /// Each client is a peer with an id of its own (see docs/websocket.md).
    pub fn web_socket_listen(&self, address: &str, port: u16) -> Result<u16, EndpointError> {
        futures::executor::block_on(self.web_socket_listen_async(address, port))
    }

    /// Async [`Endpoint::web_socket_listen`].
    pub async fn web_socket_listen_async(
        &self,
        address: &str,
        port: u16,
    ) -> Result<u16, EndpointError> {
        self.ask(WebSocketListen {
            address: address.to_owned(),
            port,
        })
        .await?
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
        futures::executor::block_on(self.web_socket_peer_async(url, topics, send, retry))
    }

    /// Async [`Endpoint::web_socket_peer`].
    pub async fn web_socket_peer_async(
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
        outcome.await.map_err(|_| EndpointError::ShutDown)?
    }

    /// Stops connecting to the WebSocket server at `url` and closes the connection;
    /// whether there was either.
    pub fn web_socket_unpeer(&self, url: &str) -> bool {
        futures::executor::block_on(self.web_socket_unpeer_async(url))
    }

    /// Async [`Endpoint::web_socket_unpeer`].
    pub async fn web_socket_unpeer_async(&self, url: &str) -> bool {
        let unpeer = WebSocketUnpeer {
            url: url.to_owned(),
        };
        self.ask(unpeer).await.unwrap_or(false)
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

    /// Async [`Endpoint::peer_subscriptions`].
    pub async fn peer_subscriptions_async(&self) -> Vec<Topic> {
        self.ask(GetPeerSubscriptions).await.unwrap_or_default()
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
    /// one lock per buffer-full; a small batch after a quiet spell, with nothing
    /// buffered, is sent on this thread, as one frame per peer.
    pub fn publish_batch<P: Into<Payload>>(&self, messages: Vec<(Topic, P)>) {
        let inner = &self.inner;
        // Closed only by shutdown, when nothing is delivered any more.
        let _ = inner
            .mailbox
            .publish_many(&inner.shared, payloads(messages));
    }

    /// Async [`Endpoint::publish_batch`]: waits instead of blocking.
    pub async fn publish_batch_async<P: Into<Payload>>(&self, messages: Vec<(Topic, P)>) {
        let inner = &self.inner;
        let _ = inner
            .mailbox
            .publish_many_async(&inner.shared, payloads(messages))
            .await;
    }

    /// Flushes everything published so far to the connected peers, closes every
    /// peering and stops the endpoint's thread. Idempotent; later calls do nothing.
    pub fn shutdown(&self) {
        futures::executor::block_on(self.inner.shutdown());
    }

    /// Async [`Endpoint::shutdown`]. A caller that stops waiting leaves the shutdown to
    /// go on, on the endpoint's thread.
    pub async fn shutdown_async(&self) {
        self.inner.shutdown().await;
    }
}

impl Inner {
    async fn shutdown(&self) {
        let taken = self.thread.lock().expect("thread lock poisoned").take();
        let Some((thread, ended)) = taken else {
            return;
        };
        // Sent whoever waits: the Core stops the endpoint's thread once it has flushed.
        self.core.do_send(Shutdown);
        if thread.thread().id() != std::thread::current().id() {
            // Only dropped, never sent: the thread is ending.
            let _ = ended.await;
            let _ = thread.join();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        futures::executor::block_on(self.shutdown());
    }
}

/// Messages as the publish buffer holds them.
fn payloads<P: Into<Payload>>(messages: Vec<(Topic, P)>) -> Vec<(Topic, Payload)> {
    messages.into_iter().map(|(t, d)| (t, d.into())).collect()
}

/// The endpoint thread's runtime: what actix's `System::new` builds, as a `Result`.
fn new_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
