//! A clone's synchronisation with its master, as decisions only: no actor, no socket, no
//! clock. Its inputs are the master's messages, the handles' writes and periodic ticks,
//! each with an explicit `now` (and, where it matters, whether any peer subscribes to the
//! master topic); its outputs are [`Effects`]: messages for the master, what to do to the
//! copy, answers, and the progress to report. The actor (`clone.rs`, `following.rs`)
//! feeds it and carries the effects out; `sync/tests.rs` drives it against a model master
//! over a network that loses, reorders and cuts.
//!
//! A clone is either syncing (it asked for a snapshot and buffers the changes arriving
//! meanwhile) or following (it applies change `next`, and resynchronises on anything else:
//! a gap, another epoch, a heartbeat announcing changes it never got). When the master stays
//! silent for [`LOST_AFTER`], or no peer subscribes to its topic any more, the clone counts
//! it as unreachable: reads go on until the stale interval passes, writes are kept for the
//! mutation buffer interval, and the first message from the master afterwards triggers a
//! resync and the replay of those writes. Writes sent before the outage and not answered
//! go again too, marked as such: the master applies each at most once (see
//! `ToMaster::Op`).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use broker_store::messages::{EntityId, ToClones, ToMaster};
use broker_store::{Change, Entry, Operation};
use broker_wire::Timestamp;

use crate::store::{CloneOptions, HEARTBEAT};

/// Silence after which the master counts as unreachable: a few missed heartbeats.
const LOST_AFTER: Duration = Duration::from_millis(3 * HEARTBEAT.as_millis() as u64);
/// How long to wait for a snapshot before asking again (the first request can cross the
/// master's learning of our subscription and be lost).
const SNAPSHOT_RETRY: Duration = Duration::from_millis(250);
/// Changes kept while waiting for a snapshot; beyond that the snapshot will cover them.
const MAX_BUFFERED: usize = 1 << 20;
/// Writes sent to the master and not answered yet beyond which the clone takes no more.
const WINDOW: usize = 8192;

/// A change as the master numbered it.
#[derive(Debug)]
pub(super) struct Numbered {
    pub(super) epoch: u64,
    pub(super) seq: u64,
    pub(super) applied_at: Timestamp,
    pub(super) change: Change,
    pub(super) origin: EntityId,
}

/// What to do to the clone's copy, in order.
#[derive(Debug)]
pub(super) enum CopyAction {
    /// Replace the contents with a snapshot.
    Load(Vec<Entry>),
    /// Apply the master's change (and tell local subscribers).
    Apply(Numbered),
}

/// What inputs made the clone decide, in order, until the caller carries it out (and
/// empties it).
#[derive(Debug, Default)]
pub(super) struct Effects {
    /// Messages for the master.
    pub(super) to_master: Vec<ToMaster>,
    /// Changes to the copy.
    pub(super) copy: Vec<CopyAction>,
    /// Answers to `put_unique` requests: request number, whether inserted.
    pub(super) put_unique: Vec<(u64, bool)>,
    /// Failures the master reported for our writes: Broker's error code, the message.
    pub(super) failures: Vec<(u8, String)>,
    /// Writes of ours the master answered (or that a snapshot covers): finished once the
    /// copy shows them.
    pub(super) answered: u64,
    /// Writes given up: in flight at an outage, or kept offline past the mutation buffer
    /// interval.
    pub(super) given_up: u64,
    /// A resync began: the copy no longer follows the master.
    pub(super) unsynced: bool,
    /// A sync completed: the snapshot and the changes buffered after it are loaded.
    pub(super) synced: bool,
    /// Whether reads must fail with `StaleData` from now on, if that changed.
    pub(super) stale: Option<bool>,
}

/// Where the clone stands with the master's sequence.
#[derive(Debug)]
enum SyncState {
    /// Asked for a snapshot at `asked`, after sending the writes up to `sent`;
    /// buffering the changes that arrive meanwhile.
    Syncing {
        asked: Instant,
        sent: u64,
        buffered: Vec<Numbered>,
    },
    /// Applied every change of `epoch` before `next`.
    Following { epoch: u64, next: u64 },
}

/// A clone's view of its master.
#[derive(Debug)]
pub(super) struct CloneSync {
    me: EntityId,
    stale_interval: Duration,
    mutation_buffer_interval: Duration,
    state: SyncState,
    last_heard: Instant,
    /// When the master became unreachable, if it is.
    lost_since: Option<Instant>,
    next_request: u64,
    /// Writes sent to the master and not answered yet, by request number (`put_unique`
    /// aside: its caller waits for the answer itself).
    in_flight: BTreeMap<u64, Operation>,
    /// Writes made while the master was unreachable, with when they were made.
    offline: VecDeque<(Instant, Operation)>,
}

