//! [`CloneSync`] without sockets or clocks: a model master (a real in-memory store that
//! numbers its changes as the master actor does) and a clone whose copy is another
//! in-memory store changed only by the sync's [`CopyAction`]s. Scenarios spell out each
//! rule (gaps, heartbeats, timeouts, a new master); a property drives both through
//! random writes, losses, reorderings, duplicates, cuts, silences and master restarts,
//! and checks after every step that a clone claiming to follow change `n` of an epoch
//! holds exactly the master's contents after change `n`, and after healing that the
//! clone follows the master's latest contents with every write accounted for.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use broker_store::messages::{EntityId, ToClones, ToMaster};
use broker_store::{Entry, Operation, Replays, Store};
use broker_wire::frame::NodeId;
use broker_wire::{Data, Timestamp};
use proptest::prelude::*;

use super::{CloneSync, CopyAction, Effects, SyncState, LOST_AFTER, SNAPSHOT_RETRY, WINDOW};
use crate::store::CloneOptions;

const STALE: Duration = Duration::from_secs(5);
const KEEP_OFFLINE: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(100);

fn entity(object: u64) -> EntityId {
    EntityId {
        node: NodeId([7; 16]),
        object,
    }
}

fn me() -> EntityId {
    entity(2)
}

fn put(key: u64, value: Data) -> Operation {
    Operation::Put {
        key: Data::Count(key),
        value,
        expiry: None,
    }
}

fn options() -> CloneOptions {
    CloneOptions {
        stale_interval: STALE,
        mutation_buffer_interval: KEEP_OFFLINE,
        ..CloneOptions::default()
    }
}

/// The master as the master actor behaves towards one clone: applies writes in arrival
/// order (a write sent again only as [`Replays`] allows), numbers the changes, answers
/// snapshots, `put_unique` and failures. Remembers its contents after every change of
/// every epoch.
struct Master {
    store: Store,
    epoch: u64,
    seq: u64,
    history: HashMap<(u64, u64), Vec<Entry>>,
    replays: Replays,
}

impl Master {
    fn new() -> Self {
        let mut master = Master {
            store: Store::in_memory(),
            epoch: 1,
            seq: 0,
            history: HashMap::new(),
            replays: Replays::default(),
        };
        master.remember();
        master
    }

    fn contents(&self) -> Vec<Entry> {
        self.store.snapshot().expect("memory backend")
    }

    fn remember(&mut self) {
        let contents = self.contents();
        self.history.insert((self.epoch, self.seq), contents);
    }

    /// Applies `op` for `origin`'s `request`; what the clones are sent.
    fn write(&mut self, op: Operation, origin: EntityId, request: u64) -> Vec<ToClones> {
        let put_unique = matches!(op, Operation::PutUnique { .. });
        let mut out = Vec::new();
        let inserted = match self.store.apply(op, Timestamp(0)) {
            Ok(Some(change)) => {
                self.seq += 1;
                self.remember();
                out.push(ToClones::Change {
                    epoch: self.epoch,
                    seq: self.seq,
                    applied_at: Timestamp(0),
                    change,
                    origin,
                    request,
                });
                true
            }
            Ok(None) => false,
            Err(error) => {
                out.push(ToClones::OpFailed {
                    clone: origin,
                    request,
                    code: error.code().code(),
                    message: error.to_string(),
                });
                return out;
            }
        };
        if put_unique {
            out.push(ToClones::PutUniqueResult {
                clone: origin,
                request,
                inserted,
            });
        }
        out
    }

    fn handle(&mut self, message: ToMaster) -> Vec<ToClones> {
        match message {
            ToMaster::Op {
                clone,
                request,
                op,
                replayed,
            } => {
                if !self.replays.admit(clone, request, replayed) {
                    return Vec::new();
                }
                self.write(op, clone, request)
            }
            ToMaster::SnapshotRequest { clone } => vec![ToClones::Snapshot {
                epoch: self.epoch,
                seq: self.seq,
                clone,
                entries: self.contents(),
            }],
            ToMaster::Broker(_) => unreachable!("CloneSync speaks broker-rs's protocol"),
        }
    }

    fn alive(&self) -> ToClones {
        ToClones::Alive {
            epoch: self.epoch,
            seq: self.seq,
        }
    }

