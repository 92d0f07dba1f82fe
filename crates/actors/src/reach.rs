//! Which endpoints this one reaches through the overlay, and what each peer must be told
//! about it: a path-vector table, control plane only (the data path never reads it), free
//! of I/O so that its tests are deterministic. The Core feeds it peerings and the peers'
//! `Reach` frames and acts on the [`Changes`] it returns (`core/reachability.rs`).
//!
//! A peer speaking our protocol tells us, for each endpoint it reaches, the shortest path
//! it has there that avoids us, and every change of it. An endpoint is reachable while a
//! peer offers a path to it (every peer offers itself, one hop) that does not pass
//! through us and is at most `max_hops` long: the TTL, as far as a published message
//! travels. Paths never loop, so a partition is known as soon as the withdrawals have
//! crossed it, without counting up to the TTL as distance vectors do. Because each peer
//! is told the best path *avoiding it* rather than our best path, a peer already holds an
//! alternative when its own best path breaks: a ring that loses one link loses no
//! endpoint, not even for a moment.
//!
//! Each peer is told only what changed for it, so a peering that comes or goes costs one
//! small frame per peer speaking our protocol, plus the whole table once to a new peer.
//! Broker's native peers exchange no such frames: we know them as direct peers and tell
//! our other peers about them, as we forward to them.

use std::collections::{BTreeMap, BTreeSet};

use broker_wire::frame::{NodeId, Reach};

/// A path from this endpoint: the hops after it, the endpoint reached last.
type Path = Box<[NodeId]>;

/// An endpoint entering or leaving the reachable set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reachability {
    /// It became reachable: `EndpointDiscovered`.
    Discovered(NodeId),
    /// The last path to it went: `EndpointUnreachable`.
    Unreachable(NodeId),
}

/// What one change of the table means: endpoints that came or went, in order, and the
/// `Reach` changes to send to each peer speaking our protocol.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Changes {
    pub(crate) reachability: Vec<Reachability>,
    pub(crate) updates: BTreeMap<NodeId, Vec<Reach>>,
}

/// The paths this endpoint knows, by the endpoint they reach.
pub(crate) struct ReachTable {
    own: NodeId,
    /// The longest path accepted, in hops.
    max_hops: usize,
    /// Whether peers are told what we reach: only if we forward their messages.
    advertise: bool,
    /// For each endpoint reached, the paths the peers offer to it.
    offers: BTreeMap<NodeId, Offers>,
    /// The peers speaking our protocol: they send and get `Reach` frames.
    speakers: BTreeSet<NodeId>,
}

/// The paths to one endpoint, at most one per peer (its first hop). A plain vector: most
/// endpoints have one or two, and a table of many endpoints stays small.
#[derive(Debug, Clone, Default, PartialEq)]
struct Offers(Vec<Path>);

impl Offers {
    /// Sets the path offered by its first hop, replacing that peer's previous offer.
    fn set(&mut self, path: Path) {
        match self.0.iter_mut().find(|p| p[0] == path[0]) {
            Some(previous) => *previous = path,
            None => self.0.push(path),
        }
    }

    /// Withdraws `peer`'s offer, if it made one.
    fn withdraw(&mut self, peer: &NodeId) {
        self.0.retain(|p| p[0] != *peer);
    }

    /// Whether `peer` offers a path.
    fn offered_by(&self, peer: &NodeId) -> bool {
        self.0.iter().any(|p| p[0] == *peer)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The preferred path: fewest hops, then the smallest ids, so every endpoint agrees.
fn preferred<'a>(paths: impl Iterator<Item = &'a Path>) -> Option<&'a Path> {
    paths.min_by(|a, b| (a.len(), a).cmp(&(b.len(), b)))
}

/// The path to offer `peer` among `offers`: the preferred one not passing through it.
/// `best` is the preferred path of all: every peer off it is offered that one, so only
/// the few peers on it cost a search (an endpoint of a large mesh has an offer from
/// nearly every peer, and nearly every peer is a speaker).
fn offer_for<'a>(offers: &'a Offers, best: Option<&'a Path>, peer: &NodeId) -> Option<&'a Path> {
    match best {
        Some(best) if !best.contains(peer) => Some(best),
        Some(_) => preferred(offers.0.iter().filter(|path| !path.contains(peer))),
        None => None,
    }
}

