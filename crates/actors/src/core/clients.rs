//! The core's WebSocket side: its servers, the connections attached to them and
//! those we open to WebSocket servers (with their retries), their place in the
//! routing snapshot, their statuses and their end. A WebSocket connection is a peer to everyone else:
//! `PeerAdded`/`PeerLost` (the type is named in the message), its filter joins ours,
//! a slow one meets `Config::web_socket_overflow`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::NodeId;
use broker_wire::Topic;
use tokio::task::JoinHandle;

use super::{bind, Core, PeerReply};
use crate::error::EndpointError;
use crate::info::{EndpointInfo, LinkType};
use crate::peer::{sanitize, CloseReason};
use crate::routing::PeerRoute;
use crate::status::{ErrorCode, StatusCode, StatusEvent};
use crate::websocket::{open, serve, session, OpenError, Session, PEER_TYPE};

/// Listen for WebSocket clients; answers the bound port.
#[derive(Message)]
#[rtype(result = "Result<u16, EndpointError>")]
pub(crate) struct WebSocketListen {
    pub(crate) address: String,
    pub(crate) port: u16,
}

/// A WebSocket connection completed its handshake; answers whether it is taken (not
/// when shutting down).
#[derive(Message)]
#[rtype(result = "bool")]
pub(crate) struct AttachClient {
    pub(crate) session: Session,
    /// The URL, for connections we opened.
    pub(crate) target: Option<String>,
}

/// Connect to the WebSocket server at `url`, subscribing to `topics` there and
/// sending it what matches `send`; retry every `retry` if set. `reply` learns the
/// outcome of the first attempt.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WebSocketPeer {
    pub(crate) url: String,
    pub(crate) topics: Vec<Topic>,
    pub(crate) send: Vec<Topic>,
    pub(crate) retry: Option<Duration>,
    pub(crate) reply: Option<PeerReply>,
}

/// Stop connecting to `url` and close the connection; answers whether there was
/// either.
#[derive(Message)]
#[rtype(result = "bool")]
pub(crate) struct WebSocketUnpeer {
    pub(crate) url: String,
}

/// A WebSocket connection's reader stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ClientClosed {
    pub(crate) node: NodeId,
    pub(crate) reason: CloseReason,
}

/// The WebSocket servers and connections of an endpoint.
#[derive(Default)]
pub(super) struct Clients {
    table: HashMap<NodeId, Client>,
    servers: Vec<JoinHandle<()>>,
    /// The servers we keep connected to, by URL.
    targets: HashMap<String, Target>,
}

struct Client {
    session: Session,
    filter: Arc<Vec<Topic>>,
    /// The URL, for connections we opened.
    target: Option<String>,
}

/// A WebSocket server we keep connected to.
struct Target {
    topics: Vec<Topic>,
    send: Vec<Topic>,
    retry: Option<Duration>,
    waiters: Vec<PeerReply>,
    node: Option<NodeId>,
    connecting: bool,
}

impl Client {
    fn info(&self) -> EndpointInfo {
        EndpointInfo {
            node: self.session.node,
            network: Some(self.session.network.clone()),
            link: LinkType::WebSocket,
        }
    }
}

impl Clients {
    /// The connections as routing sees them.
    pub(super) fn routes(&self) -> Vec<PeerRoute> {
        self.table
            .values()
            .map(|c| PeerRoute {
                filter: c.filter.clone(),
                link: c.session.link.clone(),
            })
            .collect()
    }

    /// The topics the connections want from us.
    pub(super) fn topics(&self) -> impl Iterator<Item = &Topic> {
        self.table.values().flat_map(|c| c.filter.iter())
    }

    /// Whether `node` is one of the connections.
    pub(super) fn has(&self, node: &NodeId) -> bool {
        self.table.contains_key(node)
    }
}

/// Status texts: Broker's, naming the type.
const ADDED: &str = "handshake successful (web-socket)";
const LOST: &str = "lost connection to remote peer (web-socket)";
const REMOVED: &str = "removed connection to remote peer (web-socket)";

impl Core {
    fn web_socket_listen(
        &mut self,
        msg: WebSocketListen,
        ctx: &mut Context<Self>,
    ) -> Result<u16, EndpointError> {
        let (socket, port) = bind(&msg.address, msg.port)?;
        let server = actix::spawn(serve(self.shared.clone(), ctx.address(), socket));
        self.web_sockets.servers.push(server);
        Ok(port)
    }

