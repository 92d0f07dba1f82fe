//! How peerings end: unpeering, a closed connection, a peer cut loose by the slow-peer
//! policy; the statuses saying so (the peering, then the endpoints that lost their last
//! path), and the retry of an outbound target that was lost.

use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::NodeId;

use super::peering::PeerEntry;
use super::{Core, PeerClosed, Unpeer, FLUSH_TIMEOUT};
use crate::error::EndpointError;
use crate::info::{EndpointInfo, LinkType, NetworkInfo, UNKNOWN_NODE};
use crate::peer::{Close, CloseReason};
use crate::status::{text, ErrorCode, StatusCode, StatusEvent};

impl Core {
    /// Reports a peering that ended (`PeerLost` or `PeerRemoved`), then the endpoints
    /// it was the last path to (`EndpointUnreachable`), the peer itself among them unless
    /// another peer still reaches it.
    fn peer_gone(
        &mut self,
        code: StatusCode,
        context: EndpointInfo,
        message: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let node = context.node;
        self.emit(StatusEvent::status(code, Some(context), message));
        self.unreach_peer(node, ctx);
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

    /// The peer known under `address:port`, as given to `peer` or as connected.
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

    /// Stops an outbound target and closes its peering; whether there was either.
    pub(super) fn unpeer(&mut self, msg: Unpeer, ctx: &mut Context<Self>) -> bool {
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
                    link: LinkType::Native,
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
        self.peer_gone(
            StatusCode::PeerRemoved,
            entry.info(),
            text::REMOVED_CONNECTION,
            ctx,
        );
        entry.actor.do_send(Close {
            timeout: FLUSH_TIMEOUT,
        });
        true
    }

    /// Forgets a peer whose connection ended, with the statuses saying why.
    pub(super) fn peer_closed(&mut self, msg: PeerClosed, ctx: &mut Context<Self>) {
        if self.peers.get(&msg.node).is_none_or(|p| p.conn != msg.conn) {
            return; // Already removed by unpeer, a slow-peer disconnect or shutdown.
        }
        let Some(entry) = self.lose(msg.node, ctx) else {
            return;
        };
        let context = entry.info();
        match msg.reason {
            CloseReason::Closed => {}
            CloseReason::Invalid(why) => self.emit(StatusEvent::error(
                ErrorCode::PeerInvalid,
                Some(context.clone()),
                why,
            )),
            CloseReason::Timeout => self.emit(StatusEvent::error(
                ErrorCode::PeerTimeout,
                Some(context.clone()),
                "peer stopped responding",
            )),
        }
        self.peer_gone(StatusCode::PeerLost, context, text::LOST_CONNECTION, ctx);
    }

    /// Reports a peer that does not read; disconnects it unless messages are dropped.
    pub(super) fn slow_peer(&mut self, node: NodeId, dropped: bool, ctx: &mut Context<Self>) {
        let Some(peer) = self.peers.get(&node) else {
            return;
        };
        let context = peer.info();
        if dropped {
            let count = peer.link.dropped.load(std::sync::atomic::Ordering::Relaxed);
            let why = format!("peer is not reading: dropping messages for it ({count} so far)");
            self.emit(StatusEvent::error(
                ErrorCode::PeerTimeout,
                Some(context),
                why,
            ));
            return;
        }
        let entry = self.lose(node, ctx).expect("present above");
        // A reset, not a FIN stuck behind the data it does not read: the peer learns at
        // once that this connection is over, and welcomes our next attempt.
        entry.socket.reset_on_close();
        entry.actor.do_send(Close {
            timeout: Duration::ZERO,
        });
        self.emit(StatusEvent::error(
            ErrorCode::PeerTimeout,
            Some(context.clone()),
            "peer stopped reading: disconnected",
        ));
        self.peer_gone(StatusCode::PeerLost, context, text::LOST_CONNECTION, ctx);
    }
}
