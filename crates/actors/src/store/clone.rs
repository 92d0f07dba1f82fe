//! The clone actor of a data store: keeps a copy that follows the master's numbered changes,
//! forwards its handles' writes to the master, and publishes store events locally.
//!
//! A clone is either syncing (it asked for a snapshot and buffers the changes arriving
//! meanwhile) or following (it applies change `next`, and resynchronises on anything else:
//! a gap, another epoch, a heartbeat announcing changes it never got). When the master stays
//! silent for [`LOST_AFTER`] the clone considers it unreachable: reads go on until the stale
//! interval passes, writes are kept for the mutation buffer interval, and the first message
//! from the master afterwards triggers a resync and the replay of those writes.
//!
//! Writes in flight when the master becomes unreachable may be lost (as in Broker 1.4):
//! the clone stops waiting for their answers once it resynchronises.
//!
//! The clone keeps applying the master's messages while its own wait for room
//! (`flow`), and sends at most [`WINDOW`] writes the master has not answered yet: so
//! the master, which takes whatever clones send, holds at most that many per clone.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use broker_store::messages::{events_topic, master_topic, EntityId, ToMaster};
use broker_wire::Data;

use crate::routing::{matches, Shared};

use super::flow::{emit, Flow, FlowActor};
use super::replica::{Replica, Request};
use super::{batches, CloneOptions, Inbox, HEARTBEAT};

mod following;

use following::Numbered;

/// Silence after which the master counts as unreachable: a few missed heartbeats.
pub(crate) const LOST_AFTER: Duration = Duration::from_millis(3 * HEARTBEAT.as_millis() as u64);
/// How often the clone checks timers (staleness, buffered writes, snapshot retries).
const TICK: Duration = Duration::from_millis(100);
/// How long to wait for a snapshot before asking again (the first request can cross the
/// master's learning of our subscription and be lost).
const SNAPSHOT_RETRY: Duration = Duration::from_millis(250);
/// Changes kept while waiting for a snapshot; beyond that the snapshot will cover them.
const MAX_BUFFERED: usize = 1 << 20;
/// Writes sent to the master and not answered yet beyond which the clone takes no more.
const WINDOW: usize = 8192;

/// Where the clone stands with the master's sequence.
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

/// The clone actor.
pub(crate) struct StoreClone {
    replica: Arc<Replica>,
    shared: Arc<Shared>,
    options: CloneOptions,
    /// The subscription to the clone topic; its queue feeds the actor.
    inbox: Inbox,
    sync: SyncState,
    last_heard: Instant,
    /// When the master became unreachable, if it is.
    lost_since: Option<Instant>,
    next_request: u64,
    /// Writes sent to the master and not answered yet.
    in_flight: HashSet<u64>,
    /// `put_unique` callers waiting for the master's answer.
    waiting: HashMap<u64, SyncSender<bool>>,
    /// Writes made while the master was unreachable, with when they were made.
    offline: VecDeque<(Instant, Request)>,
    flow: Flow,
}

impl StoreClone {
    /// Starts the clone of `replica` on the current (endpoint) thread.
    pub(crate) fn launch(
        replica: Arc<Replica>,
        shared: Arc<Shared>,
        inbox: Inbox,
        options: CloneOptions,
    ) {
        let name = replica.name.clone();
        StoreClone {
            flow: Flow::new(
                shared.clone(),
                replica.clone(),
                master_topic(&name),
                events_topic(&name),
            ),
            replica,
            shared,
            options,
            inbox,
            sync: SyncState::Syncing {
                asked: Instant::now(),
                sent: 0,
                buffered: Vec::new(),
            },
            last_heard: Instant::now(),
            lost_since: None,
            next_request: 0,
            in_flight: HashSet::new(),
            waiting: HashMap::new(),
            offline: VecDeque::new(),
        }
        .start();
    }

    fn me(&self) -> EntityId {
        self.replica.entity
    }

    /// Starts over from a fresh snapshot.
    fn resync(&mut self, out: &mut Vec<Data>) {
        self.sync = SyncState::Syncing {
            asked: Instant::now(),
            sent: self.next_request,
            buffered: Vec::new(),
        };
        self.replica.progress.set_synced(false);
        out.push(ToMaster::SnapshotRequest { clone: self.me() }.to_data());
    }