impl ReachTable {
    /// The table of endpoint `own`, accepting paths of at most `max_hops`; `advertise`
    /// if it forwards between its peers.
    pub(crate) fn new(own: NodeId, max_hops: u16, advertise: bool) -> Self {
        ReachTable {
            own,
            max_hops: usize::from(max_hops.max(1)),
            advertise,
            offers: BTreeMap::new(),
            speakers: BTreeSet::new(),
        }
    }

    /// Whether `node` is reachable.
    #[cfg(test)]
    pub(crate) fn reaches(&self, node: &NodeId) -> bool {
        self.offers.contains_key(node)
    }

    /// The preferred path to `node`, if it is reachable.
    #[cfg(test)]
    pub(crate) fn path(&self, node: &NodeId) -> Option<&[NodeId]> {
        self.offers
            .get(node)
            .and_then(|o| preferred(o.0.iter()))
            .map(|p| &p[..])
    }

    /// A new peer, `speaks` our protocol or Broker's native one: it is reachable, and
    /// a speaker is told everything we reach.
    pub(crate) fn peer_added(&mut self, peer: NodeId, speaks: bool) -> Changes {
        let mut changes = Changes::default();
        if speaks {
            self.speakers.insert(peer);
            if self.advertise {
                let everything = self
                    .offers
                    .iter()
                    .filter(|(node, _)| **node != peer)
                    .filter_map(|(node, offers)| {
                        let best = preferred(offers.0.iter());
                        offer_for(offers, best, &peer).map(|path| Reach {
                            node: *node,
                            path: path.to_vec(),
                        })
                    })
                    .collect::<Vec<_>>();
                if !everything.is_empty() {
                    changes.updates.insert(peer, everything);
                }
            }
        }
        self.change(peer, |offers| offers.set(Box::new([peer])), &mut changes);
        changes
    }

    /// A peering ended: every path through that peer goes.
    pub(crate) fn peer_removed(&mut self, peer: NodeId) -> Changes {
        let mut changes = Changes::default();
        self.speakers.remove(&peer);
        let through: Vec<NodeId> = self
            .offers
            .iter()
            .filter(|(_, offers)| offers.offered_by(&peer))
            .map(|(node, _)| *node)
            .collect();
        for node in through {
            self.change(node, |offers| offers.withdraw(&peer), &mut changes);
        }
        changes
    }

    /// What a speaking peer said it reaches now. A path that is no path for us (empty,
    /// through us, too long, not ending where it says) withdraws the peer's offer.
    pub(crate) fn peer_reaches(&mut self, peer: NodeId, reach: Vec<Reach>) -> Changes {
        let mut changes = Changes::default();
        if !self.speakers.contains(&peer) {
            return changes;
        }
        for Reach { node, path } in reach {
            // The peer offers itself as a peer does; nobody offers us to ourselves.
            if node == peer || node == self.own {
                continue;
            }
            let usable = path.last() == Some(&node)
                && path.len() < self.max_hops
                && !path.contains(&self.own)
                && !path.contains(&peer);
            let offer = usable.then(|| std::iter::once(peer).chain(path).collect::<Path>());
            self.change(
                node,
                |offers| match offer {
                    Some(path) => offers.set(path),
                    None => offers.withdraw(&peer),
                },
                &mut changes,
            );
        }
        changes
    }

