//! The core's side of reachability (the table itself is `reach.rs`): it feeds the table
//! peerings and the peers' `Reach` frames, sends each peer the changes meant for it,
//! keeps the reachable set `await_peer` waits on, and reports endpoints that become
//! reachable (`EndpointDiscovered`) or lose their last path (`EndpointUnreachable`).

use broker_wire::frame::NodeId;

use super::{Core, PeerReach};
use crate::info::EndpointInfo;
use crate::reach::{Changes, Reachability};
use crate::status::{text, StatusCode, StatusEvent};

/// Most changes in one `Reach` frame: a whole table of a large mesh goes in frames far
/// below any frame limit (a change holds at most TTL + 1 ids of 16 bytes).
const CHANGES_PER_FRAME: usize = 1024;

impl Core {
    /// A new peer, speaking our protocol (`speaks`) or Broker's: it is reachable (at
    /// once for `await_peer`), and a speaker learns what we reach. Returns what to
    /// report, which the caller does after `PeerAdded`.
    pub(super) fn reach_peer(&mut self, node: NodeId, speaks: bool) -> Vec<Reachability> {
        let changes = self.reach.peer_added(node, speaks);
        self.send_reach(changes)
    }

    /// A peering ended: the paths through it go.
    pub(super) fn unreach_peer(&mut self, node: NodeId) {
        let changes = self.reach.peer_removed(node);
        self.apply_reach(changes);
    }

    /// Takes a peer's `Reach` frame, if that connection is still the current one.
    pub(super) fn peer_reach(&mut self, msg: PeerReach) {
        if self.peers.get(&msg.node).is_none_or(|p| p.conn != msg.conn) {
            return;
        }
        let changes = self.reach.peer_reaches(msg.node, msg.changes);
        self.apply_reach(changes);
    }

    /// Sends each peer its changes, updates the reachable set, reports what came and
    /// went.
    fn apply_reach(&mut self, changes: Changes) {
        let reachability = self.send_reach(changes);
        self.report_reach(reachability);
    }

    /// Sends each peer its changes and updates the reachable set; what came and went.
    fn send_reach(&mut self, changes: Changes) -> Vec<Reachability> {
        let Changes {
            reachability,
            updates,
        } = changes;
        for (node, changes) in updates {
            let Some(peer) = self.peers.get(&node) else {
                continue;
            };
            for chunk in changes.chunks(CHANGES_PER_FRAME) {
                if let Some(frame) = peer.link.encoding.reach(chunk) {
                    let _ = peer.link.outbox.push_unbounded(frame);
                }
            }
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
            };
            self.emit(StatusEvent::status(code, Some(context), message));
        }
    }
}