    /// A new run: a new epoch from 0, with the contents kept (a persistent backend) or not.
    fn restart(&mut self, keep: bool) {
        if !keep {
            self.store = Store::in_memory();
        }
        self.epoch += 1;
        self.seq = 0;
        self.replays = Replays::default();
        self.remember();
    }
}

/// The clone as the actor runs it: the sync, its copy, and what the actor reports.
struct Clone {
    sync: CloneSync,
    copy: Store,
    synced: bool,
    stale: bool,
    /// Writes handed to the sync that are not `put_unique`.
    writes: u64,
    /// Of those, the ones answered or given up.
    finished: u64,
    put_unique: Vec<(u64, bool)>,
    failures: usize,
}

impl Clone {
    /// A clone started at `now`; its first snapshot request.
    fn start(now: Instant) -> (Self, Vec<ToMaster>) {
        let mut clone = Clone {
            sync: CloneSync::new(me(), &options(), now),
            copy: Store::in_memory(),
            synced: false,
            stale: false,
            writes: 0,
            finished: 0,
            put_unique: Vec::new(),
            failures: 0,
        };
        let mut fx = Effects::default();
        clone.sync.start(now, &mut fx);
        let out = clone.settle(fx);
        (clone, out)
    }

    /// Carries `fx` out as the actor does (one message a batch); what goes to the master.
    fn settle(&mut self, fx: Effects) -> Vec<ToMaster> {
        for action in fx.copy {
            match action {
                CopyAction::Load(entries) => self.copy.load_snapshot(entries).unwrap(),
                CopyAction::Apply(numbered) => self.copy.apply_change(&numbered.change).unwrap(),
            }
        }
        if fx.unsynced {
            self.synced = false;
        }
        if fx.synced && self.sync.following() {
            self.synced = true;
        }
        if let Some(stale) = fx.stale {
            self.stale = stale;
        }
        self.finished += fx.answered + fx.given_up;
        assert!(
            self.finished <= self.writes,
            "{} writes finished of {}",
            self.finished,
            self.writes
        );
        self.put_unique.extend(fx.put_unique);
        self.failures += fx.failures.len();
        fx.to_master
    }

    fn receive(&mut self, message: ToClones, now: Instant) -> Vec<ToMaster> {
        let mut fx = Effects::default();
        self.sync.receive(message, now, &mut fx);
        self.settle(fx)
    }

    fn write(&mut self, op: Operation, now: Instant, master_listed: bool) -> Vec<ToMaster> {
        let mut fx = Effects::default();
        self.sync.check_master(now, master_listed);
        self.writes += 1;
        self.sync.write(op, false, now, &mut fx);
        self.settle(fx)
    }

    fn tick(&mut self, now: Instant, master_listed: bool) -> Vec<ToMaster> {
        let mut fx = Effects::default();
        self.sync.tick(now, master_listed, &mut fx);
        self.settle(fx)
    }

    /// `(epoch, next)` while following.
    fn position(&self) -> Option<(u64, u64)> {
        match self.sync.state {
            SyncState::Following { epoch, next } => Some((epoch, next)),
            SyncState::Syncing { .. } => None,
        }
    }

    fn lost(&self) -> bool {
        self.sync.lost_since.is_some()
    }

    fn contents(&self) -> Vec<Entry> {
        self.copy.snapshot().unwrap()
    }
}

/// What the network does to the messages between master and clone, besides cuts.
#[derive(Debug, Clone, Copy)]
enum Network {
    /// As a peering does: each way in order, nothing lost but by a cut.
    Peering,
    /// The master's messages lost, reordered and duplicated (several paths, a peer
    /// dropping for a slow consumer), the clone's reordered.
    Hostile,
}

/// A master and a clone, the messages between them, and the time.
struct World {
    master: Master,
    clone: Clone,
    to_clone: VecDeque<ToClones>,
    to_master: VecDeque<ToMaster>,
    /// Whether the peering is up: messages travel, and the clone sees the master's
    /// subscription.
    connected: bool,
    /// What the network may do besides cuts.
    network: Network,
    now: Instant,
}

impl World {
    fn new() -> Self {
        Self::over(Network::Peering)
    }