    fn attach_client(&mut self, msg: AttachClient) -> bool {
        if self.shutting_down {
            return false;
        }
        let session = msg.session;
        let client = Client {
            filter: Arc::new(sanitize(session.filter.clone())),
            session,
            target: msg.target,
        };
        let info = client.info();
        let waiters = match client
            .target
            .as_ref()
            .and_then(|url| self.web_sockets.targets.get_mut(url))
        {
            Some(target) => {
                target.connecting = false;
                target.node = Some(info.node);
                std::mem::take(&mut target.waiters)
            }
            None => Vec::new(),
        };
        self.web_sockets.table.insert(info.node, client);
        self.rebuild_routes();
        // Answered once the snapshot holds the connection: a publish right after
        // `web_socket_peer` returns reaches the server.
        for waiter in waiters {
            let _ = waiter.send(Ok(()));
        }
        // Before the session reads anything: PeerAdded precedes the client's data.
        self.emit(StatusEvent::status(
            StatusCode::PeerAdded,
            Some(info),
            ADDED,
        ));
        true
    }

    /// Stops routing to a connection and closes its outbox: its writer flushes it and
    /// closes the connection.
    /// A lost connection we opened is retried if asked to.
    fn forget_client(&mut self, node: &NodeId, ctx: &mut Context<Self>) -> Option<Client> {
        let client = self.web_sockets.table.remove(node)?;
        client.session.link.outbox.close();
        self.rebuild_routes();
        if let Some(url) = &client.target {
            if let Some(target) = self.web_sockets.targets.get_mut(url) {
                target.node = None;
            }
            self.retry_web_socket_later(url.clone(), ctx);
        }
        Some(client)
    }

    fn client_closed(&mut self, msg: ClientClosed, ctx: &mut Context<Self>) {
        let Some(client) = self.forget_client(&msg.node, ctx) else {
            return; // Already dropped as a slow client, or shutting down.
        };
        let context = Some(client.info());
        if let CloseReason::Invalid(why) = msg.reason {
            self.emit(StatusEvent::error(
                ErrorCode::PeerInvalid,
                context.clone(),
                why,
            ));
        }
        self.emit(StatusEvent::status(StatusCode::PeerLost, context, LOST));
    }

