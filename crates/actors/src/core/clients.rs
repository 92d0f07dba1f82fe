//! The core's WebSocket side: its servers, the connections attached to them (and,
//! later, those we open to WebSocket servers), their place in the routing snapshot,
//! their statuses and their end. A WebSocket connection is a peer to everyone else:
//! `PeerAdded`/`PeerLost` (the type is named in the message), its filter joins ours,
//! a slow one meets `Config::web_socket_overflow`.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use broker_wire::frame::NodeId;
use broker_wire::Topic;
use tokio::task::JoinHandle;

use super::{bind, Core};
use crate::error::EndpointError;
use crate::info::EndpointInfo;
use crate::peer::{sanitize, CloseReason};
use crate::routing::PeerRoute;
use crate::status::{ErrorCode, StatusCode, StatusEvent};
use crate::websocket::{serve, Session, PEER_TYPE};

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
}

struct Client {
    session: Session,
    filter: Arc<Vec<Topic>>,
}

impl Client {
    fn info(&self) -> EndpointInfo {
        EndpointInfo {
            node: self.session.node,
            network: Some(self.session.network.clone()),
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
        };
        let info = client.info();
        self.web_sockets.table.insert(info.node, client);
        self.rebuild_routes();
        // Before the session reads anything: PeerAdded precedes the client's data.
        self.emit(StatusEvent::status(StatusCode::PeerAdded, Some(info), ADDED));
        true
    }

    /// Stops routing to a connection and closes its outbox: its writer flushes it and
    /// closes the connection.
    fn forget_client(&mut self, node: &NodeId) -> Option<Client> {
        let client = self.web_sockets.table.remove(node)?;
        client.session.link.outbox.close();
        self.rebuild_routes();
        Some(client)
    }

    fn client_closed(&mut self, msg: ClientClosed) {
        let Some(client) = self.forget_client(&msg.node) else {
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
    pub(super) fn slow_client(&mut self, node: NodeId, dropped: bool) {
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
        let client = self.forget_client(&node).expect("present above");
        let _ = client.session.kill.send(true);
        self.emit(StatusEvent::error(
            ErrorCode::PeerTimeout,
            context.clone(),
            format!("{PEER_TYPE} peer stopped reading: disconnected"),
        ));
        self.emit(StatusEvent::status(StatusCode::PeerLost, context, LOST));
    }

    /// Shutdown, first step: stops the servers.
    pub(super) fn stop_web_socket_servers(&mut self) {
        for server in self.web_sockets.servers.drain(..) {
            server.abort();
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

    fn handle(&mut self, msg: ClientClosed, _: &mut Context<Self>) {
        self.client_closed(msg);
    }
}