    fn over(network: Network) -> Self {
        let start = Instant::now();
        let (clone, out) = Clone::start(start);
        let mut world = World {
            master: Master::new(),
            clone,
            to_clone: VecDeque::new(),
            to_master: VecDeque::new(),
            connected: true,
            network,
            now: start,
        };
        world.send_to_master(out);
        world
    }

    fn send_to_master(&mut self, messages: Vec<ToMaster>) {
        if self.connected {
            self.to_master.extend(messages);
        }
    }

    fn send_to_clone(&mut self, messages: Vec<ToClones>) {
        if self.connected {
            self.to_clone.extend(messages);
        }
    }

    /// Delivers everything in flight, in order, both ways, until nothing is.
    fn deliver_all(&mut self) {
        while !self.to_master.is_empty() || !self.to_clone.is_empty() {
            while let Some(message) = self.to_master.pop_front() {
                let out = self.master.handle(message);
                self.send_to_clone(out);
            }
            while let Some(message) = self.to_clone.pop_front() {
                self.deliver_to_clone(message);
            }
        }
    }

    fn deliver_to_clone(&mut self, message: ToClones) {
        let out = self.clone.receive(message, self.now);
        self.send_to_master(out);
        self.check_safety();
    }

    fn heartbeat(&mut self) {
        let alive = self.master.alive();
        self.send_to_clone(vec![alive]);
    }

    fn master_write(&mut self, op: Operation) {
        let out = self.master.write(op, entity(1), 0);
        self.send_to_clone(out);
    }

    fn clone_write(&mut self, op: Operation) {
        let out = self.clone.write(op, self.now, self.connected);
        self.send_to_master(out);
    }

    fn tick(&mut self, advance: Duration) {
        self.now += advance;
        let out = self.clone.tick(self.now, self.connected);
        self.send_to_master(out);
    }

    /// The peering breaks: what is in flight is gone.
    fn cut(&mut self) {
        self.connected = false;
        self.to_clone.clear();
        self.to_master.clear();
    }

    /// The peering is back, after the clone has noticed it was gone (its tick runs every
    /// 100 ms, reconnecting takes longer).
    fn reconnect(&mut self) {
        if !self.connected {
            self.tick(TICK);
            self.connected = true;
        }
    }

    /// A clone following change `next - 1` of `epoch` holds what the master held then.
    fn check_safety(&self) {
        if let Some((epoch, next)) = self.clone.position() {
            let expected = &self.master.history[&(epoch, next - 1)];
            assert_eq!(
                &self.clone.contents(),
                expected,
                "clone at change {} of epoch {epoch}",
                next - 1
            );
        }
    }

    /// The network heals and behaves: heartbeats and ticks until the clone follows.
    fn heal(&mut self) {
        self.reconnect();
        for _ in 0..10 {
            self.deliver_all();
            self.heartbeat();
            self.deliver_all();
            self.tick(TICK);
        }
        self.deliver_all();
    }

    /// After healing: the clone follows the master's latest change, holds its contents,
    /// reads are fresh, and every write of the clone was answered or given up.
    fn assert_converged(&self) {
        self.assert_contents_converged();
        assert_eq!(
            self.clone.finished, self.clone.writes,
            "writes left waiting"
        );
    }

    /// [`World::assert_converged`] but for the writes' accounting.
    fn assert_contents_converged(&self) {
        let master = &self.master;
        assert_eq!(
            self.clone.position(),
            Some((master.epoch, master.seq + 1)),
            "not following the master's latest change"
        );
        assert_eq!(self.clone.contents(), master.contents());
        assert!(self.clone.synced && !self.clone.stale && !self.clone.lost());
    }
}

fn count(entries: &[Entry], key: u64) -> Option<&Data> {
    entries
        .iter()
        .find(|e| e.key == Data::Count(key))
        .map(|e| &e.value)
}

fn snapshot_requests(out: &[ToMaster]) -> usize {
    out.iter()
        .filter(|m| matches!(m, ToMaster::SnapshotRequest { .. }))
        .count()
}

#[test]
fn first_snapshot_then_following_changes_in_order() {
    let mut w = World::new();
    assert_eq!(w.to_master.len(), 1, "asks for a snapshot at start");
    w.master_write(put(1, Data::Count(1)));
    w.to_clone.clear(); // sent before the master knew of the clone
    w.deliver_all();
    assert_eq!(w.clone.position(), Some((1, 2)));
    assert!(w.clone.synced);
    w.master_write(put(2, Data::Count(2)));
    w.master_write(put(1, Data::Count(3)));
    w.deliver_all();
    assert_eq!(w.clone.position(), Some((1, 4)));
    assert_eq!(count(&w.clone.contents(), 1), Some(&Data::Count(3)));
    assert_eq!(w.clone.contents(), w.master.contents());
}