    /// Reports a connection that does not read; disconnects it unless messages are
    /// dropped (Broker: `disconnect` closes the socket without a word).
    pub(super) fn slow_client(&mut self, node: NodeId, dropped: bool, ctx: &mut Context<Self>) {
        let Some(client) = self.web_sockets.table.get(&node) else {
            return;
        };
        let context = Some(client.info());
        if dropped {
            let count = client
                .session
                .link
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed);
            let why = format!(
                "{PEER_TYPE} peer is not reading: dropping messages for it ({count} so far)"
            );
            self.emit(StatusEvent::error(ErrorCode::PeerTimeout, context, why));
            return;
        }
        let client = self.forget_client(&node, ctx).expect("present above");
        let _ = client.session.kill.send(true);
        self.emit(StatusEvent::error(
            ErrorCode::PeerTimeout,
            context.clone(),
            format!("{PEER_TYPE} peer stopped reading: disconnected"),
        ));
        self.emit(StatusEvent::status(StatusCode::PeerLost, context, LOST));
    }

    /// Records (or updates) a server to connect to and attempts it unless connected.
    fn web_socket_peer(&mut self, msg: WebSocketPeer, ctx: &mut Context<Self>) {
        if self.shutting_down {
            if let Some(reply) = msg.reply {
                let _ = reply.send(Err(EndpointError::ShutDown));
            }
            return;
        }
        let target = self
            .web_sockets
            .targets
            .entry(msg.url.clone())
            .or_insert(Target {
                topics: Vec::new(),
                send: Vec::new(),
                retry: None,
                waiters: Vec::new(),
                node: None,
                connecting: false,
            });
        target.topics = msg.topics;
        target.send = msg.send;
        target.retry = msg.retry;
        if target.node.is_some() {
            if let Some(reply) = msg.reply {
                let _ = reply.send(Ok(()));
            }
            return;
        }
        target.waiters.extend(msg.reply);
        self.attempt_web_socket(msg.url, ctx);
    }

    /// Connects to a server, unless already connecting or shutting down; the session
    /// attaches itself once the server acknowledged our subscriptions.
    fn attempt_web_socket(&mut self, url: String, ctx: &mut Context<Self>) {
        let Some(target) = self.web_sockets.targets.get_mut(&url) else {
            return;
        };
        if target.connecting || target.node.is_some() || self.shutting_down {
            return;
        }
        target.connecting = true;
        let (topics, send) = (target.topics.clone(), target.send.clone());
        let shared = self.shared.clone();
        let opening = {
            let (shared, url) = (shared.clone(), url.clone());
            async move { open(&shared, &url, &topics).await }
        };
        ctx.spawn(
            opening
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok((socket, network)) => {
                        let core = ctx.address();
                        actix::spawn(session::run(
                            shared,
                            core,
                            socket,
                            send,
                            network,
                            None,
                            Some(url),
                        ));
                    }
                    Err(error) => act.web_socket_failed(url, error, ctx),
                }),
        );
    }

    /// Reports a failed attempt, answers its waiters, retries if asked to.
    fn web_socket_failed(&mut self, url: String, error: OpenError, ctx: &mut Context<Self>) {
        let reason = error.to_string();
        self.emit(StatusEvent::error(
            ErrorCode::PeerUnavailable,
            None,
            format!("unable to connect to {PEER_TYPE} server {url}: {reason}"),
        ));
        let Some(target) = self.web_sockets.targets.get_mut(&url) else {
            return;
        };
        target.connecting = false;
        for waiter in target.waiters.drain(..) {
            let _ = waiter.send(Err(EndpointError::WebSocketUnavailable {
                url: url.clone(),
                reason: reason.clone(),
            }));
        }
        self.retry_web_socket_later(url, ctx);
    }

    /// Schedules another attempt for a server with a retry interval; forgets it
    /// otherwise.
    fn retry_web_socket_later(&mut self, url: String, ctx: &mut Context<Self>) {
        match self.web_sockets.targets.get(&url).and_then(|t| t.retry) {
            Some(retry) if !retry.is_zero() && !self.shutting_down => {
                ctx.run_later(retry, move |act, ctx| act.attempt_web_socket(url, ctx));
            }
            _ => {
                self.web_sockets.targets.remove(&url);
            }
        }
    }

    /// Stops connecting to a server and closes the connection; whether there was
    /// either.
    fn web_socket_unpeer(&mut self, url: &str) -> bool {
        let Some(target) = self.web_sockets.targets.remove(url) else {
            return false;
        };
        for waiter in target.waiters {
            let _ = waiter.send(Err(EndpointError::WebSocketUnavailable {
                url: url.to_owned(),
                reason: "cancelled".to_owned(),
            }));
        }
        let connected = target
            .node
            .and_then(|node| self.web_sockets.table.remove(&node));
        if let Some(client) = connected {
            client.session.link.outbox.close();
            self.rebuild_routes();
            self.emit(StatusEvent::status(
                StatusCode::PeerRemoved,
                Some(client.info()),
                REMOVED,
            ));
        }
        true
    }

    /// Shutdown, first step: stops the servers and the attempts to connect.
    pub(super) fn stop_web_socket_servers(&mut self) {
        for server in self.web_sockets.servers.drain(..) {
            server.abort();
        }
        for target in self.web_sockets.targets.drain().map(|(_, t)| t) {
            for waiter in target.waiters {
                let _ = waiter.send(Err(EndpointError::ShutDown));
            }
        }
    }

    /// Shutdown, last step: closes every connection after flushing what was queued
    /// for it, by `deadline` at the latest.
    pub(super) fn close_clients(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> impl std::future::Future<Output = ()> {
        let clients: Vec<Client> = self.web_sockets.table.drain().map(|(_, c)| c).collect();
        for client in &clients {
            client.session.link.outbox.close();
        }
        async move {
            let flushed = futures::future::join_all(clients.iter().map(|c| {
                let mut written = c.session.written.clone();
                async move {
                    let _ = written.wait_for(|w| *w).await;
                }
            }));
            let _ = tokio::time::timeout_at(deadline, flushed).await;
            for client in clients {
                let _ = client.session.kill.send(true);
            }
        }
    }
}

impl Handler<WebSocketListen> for Core {
    type Result = Result<u16, EndpointError>;

    fn handle(&mut self, msg: WebSocketListen, ctx: &mut Context<Self>) -> Self::Result {
        self.web_socket_listen(msg, ctx)
    }
}

impl Handler<AttachClient> for Core {
    type Result = bool;

    fn handle(&mut self, msg: AttachClient, _: &mut Context<Self>) -> bool {
        self.attach_client(msg)
    }
}

impl Handler<ClientClosed> for Core {
    type Result = ();

    fn handle(&mut self, msg: ClientClosed, ctx: &mut Context<Self>) {
        self.client_closed(msg, ctx);
    }
}

impl Handler<WebSocketPeer> for Core {
    type Result = ();

    fn handle(&mut self, msg: WebSocketPeer, ctx: &mut Context<Self>) {
        self.web_socket_peer(msg, ctx);
    }
}

impl Handler<WebSocketUnpeer> for Core {
    type Result = bool;

    fn handle(&mut self, msg: WebSocketUnpeer, _: &mut Context<Self>) -> bool {
        self.web_socket_unpeer(&msg.url)
    }
}
