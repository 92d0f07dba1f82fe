//! Which of a clone's writes a master applies. A clone sends again the writes it got no
//! answer for before an outage (the connection may have lost them, or only their
//! answers); the master must apply each at most once.

use std::collections::hash_map::{Entry, HashMap};

use crate::messages::EntityId;

/// Per clone, the highest request number of its writes this master applied. One entry
/// for every clone instance that ever wrote to this master run (a few dozen bytes each).
#[derive(Debug, Default)]
pub struct Replays {
    applied: HashMap<EntityId, u64>,
}

impl Replays {
    /// Whether to apply `clone`'s write `request` (`replayed` if sent again), noting it
    /// if so. A write sent for the first time is applied. One sent again is applied only
    /// if this master applied an earlier write of the clone and none from this one on:
    /// the clone's writes arrive in order over one connection, and a master that never
    /// heard of the clone (a restarted one) may hold the write from its predecessor.
    pub fn admit(&mut self, clone: EntityId, request: u64, replayed: bool) -> bool {
        match self.applied.entry(clone) {
            Entry::Occupied(mut last) => {
                if replayed && request <= *last.get() {
                    return false;
                }
                let last = last.get_mut();
                *last = (*last).max(request);
            }
            Entry::Vacant(_) if replayed => return false,
            Entry::Vacant(first) => {
                first.insert(request);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use broker_wire::frame::NodeId;

    use super::*;

    fn clone(object: u64) -> EntityId {
        EntityId {
            node: NodeId([1; 16]),
            object,
        }
    }

    #[test]
    fn a_write_sent_again_applies_once_and_only_where_the_clone_is_known() {
        let mut replays = Replays::default();
        assert!(!replays.admit(clone(1), 1, true), "unknown clone");
        assert!(replays.admit(clone(1), 1, false));
        assert!(replays.admit(clone(1), 2, false));
        assert!(!replays.admit(clone(1), 2, true), "applied already");
        assert!(replays.admit(clone(1), 3, true), "lost on the way");
        assert!(!replays.admit(clone(1), 3, true), "applied already");
        assert!(!replays.admit(clone(2), 3, true), "another clone");
    }
}