#[test]
fn a_gap_resyncs_from_a_snapshot_and_keeps_what_came_after() {
    let mut w = World::new();
    w.deliver_all();
    w.master_write(put(1, Data::Count(1)));
    w.to_clone.clear(); // change 1 lost
    w.master_write(put(2, Data::Count(2)));
    let change_2 = w.to_clone.pop_front().unwrap();
    let out = w.clone.receive(change_2, w.now);
    assert_eq!(snapshot_requests(&out), 1, "a gap asks for a snapshot");
    assert!(!w.clone.synced && w.clone.position().is_none());
    // A change made after the snapshot is taken arrives before the snapshot.
    w.send_to_master(out);
    let snapshot = w.master.handle(w.to_master.pop_front().unwrap());
    w.master_write(put(3, Data::Count(3)));
    w.deliver_all();
    w.send_to_clone(snapshot);
    w.deliver_all();
    assert_eq!(
        w.clone.position(),
        Some((1, 4)),
        "snapshot at 2, buffered 3"
    );
    assert_eq!(w.clone.contents(), w.master.contents());
}

#[test]
fn late_and_duplicated_changes_are_ignored() {
    let mut w = World::new();
    w.deliver_all();
    w.master_write(put(1, Data::Count(1)));
    let change_1 = w.to_clone.front().cloned().unwrap();
    w.deliver_all();
    let out = w.clone.receive(change_1, w.now);
    assert!(out.is_empty() && w.clone.synced);
    assert_eq!(w.clone.position(), Some((1, 2)));
}

#[test]
fn a_heartbeat_announcing_missed_changes_resyncs() {
    let mut w = World::new();
    w.deliver_all();
    w.heartbeat();
    w.deliver_all();
    assert_eq!(w.clone.position(), Some((1, 1)), "nothing missed");
    w.master_write(put(1, Data::Count(1)));
    w.to_clone.clear(); // the tail of the sequence is lost
    w.heartbeat();
    let alive = w.to_clone.pop_front().unwrap();
    assert_eq!(snapshot_requests(&w.clone.receive(alive, w.now)), 1);
    assert!(!w.clone.synced);
}

#[test]
fn a_snapshot_not_answered_is_asked_for_again() {
    let mut w = World::new();
    w.to_master.clear(); // the first request crossed the master's learning of us
    assert!(w.clone.tick(w.now + SNAPSHOT_RETRY / 2, true).is_empty());
    let again = w.clone.tick(w.now + SNAPSHOT_RETRY, true);
    assert_eq!(snapshot_requests(&again), 1);
    assert!(w.clone.tick(w.now + SNAPSHOT_RETRY, true).is_empty());
}

#[test]
fn silence_makes_the_master_unreachable_then_reads_stale_and_writes_kept() {
    let mut w = World::new();
    w.deliver_all();
    w.tick(LOST_AFTER - TICK);
    assert!(!w.clone.lost());
    w.tick(TICK);
    assert!(w.clone.lost(), "silent for {LOST_AFTER:?}");
    // Stale once the stale interval has passed since the master was last heard.
    w.tick(STALE - LOST_AFTER - TICK);
    assert!(!w.clone.stale);
    w.tick(TICK);
    assert!(w.clone.stale);
    // Writes are kept, not sent, while the master is unreachable.
    w.clone_write(put(1, Data::Count(1)));
    assert!(w.to_master.is_empty());
    assert!(w.clone.sync.takes_writes());
    // The master's next message: resync, then the kept write goes out.
    w.heartbeat();
    let alive = w.to_clone.pop_front().unwrap();
    let out = w.clone.receive(alive, w.now);
    assert!(matches!(out[0], ToMaster::SnapshotRequest { .. }));
    assert!(matches!(out[1], ToMaster::Op { request: 1, .. }));
    assert!(w.clone.stale, "stale until the snapshot is loaded");
    w.send_to_master(out);
    w.deliver_all();
    assert!(!w.clone.stale && w.clone.synced);
    assert_eq!(count(&w.master.contents(), 1), Some(&Data::Count(1)));
    assert_eq!(w.clone.finished, 1);
}

