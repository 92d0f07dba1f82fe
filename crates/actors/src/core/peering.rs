//! The core's peerings as they start: outbound targets and their attempts and retries,
//! handshakes that succeeded or failed, and the peer table queries. How they end is in
//! `departures`.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::{Hello, NodeId};
use broker_wire::native::{EndpointId, BROKER_RS_VERSION, PROTOCOL_VERSION};
use broker_wire::Topic;

use super::{Core, HandshakeFailed, Handshaken, PeerClosed, PeerFilter, PeerReply, PeerWith};
use crate::connection::{
    connect, ConnectError, Established, Opening, PeerSlot, Peerings, Remote, TcpSocket,
};
use crate::error::EndpointError;
use crate::info::{
    EndpointInfo, LinkType, NetworkInfo, PeerFlags, PeerInfo, PeerStatus, UNKNOWN_NODE,
};
use crate::link::{Link, BATCH, NATIVE};
use crate::listener::worth_reporting;
use crate::peer::{sanitize, Close, CloseReason, Peer};
use crate::routing::Shared;
use crate::status::{text, ErrorCode, StatusCode, StatusEvent};

/// An established peering.
pub(super) struct PeerEntry {
    pub(super) actor: Addr<Peer>,
    pub(super) link: Arc<Link>,
    pub(super) conn: u64,
    pub(super) filter: Arc<Vec<Topic>>,
    pub(super) network: NetworkInfo,
    /// The `peer` target, for peerings we initiated.
    pub(super) outbound: Option<(String, u16)>,
    /// The connection's TCP socket, to reset it or ask whether it is still up.
    pub(super) socket: TcpSocket,
    /// The peer's reservation: released when the entry goes.
    _slot: PeerSlot,
}

impl PeerEntry {
    pub(super) fn info(&self) -> EndpointInfo {
        EndpointInfo {
            node: self.link.node,
            network: Some(self.network.clone()),
            link: LinkType::Native,
        }
    }
}

/// A `peer` target we keep connected.
pub(super) struct Outbound {
    retry: Option<Duration>,
    /// `peer` callers waiting for the first attempt's outcome.
    pub(super) waiters: Vec<PeerReply>,
    /// The peer it is connected to, if it is.
    pub(super) node: Option<NodeId>,
    connecting: bool,
}

/// What opening a connection needs now: our `Hello` with the current filter, the
/// reserved peers, TLS, limits.
pub(crate) fn opening(shared: &Shared, peerings: &Arc<Peerings>) -> Opening {
    Opening {
        hello: Hello::new(shared.node, shared.routes().local_filter.to_vec()),
        peerings: peerings.clone(),
        tls: shared.tls.clone(),
        max_frame_len: shared.config.max_frame_len,
        timeout: shared.config.handshake_timeout,
        max_version: if shared.config.native_only {
            PROTOCOL_VERSION
        } else {
            BROKER_RS_VERSION
        },
    }
}