impl CloneSync {
    /// The clone `me`, about to ask for its first snapshot ([`CloneSync::start`]).
    pub(super) fn new(me: EntityId, options: &CloneOptions, now: Instant) -> Self {
        CloneSync {
            me,
            stale_interval: options.stale_interval,
            mutation_buffer_interval: options.mutation_buffer_interval,
            state: SyncState::Syncing {
                asked: now,
                sent: 0,
                buffered: Vec::new(),
            },
            last_heard: now,
            lost_since: None,
            next_request: 0,
            in_flight: BTreeMap::new(),
            offline: VecDeque::new(),
        }
    }

    /// Asks for the first snapshot.
    pub(super) fn start(&mut self, now: Instant, fx: &mut Effects) {
        self.ask_snapshot(now, fx);
    }

    /// Whether the copy follows the master's sequence.
    pub(super) fn following(&self) -> bool {
        matches!(self.state, SyncState::Following { .. })
    }

    /// Whether the clone takes more of its handles' writes: writes made while the master
    /// is unreachable are kept, not sent, so they count against no window.
    pub(super) fn takes_writes(&self) -> bool {
        self.lost_since.is_some() || self.in_flight.len() < WINDOW
    }

    /// Notices an unreachable master: no peer subscribes to its topic any more
    /// (`master_listed` false: at once), or it has been silent for [`LOST_AFTER`].
    pub(super) fn check_master(&mut self, now: Instant, master_listed: bool) {
        if self.lost_since.is_some() {
            return;
        }
        if !master_listed {
            self.lost_since = Some(now);
        } else if now.saturating_duration_since(self.last_heard) >= LOST_AFTER {
            self.lost_since = Some(self.last_heard);
        }
    }

    /// A write from a handle; `awaits_answer` for `put_unique`, which needs the master's
    /// answer now: it goes out even to an unreachable master (and times out). The request
    /// number it went out with, `None` if it is kept until the master is back.
    pub(super) fn write(
        &mut self,
        op: Operation,
        awaits_answer: bool,
        now: Instant,
        fx: &mut Effects,
    ) -> Option<u64> {
        if self.lost_since.is_some() && !awaits_answer {
            self.offline.push_back((now, op));
            return None;
        }
        Some(self.send(op, awaits_answer, fx))
    }

    /// Periodic checks: is the master lost, is the copy stale, do kept writes expire, is a
    /// snapshot overdue.
    pub(super) fn tick(&mut self, now: Instant, master_listed: bool, fx: &mut Effects) {
        self.check_master(now, master_listed);
        if let Some(since) = self.lost_since {
            if now.saturating_duration_since(since) >= self.stale_interval {
                fx.stale = Some(true);
            }
        }
        let keep = self.mutation_buffer_interval;
        let before = self.offline.len();
        self.offline
            .retain(|&(made, _)| now.saturating_duration_since(made) < keep);
        fx.given_up += (before - self.offline.len()) as u64;
        if let SyncState::Syncing { asked, .. } = self.state {
            if self.lost_since.is_none() && now.saturating_duration_since(asked) >= SNAPSHOT_RETRY {
                self.ask_snapshot(now, fx);
            }
        }
    }

    /// Handles one message from the master (anything on the clone topic: answers meant for
    /// other clones included).
    pub(super) fn receive(&mut self, message: ToClones, now: Instant, fx: &mut Effects) {
        self.heard(now, fx);
        let me = self.me;
        match message {
            ToClones::Change {
                epoch,
                seq,
                applied_at,
                change,
                origin,
                request,
            } => {
                let numbered = Numbered {
                    epoch,
                    seq,
                    applied_at,
                    change,
                    origin,
                };
                self.take_change(numbered, now, fx);
                // Answered only once applied: `await_idle` promises the write is visible.
                if origin == me {
                    self.answered(request, fx);
                }
            }
            ToClones::Snapshot {
                epoch,
                seq,
                clone,
                entries,
            } if clone == me => self.load(epoch, seq, entries, now, fx),
            ToClones::PutUniqueResult {
                clone,
                request,
                inserted,
            } if clone == me => fx.put_unique.push((request, inserted)),
            ToClones::OpFailed {
                clone,
                request,
                code,
                message,
            } if clone == me => {
                self.answered(request, fx);
                fx.failures.push((code, message));
            }
            ToClones::Alive { epoch, seq } => {
                let behind = match self.state {
                    SyncState::Following { epoch: e, next } => epoch != e || seq >= next,
                    SyncState::Syncing { .. } => false,
                };
                if behind {
                    self.resync(now, fx);
                }
            }
            // Answers meant for other clones.
            _ => {}
        }
    }