    /// Applies `edit` to the offers for `node` and adds what that changes to `changes`:
    /// whether `node` came or went, and the new offer to each speaker whose offer it
    /// alters (never to `node` itself).
    ///
    /// What a speaker is offered depends on the preferred path and, for the few speakers
    /// on it, on the best path avoiding them: while the preferred path stays, only those
    /// are looked at, so a change costs the paths to `node`, not the number of speakers.
    fn change(&mut self, node: NodeId, edit: impl FnOnce(&mut Offers), changes: &mut Changes) {
        let offers = self.offers.entry(node).or_default();
        let was_reachable = !offers.is_empty();
        let best_before: Option<Path> = preferred(offers.0.iter()).cloned();
        // The offers of the speakers on the preferred path, as they were.
        let on_path_before: Vec<(NodeId, Option<Path>)> = match &best_before {
            Some(best) if self.advertise => (best.iter())
                .filter(|hop| **hop != node && self.speakers.contains(hop))
                .map(|hop| (*hop, offer_for(offers, Some(best), hop).cloned()))
                .collect(),
            _ => Vec::new(),
        };
        edit(offers);
        let after = &*offers;
        match (was_reachable, !after.is_empty()) {
            (false, true) => changes.reachability.push(Reachability::Discovered(node)),
            (true, false) => changes.reachability.push(Reachability::Unreachable(node)),
            _ => {}
        }
        if self.advertise {
            let best_after = preferred(after.0.iter());
            let offered_before =
                |speaker: &NodeId| match on_path_before.iter().find(|(s, _)| s == speaker) {
                    Some((_, offer)) => offer.as_ref(),
                    None => best_before.as_ref(),
                };
            let mut tell = |speaker: &NodeId| {
                let offered = offer_for(after, best_after, speaker);
                if offered_before(speaker) != offered {
                    changes.updates.entry(*speaker).or_default().push(Reach {
                        node,
                        path: offered.map(|p| p.to_vec()).unwrap_or_default(),
                    });
                }
            };
            if best_after == best_before.as_ref() {
                // Speakers off the preferred path are offered it, as before.
                on_path_before.iter().for_each(|(speaker, _)| tell(speaker));
            } else {
                self.speakers.iter().filter(|s| **s != node).for_each(tell);
            }
        }
        if after.is_empty() {
            self.offers.remove(&node);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    /// Endpoints `0..n` with a table each, passing `Reach` frames by hand: a network
    /// whose every step is deterministic.
    struct Net {
        tables: Vec<ReachTable>,
        /// Frames sent and not yet delivered: (from, to, changes).
        wire: VecDeque<(u8, u8, Vec<Reach>)>,
        /// What each endpoint reported, in order.
        seen: Vec<Vec<Reachability>>,
        /// Frames delivered in all.
        frames: usize,
    }

    impl Net {
        fn new(n: u8, ttl: u16) -> Net {
            Net {
                tables: (0..n).map(|i| ReachTable::new(id(i), ttl, true)).collect(),
                wire: VecDeque::new(),
                seen: (0..n).map(|_| Vec::new()).collect(),
                frames: 0,
            }
        }

        fn record(&mut self, at: u8, changes: Changes) {
            self.seen[at as usize].extend(changes.reachability);
            for (to, reach) in changes.updates {
                self.wire.push_back((at, to.0[0], reach));
            }
        }

        fn link(&mut self, a: u8, b: u8) {
            let changes = self.tables[a as usize].peer_added(id(b), true);
            self.record(a, changes);
            let changes = self.tables[b as usize].peer_added(id(a), true);
            self.record(b, changes);
        }

        fn cut(&mut self, a: u8, b: u8) {
            // Frames in flight on the link are lost with it.
            self.wire
                .retain(|(from, to, _)| (*from, *to) != (a, b) && (*from, *to) != (b, a));
            let changes = self.tables[a as usize].peer_removed(id(b));
            self.record(a, changes);
            let changes = self.tables[b as usize].peer_removed(id(a));
            self.record(b, changes);
        }

        /// Delivers frames in the order sent until none is left; a bound catches loops.
        fn settle(&mut self) {
            for _ in 0..1_000_000 {
                let Some((from, to, reach)) = self.wire.pop_front() else {
                    return;
                };
                self.frames += 1;
                let changes = self.tables[to as usize].peer_reaches(id(from), reach);
                self.record(to, changes);
            }
            panic!("the tables did not settle");
        }

        fn reaches(&self, at: u8) -> Vec<u8> {
            (0..self.tables.len() as u8)
                .filter(|n| self.tables[at as usize].reaches(&id(*n)))
                .collect()
        }

        fn path(&self, at: u8, to: u8) -> Vec<u8> {
            self.tables[at as usize]
                .path(&id(to))
                .map(|p| p.iter().map(|n| n.0[0]).collect())
                .unwrap_or_default()
        }

        /// What `at` reported since the last call.
        fn take(&mut self, at: u8) -> Vec<Reachability> {
            std::mem::take(&mut self.seen[at as usize])
        }
    }

    use Reachability::{Discovered, Unreachable};

    #[test]
    fn a_chain_is_discovered_and_lost_hop_by_hop() {
        let mut net = Net::new(3, 20);
        net.link(0, 1);
        net.link(1, 2);
        net.settle();
        assert_eq!(net.reaches(0), [1, 2]);
        assert_eq!(net.path(0, 2), [1, 2]);
        assert_eq!(net.path(2, 0), [1, 0]);
        assert_eq!(net.take(0), [Discovered(id(1)), Discovered(id(2))]);
        assert_eq!(net.take(1), [Discovered(id(0)), Discovered(id(2))]);
        assert_eq!(net.take(2), [Discovered(id(1)), Discovered(id(0))]);
        net.cut(1, 2);
        net.settle();
        assert_eq!(net.reaches(0), [1]);
        assert_eq!(net.take(0), [Unreachable(id(2))]);
        assert_eq!(net.take(2), [Unreachable(id(0)), Unreachable(id(1))]);
    }

    #[test]
    fn a_new_peer_gets_the_whole_table_and_the_others_one_change() {
        let mut table = ReachTable::new(id(0), 20, true);
        table.peer_added(id(1), true);
        table.peer_added(id(2), false);
        let changes = table.peer_added(id(3), true);
        assert_eq!(changes.reachability, [Discovered(id(3))]);
        let reach = |n: u8| Reach {
            node: id(n),
            path: vec![id(n)],
        };
        let expected = BTreeMap::from([(id(1), vec![reach(3)]), (id(3), vec![reach(1), reach(2)])]);
        assert_eq!(changes.updates, expected, "the native peer 2 gets nothing");
    }

    #[test]
    fn a_ring_that_loses_a_link_loses_no_endpoint() {
        let mut net = Net::new(5, 20);
        for n in 0..5 {
            net.link(n, (n + 1) % 5);
        }
        net.settle();
        for n in 0..5 {
            assert_eq!(net.reaches(n).len(), 4, "endpoint {n}");
            net.take(n);
        }
        assert_eq!(net.path(0, 2), [1, 2]);
        net.cut(0, 1);
        net.settle();
        for n in 0..5 {
            assert_eq!(net.reaches(n).len(), 4, "endpoint {n}");
            assert_eq!(net.take(n), [], "endpoint {n} saw a change of reachability");
        }
        assert_eq!(net.path(0, 1), [4, 3, 2, 1]);
        assert_eq!(net.path(1, 0), [2, 3, 4, 0]);
    }

    #[test]
    fn a_partition_is_known_on_both_sides_and_a_heal_undoes_it() {
        // Two rings of three, 0-1-2 and 3-4-5, joined by the links 2-3 and 0-5.
        let mut net = Net::new(6, 20);
        for (a, b) in [
            (0, 1),
            (1, 2),
            (2, 0),
            (3, 4),
            (4, 5),
            (5, 3),
            (2, 3),
            (0, 5),
        ] {
            net.link(a, b);
        }
        net.settle();
        for n in 0..6 {
            assert_eq!(net.reaches(n).len(), 5);
            net.take(n);
        }
        net.cut(2, 3);
        net.settle();
        for n in 0..6 {
            assert_eq!(
                net.take(n),
                [],
                "one bridge left: endpoint {n} loses nothing"
            );
        }
        net.cut(0, 5);
        net.settle();
        for n in 0..3 {
            assert_eq!(
                net.reaches(n),
                [0, 1, 2]
                    .into_iter()
                    .filter(|m| *m != n)
                    .collect::<Vec<_>>()
            );
            let mut lost = net.take(n);
            lost.sort_by_key(|r| format!("{r:?}"));
            assert_eq!(
                lost,
                [Unreachable(id(3)), Unreachable(id(4)), Unreachable(id(5))]
            );
        }
        for n in 3..6 {
            assert_eq!(net.reaches(n).len(), 2);
            assert_eq!(net.take(n).len(), 3);
        }
        net.link(1, 4);
        net.settle();
        for n in 0..6 {
            assert_eq!(net.reaches(n).len(), 5, "healed: endpoint {n}");
            let found = net.take(n);
            assert_eq!(found.len(), 3, "endpoint {n}: {found:?}");
            assert!(found.iter().all(|r| matches!(r, Discovered(_))));
        }
        assert_eq!(net.path(2, 5), [1, 4, 5]);
    }

    #[test]
    fn paths_longer_than_the_ttl_are_not_taken() {
        let mut net = Net::new(5, 3);
        for n in 0..4 {
            net.link(n, n + 1);
        }
        net.settle();
        assert_eq!(net.reaches(0), [1, 2, 3]);
        assert_eq!(net.reaches(2), [0, 1, 3, 4]);
        // A shortcut brings 4 within reach of 0.
        net.link(1, 4);
        net.settle();
        assert_eq!(net.path(0, 4), [1, 4]);
        assert_eq!(net.take(0).last(), Some(&Discovered(id(4))));
    }

    #[test]
    fn an_endpoint_that_does_not_forward_tells_nothing() {
        let mut table = ReachTable::new(id(0), 20, false);
        table.peer_added(id(1), true);
        let changes = table.peer_added(id(2), true);
        assert_eq!(changes.reachability, [Discovered(id(2))]);
        assert!(changes.updates.is_empty());
        // What others offer it is still taken.
        let changes = table.peer_reaches(
            id(1),
            vec![Reach {
                node: id(9),
                path: vec![id(9)],
            }],
        );
        assert_eq!(changes.reachability, [Discovered(id(9))]);
    }

    #[test]
    fn offers_that_are_no_path_withdraw_and_are_never_believed() {
        let mut table = ReachTable::new(id(0), 20, true);
        table.peer_added(id(1), true);
        let offer = |node: u8, path: &[u8]| Reach {
            node: id(node),
            path: path.iter().map(|n| id(*n)).collect(),
        };
        // Through us, ending elsewhere, naming the peer again, or the peer itself.
        for bad in [
            offer(5, &[0, 5]),
            offer(5, &[6]),
            offer(5, &[1, 5]),
            offer(1, &[]),
        ] {
            let changes = table.peer_reaches(id(1), vec![bad.clone()]);
            assert!(changes.reachability.is_empty(), "{bad:?}");
        }
        assert!(table.reaches(&id(1)), "the peer's own offer stays");
        table.peer_reaches(id(1), vec![offer(5, &[4, 5])]);
        assert_eq!(table.path(&id(5)), Some(&[id(1), id(4), id(5)][..]));
        let changes = table.peer_reaches(id(1), vec![offer(5, &[])]);
        assert_eq!(changes.reachability, [Unreachable(id(5))]);
        // Not a speaker: ignored.
        let changes = table.peer_reaches(id(7), vec![offer(8, &[8])]);
        assert_eq!(changes, Changes::default());
    }

    /// A Zeek cluster as Zeek peers it: a logger (0), a manager (1) peered with it, two
    /// proxies (2, 3) peered with both, and workers peered with all four.
    fn cluster(workers: u8) -> Net {
        let mut net = Net::new(4 + workers, 20);
        net.link(1, 0);
        for proxy in [2, 3] {
            net.link(proxy, 0);
            net.link(proxy, 1);
        }
        for worker in 4..4 + workers {
            for hub in 0..4 {
                net.link(worker, hub);
            }
        }
        net
    }

    #[test]
    fn a_cluster_settles_on_shortest_paths() {
        let workers = 200;
        let mut net = cluster(workers);
        net.settle();
        let everyone: Vec<u8> = (0..4 + workers).collect();
        for at in 0..4 + workers {
            let others: Vec<u8> = everyone.iter().copied().filter(|&n| n != at).collect();
            assert_eq!(net.reaches(at), others, "at {at}");
        }
        assert_eq!(net.path(2, 3), [0, 3]);
        assert_eq!(net.path(4, 5).len(), 2);
        assert_eq!(net.path(0, 7), [7]);
    }

    #[test]
    fn a_star_costs_one_small_frame_per_peer_and_peering() {
        let mut net = Net::new(101, 20);
        for leaf in 1..=100 {
            net.link(0, leaf);
        }
        net.settle();
        // Leaf n is told of the n - 1 leaves before it at once, then of each later one.
        assert_eq!(net.frames, 99 + 99 * 100 / 2);
        assert_eq!(net.reaches(37).len(), 100);
        assert_eq!(net.path(37, 80), [0, 80]);
    }
}
