//! Liveness of peerings: one endpoint-wide tick every `keepalive` probes the peers that
//! were silent for a whole interval and drops those silent for three. Any frame counts
//! as hearing from a peer, so a busy peering costs nothing, and of two idle peers only
//! the one whose tick comes first pings (the other hears that ping): one probe and its
//! answer per idle peering and interval, where a timer per peer pinged from both ends.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use super::{Core, PeerClosed};
use crate::peer::{Close, CloseReason};

/// A peer silent for this many keepalive intervals is lost (noticed at the next tick).
const SILENT_INTERVALS: u32 = 3;

impl Core {
    /// The keepalive tick: probes peers silent for an interval, drops those silent for
    /// [`SILENT_INTERVALS`] (`PeerTimeout`, then `PeerLost`).
    pub(super) fn keepalive(&mut self, ctx: &mut Context<Self>) {
        let interval = self.shared.config.keepalive;
        let now = Instant::now();
        // The wall clock in milliseconds: a nonce that would also time the round trip.
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let mut silent = Vec::new();
        for (node, peer) in &self.peers {
            let Some(quiet) = peer.link.liveness.silence(now) else {
                continue; // handling a frame: heard from just now, or paused downstream
            };
            if quiet >= interval * SILENT_INTERVALS {
                silent.push((*node, peer.conn, peer.actor.clone()));
            } else if quiet >= interval {
                if let Some(ping) = peer.link.encoding.ping(self.shared.node, *node, nonce) {
                    peer.link.send_control(ping);
                }
            }
        }
        for (node, conn, actor) in silent {
            let reason = CloseReason::Timeout;
            self.peer_closed(PeerClosed { node, conn, reason }, ctx);
            actor.do_send(Close {
                timeout: Duration::ZERO,
            });
        }
    }
}