    /// Asks for a snapshot (again).
    fn ask_snapshot(&mut self, now: Instant, fx: &mut Effects) {
        if let SyncState::Syncing { asked, .. } = &mut self.state {
            *asked = now;
        }
        fx.to_master
            .push(ToMaster::SnapshotRequest { clone: self.me });
    }

    /// Starts over from a fresh snapshot.
    fn resync(&mut self, now: Instant, fx: &mut Effects) {
        self.state = SyncState::Syncing {
            asked: now,
            sent: self.next_request,
            buffered: Vec::new(),
        };
        fx.unsynced = true;
        fx.to_master
            .push(ToMaster::SnapshotRequest { clone: self.me });
    }

    /// Notes a message from the master; after an outage, resynchronises and replays the
    /// writes made meanwhile.
    fn heard(&mut self, now: Instant, fx: &mut Effects) {
        self.last_heard = now;
        if self.lost_since.take().is_none() {
            return;
        }
        // What was in flight at the outage may or may not have reached the master: it
        // goes again, ahead of the snapshot request, so the snapshot shows whatever the
        // master applies of it and answers it all.
        let me = self.me;
        fx.to_master
            .extend(self.in_flight.iter().map(|(&request, op)| ToMaster::Op {
                clone: me,
                request,
                op: op.clone(),
                replayed: true,
            }));
        self.resync(now, fx);
        while let Some((_, op)) = self.offline.pop_front() {
            self.send(op, false, fx);
        }
    }

    /// Sends a write to the master; its request number.
    fn send(&mut self, op: Operation, awaits_answer: bool, fx: &mut Effects) -> u64 {
        self.next_request += 1;
        let request = self.next_request;
        if !awaits_answer {
            self.in_flight.insert(request, op.clone());
        }
        fx.to_master.push(ToMaster::Op {
            clone: self.me,
            request,
            op,
            replayed: false,
        });
        request
    }

    /// A request of ours was answered.
    fn answered(&mut self, request: u64, fx: &mut Effects) {
        if self.in_flight.remove(&request).is_some() {
            fx.answered += 1;
        }
    }

    /// Takes a numbered change in.
    fn take_change(&mut self, numbered: Numbered, now: Instant, fx: &mut Effects) {
        match &mut self.state {
            SyncState::Syncing { buffered, .. } => {
                if buffered.len() < MAX_BUFFERED {
                    buffered.push(numbered);
                }
            }
            SyncState::Following { epoch, next }
                if numbered.epoch == *epoch && numbered.seq < *next => {}
            SyncState::Following { epoch, next }
                if numbered.epoch == *epoch && numbered.seq == *next =>
            {
                *next += 1;
                fx.copy.push(CopyAction::Apply(numbered));
            }
            SyncState::Following { .. } => {
                self.resync(now, fx);
                self.take_change(numbered, now, fx)
            }
        }
    }

    /// Loads a snapshot taken after change `seq` of `epoch` and the buffered changes that
    /// follow it.
    fn load(&mut self, epoch: u64, seq: u64, entries: Vec<Entry>, now: Instant, fx: &mut Effects) {
        let SyncState::Syncing { buffered, sent, .. } = &mut self.state else {
            return;
        };
        let (buffered, sent) = (std::mem::take(buffered), *sent);
        // The snapshot holds every write sent before it was asked for that the master
        // got; answers lost on the way (say, dropped for a slow peer) are not waited for.
        let before = self.in_flight.len();
        self.in_flight.retain(|&request, _| request > sent);
        fx.answered += (before - self.in_flight.len()) as u64;
        fx.copy.push(CopyAction::Load(entries));
        let mut next = seq + 1;
        for numbered in buffered.into_iter().filter(|n| n.epoch == epoch) {
            if numbered.seq < next {
                continue;
            }
            if numbered.seq > next {
                // Something between the snapshot and the buffer got lost.
                self.resync(now, fx);
                return;
            }
            next += 1;
            fx.copy.push(CopyAction::Apply(numbered));
        }
        self.state = SyncState::Following { epoch, next };
        fx.stale = Some(false);
        fx.synced = true;
    }
}

#[cfg(test)]
mod tests;