    /// Notes a message from the master; after an outage, resynchronises and replays the
    /// writes made meanwhile.
    fn heard(&mut self, out: &mut Vec<Data>) {
        self.last_heard = Instant::now();
        if self.lost_since.take().is_none() {
            return;
        }
        // Unsynced first, so that no one sees the clone idle in between.
        self.resync(out);
        // Whatever was in flight at the outage is lost or applied; stop waiting for it.
        let given_up = self.in_flight.drain().count() as u64;
        self.replica.progress.finished(given_up);
        while let Some((_, request)) = self.offline.pop_front() {
            self.send(request, out);
        }
    }

    /// Notices an unreachable master: no peer subscribes to its topic any more (at once),
    /// or it has been silent for [`LOST_AFTER`].
    fn check_master(&mut self) {
        if self.lost_since.is_some() {
            return;
        }
        let routes = self.shared.routes();
        if !routes
            .peers
            .iter()
            .any(|peer| matches(&peer.filter, &self.flow.peer_topic))
        {
            self.lost_since = Some(Instant::now());
        } else if self.last_heard.elapsed() >= LOST_AFTER {
            self.lost_since = Some(self.last_heard);
        }
    }

    /// Sends a write to the master.
    fn send(&mut self, Request { op, answer }: Request, out: &mut Vec<Data>) {
        self.next_request += 1;
        let request = self.next_request;
        match answer {
            Some(answer) => {
                self.waiting.insert(request, answer);
            }
            None => {
                self.in_flight.insert(request);
            }
        }
        out.push(
            ToMaster::Op {
                clone: self.me(),
                request,
                op,
            }
            .to_data(),
        );
    }

    /// Periodic checks: is the master lost, is the copy stale, do buffered writes expire,
    /// is a snapshot overdue.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        let mut out = Vec::new();
        self.check_master();
        if let Some(since) = self.lost_since {
            if since.elapsed() >= self.options.stale_interval {
                self.replica.stale.store(true, Ordering::Relaxed);
            }
        }
        let keep = self.options.mutation_buffer_interval;
        let before = self.offline.len();
        self.offline.retain(|(made, _)| made.elapsed() < keep);
        self.replica
            .progress
            .finished((before - self.offline.len()) as u64);
        if let SyncState::Syncing { asked, .. } = self.sync {
            if self.lost_since.is_none() && asked.elapsed() >= SNAPSHOT_RETRY {
                self.sync_asked_now();
                out.push(ToMaster::SnapshotRequest { clone: self.me() }.to_data());
            }
        }
        emit(self, ctx, out, Vec::new(), 0);
    }

    fn sync_asked_now(&mut self) {
        if let SyncState::Syncing { asked, .. } = &mut self.sync {
            *asked = Instant::now();
        }
    }
}

impl Actor for StoreClone {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(batches(self.inbox.queue.clone()));
        ctx.run_interval(TICK, Self::tick);
        let request = ToMaster::SnapshotRequest { clone: self.me() }.to_data();
        emit(self, ctx, vec![request], Vec::new(), 0);
    }
}

impl Drop for StoreClone {
    fn drop(&mut self) {
        self.replica.requests.close();
        self.replica.progress.close();
    }
}

/// Writes from the clone's handles.
impl FlowActor for StoreClone {
    fn flow(&mut self) -> &mut Flow {
        &mut self.flow
    }

    /// Writes made while the master is unreachable are buffered, not sent: no window.
    fn takes_writes(&self) -> bool {
        self.lost_since.is_some() || self.in_flight.len() < WINDOW
    }

    fn handle_writes(&mut self, batch: Vec<Request>, ctx: &mut Context<Self>) {
        let mut out = Vec::new();
        self.check_master();
        for request in batch {
            // `put_unique` needs an answer now: it goes out regardless, and times out.
            if self.lost_since.is_some() && request.answer.is_none() {
                self.offline.push_back((Instant::now(), request));
            } else {
                self.send(request, &mut out);
            }
        }
        emit(self, ctx, out, Vec::new(), 0);
    }
}
