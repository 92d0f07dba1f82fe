//! Which peers have a connection in its handshake or a peering, keyed by their native
//! endpoint id: what Broker's handshake calls reserving a peer's status. Holding a
//! [`PeerSlot`] *is* the reservation: the handshake that reserved a peer holds it, then
//! the Core's peer entry; dropping it (a failed handshake, a lost or removed peer)
//! frees the peer and wakes the connections parked behind it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use broker_wire::native::{EndpointId, Reservation};
use tokio::sync::Notify;

/// The endpoint's table of reserved peers.
#[derive(Default)]
pub(crate) struct Peerings {
    state: Mutex<State>,
    /// Woken whenever a peer's entry changes.
    changed: Notify,
}

#[derive(Default)]
struct State {
    /// Reserved peers: `false` while the handshake runs, `true` once peered.
    peers: HashMap<EndpointId, bool>,
    /// Shutting down: nothing is reserved any more.
    closed: bool,
}

/// A reserved peer; see the module docs.
pub(crate) struct PeerSlot {
    peerings: Arc<Peerings>,
    peer: EndpointId,
}

impl Peerings {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Poisoned only by a panic in a few lines of map bookkeeping: a bug.
        self.state.lock().expect("peerings lock poisoned")
    }

    /// Reserves `peer` for a handshake, as Broker does: granted (with the slot) if
    /// nobody else holds it.
    pub(crate) fn reserve(self: &Arc<Self>, peer: EndpointId) -> (Reservation, Option<PeerSlot>) {
        let mut state = self.lock();
        if state.closed {
            return (Reservation::ShuttingDown, None);
        }
        match state.peers.get(&peer) {
            Some(false) => (Reservation::Pending, None),
            Some(true) => (Reservation::Connected, None),
            None => {
                state.peers.insert(peer, false);
                let slot = PeerSlot {
                    peerings: self.clone(),
                    peer,
                };
                (Reservation::Granted, Some(slot))
            }
        }
    }

    /// Whether `peer` is reserved (being connected or peered).
    pub(crate) fn holds(&self, peer: EndpointId) -> bool {
        self.lock().peers.contains_key(&peer)
    }

    /// Waits until no handshake with `peer` is under way.
    pub(crate) async fn settled(&self, peer: EndpointId) {
        loop {
            let changed = self.changed.notified();
            if self.lock().peers.get(&peer) != Some(&false) {
                return;
            }
            changed.await;
        }
    }

    /// Refuses every reservation from now on (shutdown).
    pub(crate) fn close(&self) {
        self.lock().closed = true;
    }
}

impl PeerSlot {
    /// The handshake became a peering.
    pub(crate) fn peered(&self) {
        self.peerings.lock().peers.insert(self.peer, true);
        self.peerings.changed.notify_waiters();
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        self.peerings.lock().peers.remove(&self.peer);
        self.peerings.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_reserves_until_dropped_and_wakes_the_parked() {
        let peerings = Arc::new(Peerings::default());
        let peer = EndpointId([1; 16]);
        let (granted, slot) = peerings.reserve(peer);
        assert_eq!(granted, Reservation::Granted);
        assert_eq!(peerings.reserve(peer).0, Reservation::Pending);
        let slot = slot.expect("granted with a slot");
        let parked = tokio::spawn({
            let peerings = peerings.clone();
            async move { peerings.settled(peer).await }
        });
        slot.peered();
        parked.await.expect("woken when peered");
        assert_eq!(peerings.reserve(peer).0, Reservation::Connected);
        drop(slot);
        assert!(!peerings.holds(peer));
        peerings.close();
        assert_eq!(peerings.reserve(peer).0, Reservation::ShuttingDown);
    }
}