impl Core {
    /// Records (or updates) an outbound target and attempts it unless already peered.
    pub(super) fn peer_with(&mut self, msg: PeerWith, ctx: &mut Context<Self>) {
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

    /// Connects to an outbound target, unless already connecting or shutting down.
    fn attempt(&mut self, key: (String, u16), ctx: &mut Context<Self>) {
        let Some(target) = self.outbound.get_mut(&key) else {
            return;
        };
        if target.connecting || self.shutting_down {
            return;
        }
        target.connecting = true;
        let opening = opening(&self.shared, &self.peerings);
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

    /// Takes a finished handshake into the peer table, unless it duplicates a peering.
    pub(super) fn established(&mut self, msg: Handshaken, ctx: &mut Context<Self>) {
        let Handshaken {
            established,
            sent_filter,
            outbound,
        } = msg;
        let node = established.remote.node();
        // `peer` returns only once the routing snapshot holds the peer with its
        // filter, so a publish right after it reaches the peer: the waiters are
        // answered last.
        let mut waiters = Vec::new();
        if let Some(key) = &outbound {
            if let Some(target) = self.outbound.get_mut(key) {
                target.connecting = false;
                target.node = Some(node);
                waiters = std::mem::take(&mut target.waiters);
            }
        }
        // Targets whose own connection was dropped as redundant to this one.
        for target in self.outbound.values_mut() {
            if !target.connecting && target.node == Some(node) {
                waiters.append(&mut target.waiters);
            }
        }
        let answer = |waiters: Vec<PeerReply>| {
            for waiter in waiters {
                let _ = waiter.send(Ok(()));
            }
        };
        // The handshake reserved the peer, so it is new; unless we are shutting down.
        if self.shutting_down || self.peers.contains_key(&node) {
            answer(waiters);
            return;
        }
        let Established {
            reader,
            writer,
            remote,
            slot,
            network,
            socket,
        } = established;
        slot.peered();
        let native = matches!(remote, Remote::Native { .. });
        self.next_conn += 1;
        let conn = self.next_conn;
        let config = &self.shared.config;
        let link = Arc::new(Link::new(
            node,
            if native { &NATIVE } else { &BATCH },
            config.peer_buffer,
            config.slow_peer,
            self.shared.reporter.clone(),
        ));
        let current = self.shared.routes().local_filter.clone();
        if *current != sent_filter {
            if let Some(frame) = link.encoding.filter(self.shared.node, node, &current) {
                let _ = link.outbox.push_unbounded(frame);
            }
        }
        link.writer.install(writer);
        let peer = Peer::new(
            self.shared.clone(),
            ctx.address(),
            conn,
            link.clone(),
            reader,
            native,
        );
        let entry = PeerEntry {
            actor: peer.start(),
            link,
            conn,
            filter: Arc::new(sanitize(remote.into_filter())),
            network,
            outbound,
            socket,
            _slot: slot,
        };
        let info = entry.info();
        self.peers.insert(node, entry);
        self.rebuild_routes();
        let reachability = self.reach_peer(node, !native, ctx);
        answer(waiters);
        // Before the peer actor reads anything: PeerAdded precedes the peer's data.
        self.emit(StatusEvent::status(
            StatusCode::PeerAdded,
            Some(info),
            text::HANDSHAKE_SUCCESSFUL,
        ));
        // Today's Broker sends EndpointDiscovered first; after PeerAdded, a script that
        // takes its first status as the peering's outcome (Broker's own ping example,
        // written for 1.4) keeps working. A peer already reached through others is no
        // new endpoint: no EndpointDiscovered then.
        self.report_reach(reachability);
    }

    /// Reports a failed attempt, answers its waiters, retries if asked to.
    pub(super) fn failed(&mut self, msg: HandshakeFailed, ctx: &mut Context<Self>) {
        let HandshakeFailed {
            network,
            outbound,
            error,
        } = msg;
        if let ConnectError::Redundant(peer) = error {
            self.redundant(peer, outbound, ctx);
            return;
        }
        let context = Some(EndpointInfo {
            node: UNKNOWN_NODE,
            network: Some(network.clone()),
            link: LinkType::Native,
        });
        let (code, message) = match &error {
            ConnectError::Unreachable(_) | ConnectError::Timeout => (
                ErrorCode::PeerUnavailable,
                text::UNABLE_TO_CONNECT.to_owned(),
            ),
            ConnectError::Incompatible(why) => (ErrorCode::PeerIncompatible, why.clone()),
            ConnectError::Invalid(why) => (ErrorCode::PeerInvalid, why.to_string()),
            ConnectError::Tls(crate::tls::TlsError::Closed(_)) => (
                ErrorCode::PeerUnavailable,
                text::UNABLE_TO_CONNECT.to_owned(),
            ),
            ConnectError::Handshake(why) => (ErrorCode::PeerInvalid, why.to_string()),
            ConnectError::Refused(_) | ConnectError::Redundant(_) => {
                (ErrorCode::PeerUnavailable, error.to_string())
            }
            ConnectError::Tls(why) => (ErrorCode::PeerInvalid, why.to_string()),
        };
        let event = StatusEvent::error(code, context, message);
        if outbound.is_some() {
            self.emit(event);
        } else if worth_reporting(&error) {
            self.inbound_failed(code, event, ctx);
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

    /// An outbound connection turned out redundant: the peer is (being) peered over
    /// another connection, which the target now follows. Its waiters are answered when
    /// that peering exists, at once if it does already.
    /// If that other handshake fails instead, the target is retried (or given up)
    /// after the handshake timeout.
    fn redundant(
        &mut self,
        peer: EndpointId,
        outbound: Option<(String, u16)>,
        ctx: &mut Context<Self>,
    ) {
        let Some(key) = outbound else {
            self.redialled(peer, ctx);
            return;
        };
        let Some(target) = self.outbound.get_mut(&key) else {
            return;
        };
        target.connecting = false;
        target.node = Some(peer);
        if self.peers.contains_key(&peer) {
            for waiter in target.waiters.drain(..) {
                let _ = waiter.send(Ok(()));
            }
            return;
        }
        let timeout = self.shared.config.handshake_timeout;
        ctx.run_later(timeout, move |act, ctx| {
            let peered = act.peers.contains_key(&peer);
            let Some(target) = act.outbound.get_mut(&key).filter(|_| !peered) else {
                return;
            };
            target.node = None;
            for waiter in target.waiters.drain(..) {
                let _ = waiter.send(Err(EndpointError::PeerUnavailable {
                    address: key.0.clone(),
                    port: key.1,
                    reason: "the redundant connection's peering did not come".into(),
                }));
            }
            act.retry_later(key, ctx);
        });
    }

    /// A peer we hold an inbound peering with dialled us again, and was refused as
    /// redundant. If the kernel says that peering's connection is no longer up (the peer
    /// reset it, e.g. cutting us loose as a slow reader), the peering is dead although
    /// its reader has not seen it yet (parked behind a full subscriber): it goes now, so
    /// the peer's next attempt is welcome.
    fn redialled(&mut self, peer: EndpointId, ctx: &mut Context<Self>) {
        let Some(entry) = self.peers.get(&peer) else {
            return;
        };
        if entry.outbound.is_some() || entry.socket.established() {
            return;
        }
        let (conn, actor) = (entry.conn, entry.actor.clone());
        self.peer_closed(
            PeerClosed {
                node: peer,
                conn,
                reason: CloseReason::Closed,
            },
            ctx,
        );
        actor.do_send(Close {
            timeout: Duration::ZERO,
        });
    }

    /// Schedules another attempt for an outbound peering that has a retry interval;
    /// forgets it otherwise.
    pub(super) fn retry_later(&mut self, key: (String, u16), ctx: &mut Context<Self>) {
        match self.outbound.get(&key).and_then(|t| t.retry) {
            Some(retry) if !retry.is_zero() && !self.shutting_down => {
                ctx.run_later(retry, move |act, ctx| act.attempt(key, ctx));
            }
            _ => {
                self.outbound.remove(&key);
            }
        }
    }

    /// The peerings, then the outbound targets not connected yet.
    pub(super) fn peer_infos(&self) -> Vec<PeerInfo> {
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
                        link: LinkType::Native,
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

    /// The union of the peers' filters.
    pub(super) fn peer_subscriptions(&self) -> Vec<Topic> {
        sanitize(
            self.peers
                .values()
                .flat_map(|p| p.filter.iter().cloned())
                .collect(),
        )
    }

    /// Installs a peer's new filter, if that connection is still the current one.
    pub(super) fn peer_filter(&mut self, msg: PeerFilter) {
        let Some(peer) = self.peers.get_mut(&msg.node).filter(|p| p.conn == msg.conn) else {
            return;
        };
        peer.filter = Arc::new(msg.filter);
        self.rebuild_routes();
    }

    /// Forgets every outbound target; callers still waiting learn of the shutdown.
    pub(super) fn cancel_outbound(&mut self) {
        for target in self.outbound.drain().map(|(_, t)| t) {
            for waiter in target.waiters {
                let _ = waiter.send(Err(EndpointError::ShutDown));
            }
        }
    }
}