#[test]
fn writes_kept_longer_than_the_mutation_buffer_interval_are_dropped() {
    let mut w = World::new();
    w.deliver_all();
    w.cut();
    w.tick(TICK);
    assert!(
        w.clone.lost(),
        "no peer subscribes to the master topic: lost at once"
    );
    w.clone_write(put(1, Data::Count(1)));
    w.tick(KEEP_OFFLINE / 2);
    w.clone_write(put(2, Data::Count(2)));
    w.tick(KEEP_OFFLINE / 2);
    assert_eq!(w.clone.finished, 1, "the first write expired");
    w.heal();
    w.assert_converged();
    let contents = w.master.contents();
    assert_eq!(
        (count(&contents, 1), count(&contents, 2)),
        (None, Some(&Data::Count(2)))
    );
}

fn increment(key: u64) -> Operation {
    Operation::Increment {
        key: Data::Count(key),
        amount: Data::Count(1),
        expiry: None,
    }
}

/// A clone whose key 1 holds 0, then `increments` increments of it in flight of which
/// the master applied the first; the connection is cut with the rest and every answer.
fn increments_cut_after_the_first(increments: usize) -> World {
    let mut w = World::new();
    w.deliver_all();
    w.clone_write(put(1, Data::Count(0)));
    w.deliver_all();
    for _ in 0..increments {
        w.clone_write(increment(1));
    }
    let first = w.to_master.pop_front().unwrap();
    drop(w.master.handle(first));
    w.cut();
    w
}

#[test]
fn writes_in_flight_at_an_outage_go_again_and_apply_once() {
    let mut w = increments_cut_after_the_first(2);
    w.tick(TICK);
    w.heal();
    w.assert_converged();
    assert_eq!(count(&w.master.contents(), 1), Some(&Data::Count(2)));
}

#[test]
fn a_new_master_takes_no_write_sent_again() {
    // It cannot know whether its predecessor applied it: at most once, not twice.
    let mut w = increments_cut_after_the_first(1);
    w.master.restart(true);
    w.tick(TICK);
    w.heal();
    w.assert_converged();
    assert_eq!(count(&w.master.contents(), 1), Some(&Data::Count(1)));
}

#[test]
fn a_snapshot_answers_the_writes_sent_before_it_was_asked_for() {
    let mut w = World::new();
    w.deliver_all();
    w.clone_write(put(1, Data::Count(1)));
    w.deliver_all();
    assert_eq!(w.clone.finished, 1, "answered by its change");
    w.clone_write(put(2, Data::Count(2)));
    let op = w.to_master.pop_front().unwrap();
    let out = w.master.handle(op); // applied, but the change is lost on the way back
    drop(out);
    w.master_write(put(3, Data::Count(3)));
    w.deliver_all(); // change 3 shows the gap: resync
    assert_eq!(w.clone.finished, 2, "the snapshot covers write 2");
    w.assert_converged();
}

#[test]
fn a_new_master_epoch_resyncs_the_clone() {
    for keep in [true, false] {
        let mut w = World::new();
        w.deliver_all();
        w.master_write(put(1, Data::Count(1)));
        w.deliver_all();
        w.master.restart(keep);
        w.master_write(put(2, Data::Count(2)));
        let change = w.to_clone.pop_front().unwrap();
        let out = w.clone.receive(change, w.now);
        assert_eq!(snapshot_requests(&out), 1, "another epoch");
        w.send_to_master(out);
        w.deliver_all();
        w.assert_converged();
        assert_eq!(count(&w.clone.contents(), 1).is_some(), keep);
        // A heartbeat of the old master, late, is another epoch too.
        let old = ToClones::Alive { epoch: 1, seq: 1 };
        assert_eq!(snapshot_requests(&w.clone.receive(old, w.now)), 1);
        w.heal();
        w.assert_converged();
    }
}

