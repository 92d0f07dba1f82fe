//! The core's side of reachability (the table itself is `reach.rs`): it feeds the table
//! peerings and the peers' `Reach` frames, sends each peer the changes meant for it,
//! keeps the reachable set `await_peer` waits on, and reports endpoints that become
//! reachable (`EndpointDiscovered`) or lose their last path (`EndpointUnreachable`).
//!
//! Changes go out at once when none went for an interval; after that they gather for
//! the interval, the latest per endpoint, and go as one frame per peer: a burst of
//! peerings (a thousand leaves joining a hub) costs each peer a frame per interval
//! instead of a frame per peering. The interval grows with the number of peers (10 ms,
//! and 100 µs per peer beyond 100), so that a flush, a frame to each peer, stays a small
//! share of the endpoint's thread however many peers there are.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use broker_wire::frame::{NodeId, Reach};

use super::{Core, PeerReach};
use crate::info::{EndpointInfo, LinkType};
use crate::reach::{Changes, Reachability};
use crate::status::{text, StatusCode, StatusEvent};

/// Most changes in one `Reach` frame: a whole table of a large mesh goes in frames far
/// below any frame limit (a change holds at most TTL + 1 ids of 16 bytes).
const CHANGES_PER_FRAME: usize = 1024;

/// How long changes gather after `Reach` frames went out, at least.
const REACH_INTERVAL: Duration = Duration::from_millis(10);

/// How much longer they gather per peer.
const REACH_INTERVAL_PER_PEER: Duration = Duration::from_micros(100);

/// The changes not sent yet, by peer: the latest path per endpoint (empty: withdrawn).
#[derive(Default)]
pub(super) struct ReachOutbox {
    pending: BTreeMap<NodeId, BTreeMap<NodeId, Vec<NodeId>>>,
    /// Whether a flush is scheduled: changes wait for it.
    gathering: bool,
}

impl Core {
    /// A new peer, speaking our protocol (`speaks`) or Broker's: it is reachable (at
    /// once for `await_peer`), and a speaker learns what we reach. Returns what to
    /// report, which the caller does after `PeerAdded`.
    pub(super) fn reach_peer(
        &mut self,
        node: NodeId,
        speaks: bool,
        ctx: &mut Context<Self>,
    ) -> Vec<Reachability> {
        let changes = self.reach.peer_added(node, speaks);
        self.send_reach(changes, ctx)
    }

    /// A peering ended: the paths through it go, and what was still to be sent to it.
    pub(super) fn unreach_peer(&mut self, node: NodeId, ctx: &mut Context<Self>) {
        self.reach_outbox.pending.remove(&node);
        let changes = self.reach.peer_removed(node);
        self.apply_reach(changes, ctx);
    }

    /// Takes a peer's `Reach` frame, if that connection is still the current one.
    pub(super) fn peer_reach(&mut self, msg: PeerReach, ctx: &mut Context<Self>) {
        if self.peers.get(&msg.node).is_none_or(|p| p.conn != msg.conn) {
            return;
        }
        let changes = self.reach.peer_reaches(msg.node, msg.changes);
        self.apply_reach(changes, ctx);
    }

    /// Sends each peer its changes, updates the reachable set, reports what came and
    /// went.
    fn apply_reach(&mut self, changes: Changes, ctx: &mut Context<Self>) {
        let reachability = self.send_reach(changes, ctx);
        self.report_reach(reachability);
    }

    /// Queues each peer's changes (sent at once unless gathering) and updates the
    /// reachable set; what came and went.
    fn send_reach(&mut self, changes: Changes, ctx: &mut Context<Self>) -> Vec<Reachability> {
        let Changes {
            reachability,
            updates,
        } = changes;
        for (peer, changes) in updates {
            let pending = self.reach_outbox.pending.entry(peer).or_default();
            pending.extend(changes.into_iter().map(|r| (r.node, r.path)));
        }
        if !self.reach_outbox.gathering {
            self.flush_reach(ctx);
        }
        if !reachability.is_empty() {
            self.shared.update_reachable(|reachable| {
                for change in &reachability {
                    match change {
                        Reachability::Discovered(node) => reachable.insert(*node),
                        Reachability::Unreachable(node) => reachable.remove(node),
                    };
                }
            });
        }
        reachability
    }

    /// Sends what gathered, one frame per peer (or a few, for very many changes), then
    /// gathers for an interval; stops gathering after an interval with nothing to send.
    fn flush_reach(&mut self, ctx: &mut Context<Self>) {
        let pending = std::mem::take(&mut self.reach_outbox.pending);
        self.reach_outbox.gathering = !pending.is_empty();
        if pending.is_empty() {
            return;
        }
        for (node, changes) in pending {
            let Some(peer) = self.peers.get(&node) else {
                continue;
            };
            let changes: Vec<Reach> = changes
                .into_iter()
                .map(|(node, path)| Reach { node, path })
                .collect();
            for chunk in changes.chunks(CHANGES_PER_FRAME) {
                if let Some(frame) = peer.link.encoding.reach(chunk) {
                    let _ = peer.link.outbox.push_unbounded(frame);
                }
            }
        }
        let peers = u32::try_from(self.peers.len()).unwrap_or(u32::MAX);
        let interval = REACH_INTERVAL.max(REACH_INTERVAL_PER_PEER.saturating_mul(peers));
        ctx.run_later(interval, |core, ctx| core.flush_reach(ctx));
    }

    /// Reports endpoints that came (`EndpointDiscovered`) and went
    /// (`EndpointUnreachable`), in order.
    pub(super) fn report_reach(&mut self, reachability: Vec<Reachability>) {
        for change in reachability {
            let (code, node, message) = match change {
                Reachability::Discovered(node) => {
                    (StatusCode::EndpointDiscovered, node, text::FOUND_NEW_PEER)
                }
                Reachability::Unreachable(node) => {
                    (StatusCode::EndpointUnreachable, node, text::LOST_LAST_PATH)
                }
            };
            let context = EndpointInfo {
                node,
                network: None,
                link: LinkType::Native,
            };
            self.emit(StatusEvent::status(code, Some(context), message));
        }
    }
}