#[test]
fn answers_and_failures_reach_their_clone_only() {
    let mut w = World::new();
    w.deliver_all();
    let mut fx = Effects::default();
    let unique = Operation::PutUnique {
        key: Data::Count(1),
        value: Data::Count(1),
        expiry: None,
    };
    w.clone.sync.check_master(w.now, true);
    let request = w.clone.sync.write(unique, true, w.now, &mut fx).unwrap();
    let out = w.clone.settle(fx);
    w.send_to_master(out);
    w.deliver_all();
    assert_eq!(w.clone.put_unique, vec![(request, true)]);
    assert_eq!(w.clone.writes, 0, "put_unique's caller waits itself");
    // Someone else's answers.
    let other = ToClones::PutUniqueResult {
        clone: entity(9),
        request,
        inserted: false,
    };
    w.clone.receive(other, w.now);
    assert_eq!(w.clone.put_unique.len(), 1);
    // A failing write is answered by the failure.
    w.clone_write(Operation::Increment {
        key: Data::Count(1),
        amount: Data::String(b"x".to_vec()),
        expiry: None,
    });
    w.deliver_all();
    assert_eq!((w.clone.failures, w.clone.finished), (1, 1));
}

#[test]
fn put_unique_goes_out_even_to_an_unreachable_master() {
    let mut w = World::new();
    w.deliver_all();
    w.cut();
    w.tick(TICK);
    let mut fx = Effects::default();
    let unique = Operation::PutUnique {
        key: Data::Count(1),
        value: Data::Count(1),
        expiry: None,
    };
    assert!(w.clone.sync.write(unique, true, w.now, &mut fx).is_some());
    assert_eq!(fx.to_master.len(), 1);
}

#[test]
fn unanswered_writes_beyond_the_window_pause_the_handles() {
    let mut w = World::new();
    w.deliver_all();
    for i in 0..WINDOW as u64 {
        assert!(w.clone.sync.takes_writes());
        w.clone_write(put(i % 4, Data::Count(i)));
    }
    assert!(!w.clone.sync.takes_writes());
    w.deliver_all();
    assert!(w.clone.sync.takes_writes());
    assert_eq!(w.clone.finished, WINDOW as u64);
}

/// One step of the random runs.
#[derive(Debug, Clone)]
enum Step {
    MasterWrite(Operation),
    CloneWrite(Operation),
    Heartbeat,
    /// The message at `pick` (modulo what is in flight) towards the clone: delivered,
    /// lost, or delivered and left in flight to come again.
    ToClone {
        pick: usize,
        fate: Fate,
    },
    /// The message at `pick` towards the master (writes can take different paths).
    ToMaster {
        pick: usize,
    },
    Tick(Duration),
    Cut,
    Reconnect,
    MasterRestart {
        keep: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Deliver,
    Lose,
    Duplicate,
}

fn operation() -> impl Strategy<Value = Operation> {
    let key = 0u64..6;
    prop_oneof![
        4 => (key.clone(), 0u64..100).prop_map(|(k, v)| put(k, Data::Count(v))),
        1 => key.clone().prop_map(|k| put(k, Data::String(b"text".to_vec()))),
        2 => key.clone().prop_map(|k| Operation::Erase { key: Data::Count(k) }),
        2 => key.prop_map(|k| Operation::Increment {
            key: Data::Count(k),
            amount: Data::Count(1),
            expiry: None,
        }),
        1 => Just(Operation::Clear),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => operation().prop_map(Step::MasterWrite),
        6 => operation().prop_map(Step::CloneWrite),
        3 => Just(Step::Heartbeat),
        12 => (any::<usize>(), prop_oneof![
            8 => Just(Fate::Deliver),
            1 => Just(Fate::Lose),
            1 => Just(Fate::Duplicate),
        ])
            .prop_map(|(pick, fate)| Step::ToClone { pick, fate }),
        8 => any::<usize>().prop_map(|pick| Step::ToMaster { pick }),
        4 => (0u64..2500).prop_map(|ms| Step::Tick(Duration::from_millis(ms))),
        1 => Just(Step::Cut),
        1 => Just(Step::Reconnect),
        1 => any::<bool>().prop_map(|keep| Step::MasterRestart { keep }),
    ]
}

impl World {
    fn run(&mut self, step: Step) {
        match step {
            Step::MasterWrite(op) => self.master_write(op),
            Step::CloneWrite(op) => self.clone_write(op),
            Step::Heartbeat => self.heartbeat(),
            Step::ToClone { pick, fate } => {
                if self.to_clone.is_empty() {
                    return;
                }
                let (at, fate) = match self.network {
                    Network::Peering => (0, Fate::Deliver),
                    Network::Hostile => (pick % self.to_clone.len(), fate),
                };
                let message = match fate {
                    Fate::Duplicate => self.to_clone[at].clone(),
                    Fate::Deliver | Fate::Lose => self.to_clone.remove(at).expect("in range"),
                };
                if !matches!(fate, Fate::Lose) {
                    self.deliver_to_clone(message);
                }
            }
            Step::ToMaster { pick } => {
                if self.to_master.is_empty() {
                    return;
                }
                let at = match self.network {
                    Network::Peering => 0,
                    Network::Hostile => pick % self.to_master.len(),
                };
                let message = self.to_master.remove(at).expect("in range");
                let out = self.master.handle(message);
                self.send_to_clone(out);
            }
            Step::Tick(advance) => self.tick(advance),
            Step::Cut => self.cut(),
            Step::Reconnect => self.reconnect(),
            Step::MasterRestart { keep } => self.master.restart(keep),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Over peerings (cuts, silences, master restarts, writes on both sides), a following
    /// clone holds exactly the master's contents at the change it follows; once the
    /// network heals it converges to the master's latest contents, with fresh reads and
    /// every write answered or given up.
    #[test]
    fn the_clone_is_always_consistent_and_converges_after_healing(
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        let mut w = World::over(Network::Peering);
        for step in steps {
            w.run(step);
        }
        w.heal();
        w.assert_converged();
    }

    /// The same over a hostile network (the master's messages lost, reordered,
    /// duplicated; the clone's reordered): gaps and epochs resync, the clone is always
    /// consistent and converges after healing. Not every write is then accounted for:
    /// a write whose change is lost and that no later snapshot request covers stays
    /// unanswered until the next resync (see below and docs/reliability.md).
    #[test]
    fn over_a_hostile_network_the_clone_is_consistent_and_converges(
        steps in proptest::collection::vec(step(), 0..120),
    ) {
        let mut w = World::over(Network::Hostile);
        for step in steps {
            w.run(step);
        }
        w.heal();
        w.assert_contents_converged();
    }
}

/// A write that overtakes the snapshot request on another path and whose change is lost
/// is applied (the snapshot holds it) but never answered: it waits for the next resync.
/// Contents are right; only `await_idle` waits (until its timeout).
#[test]
fn a_write_overtaking_the_snapshot_request_with_its_change_lost_waits_for_a_resync() {
    let mut w = World::over(Network::Hostile);
    w.clone_write(put(1, Data::Count(1)));
    // The write reaches the master before the first snapshot request.
    let op = w.to_master.pop_back().unwrap();
    let change = w.master.handle(op);
    drop(change);
    w.heal();
    w.assert_contents_converged();
    assert_eq!((w.clone.writes, w.clone.finished), (1, 0));
}

/// The same for a write made while a snapshot is awaited, whose change is lost along
/// with the snapshot: the repeated request's snapshot holds the write, but counts as
/// answering only the writes sent before the first request.
#[test]
fn a_write_between_snapshot_requests_with_its_change_lost_waits_for_a_resync() {
    let mut w = World::over(Network::Hostile);
    w.clone_write(put(1, Data::Count(1)));
    w.deliver_all();
    w.cut(); // unanswered writes are given up at the resync after this
    w.reconnect();
    w.heartbeat();
    w.deliver_all();
    assert_eq!(w.clone.finished, w.clone.writes);
    // A write while syncing again; the snapshot and the write's change are both lost.
    w.master_write(put(2, Data::Count(2)));
    w.to_clone.clear();
    w.heartbeat();
    let alive = w.to_clone.pop_front().unwrap();
    let out = w.clone.receive(alive, w.now);
    assert_eq!(snapshot_requests(&out), 1);
    w.send_to_master(out);
    w.clone_write(put(3, Data::Count(3)));
    while let Some(message) = w.to_master.pop_front() {
        w.master.handle(message);
    }
    w.heal(); // the snapshot is asked for again and loaded
    w.assert_contents_converged();
    assert_eq!(count(&w.clone.contents(), 3), Some(&Data::Count(3)));
    assert_eq!(w.clone.writes - w.clone.finished, 1, "write 3 waits");
}
