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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use actix::prelude::*;
use broker_store::messages::{
    events_topic, master_topic, store_events, EntityId, ToClones, ToMaster,
};
use broker_store::Change;
use broker_wire::{Data, Timestamp, Topic};

use crate::routing::{matches, publish_async, Shared};
use crate::status::ErrorCode;
use crate::store_handle::CloneOptions;
use crate::store_hooks::{batches, deliver_locally, emit_error};
use crate::store_master::HEARTBEAT;
use crate::store_replica::{Replica, Request};
use crate::subscriber::Subscriber;

/// Silence after which the master counts as unreachable: a few missed heartbeats.
pub(crate) const LOST_AFTER: Duration = Duration::from_millis(3 * HEARTBEAT.as_millis() as u64);
/// How often the clone checks timers (staleness, buffered writes, snapshot retries).
const TICK: Duration = Duration::from_millis(100);
/// How long to wait for a snapshot before asking again (the first request can cross the
/// master's learning of our subscription and be lost).
const SNAPSHOT_RETRY: Duration = Duration::from_millis(250);
/// Changes kept while waiting for a snapshot; beyond that the snapshot will cover them.
const MAX_BUFFERED: usize = 1 << 20;

/// A change as the master numbered it.
struct Numbered {
    epoch: u64,
    seq: u64,
    applied_at: Timestamp,
    change: Change,
    origin: EntityId,
}

/// What handling one batch of the master's messages accumulates: the replica stays locked
/// for the whole batch, and progress is reported once it is applied.
struct Batch<'a> {
    store: MutexGuard<'a, broker_store::Store>,
    /// Whether any local subscriber wants the store events: otherwise none are built.
    events_listen: bool,
    /// Messages for the master.
    out: Vec<Data>,
    /// Store events for local subscribers.
    events: Vec<Data>,
    /// Writes of ours the batch answered.
    answered: u64,
    /// Whether the batch completed a sync.
    synced: bool,
}

/// Where the clone stands with the master's sequence.
enum SyncState {
    /// Asked for a snapshot at `asked`; buffering the changes that arrive meanwhile.
    Syncing {
        asked: Instant,
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
    master_topic: Topic,
    events_topic: Topic,
    /// Keeps the subscription to the clone topic; its queue feeds the actor.
    inbox: Subscriber,
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
}

impl StoreClone {
    /// Starts the clone of `replica` on the current (endpoint) thread.
    pub(crate) fn launch(
        replica: Arc<Replica>,
        shared: Arc<Shared>,
        inbox: Subscriber,
        options: CloneOptions,
    ) {
        let name = replica.name.clone();
        StoreClone {
            master_topic: master_topic(&name),
            events_topic: events_topic(&name),
            replica,
            shared,
            options,
            inbox,
            sync: SyncState::Syncing {
                asked: Instant::now(),
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
            .any(|peer| matches(&peer.filter, &self.master_topic))
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

    /// A request of ours was answered; counted in `batch`, reported once the batch is
    /// applied.
    fn answered(&mut self, request: u64, batch: &mut Batch) {
        if self.in_flight.remove(&request) {
            batch.answered += 1;
        }
    }

    /// Takes a numbered change in.
    fn take_change(&mut self, numbered: Numbered, batch: &mut Batch) {
        match &mut self.sync {
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
                self.apply(&numbered, batch);
            }
            SyncState::Following { .. } => {
                self.resync(&mut batch.out);
                self.take_change(numbered, batch)
            }
        }
    }

    fn apply(&self, numbered: &Numbered, batch: &mut Batch) {
        if let Err(error) = batch.store.apply_change(&numbered.change) {
            let message = format!(
                "store {}: applying a change failed: {error}",
                self.replica.name
            );
            emit_error(&self.shared, ErrorCode::BackendFailure, message);
        }
        if batch.events_listen {
            batch.events.extend(store_events(
                &self.replica.name,
                &numbered.change,
                numbered.applied_at,
                &numbered.origin,
            ));
        }
    }

    /// Loads a snapshot taken after change `seq` of `epoch` and the buffered changes that
    /// follow it.
    fn load(&mut self, epoch: u64, seq: u64, entries: Vec<broker_store::Entry>, batch: &mut Batch) {
        let SyncState::Syncing { buffered, .. } = &mut self.sync else {
            return;
        };
        let buffered = std::mem::take(buffered);
        if let Err(error) = batch.store.load_snapshot(entries) {
            let message = format!(
                "store {}: loading a snapshot failed: {error}",
                self.replica.name
            );
            emit_error(&self.shared, ErrorCode::BackendFailure, message);
        }
        let mut next = seq + 1;
        for numbered in buffered.into_iter().filter(|n| n.epoch == epoch) {
            if numbered.seq < next {
                continue;
            }
            if numbered.seq > next {
                // Something between the snapshot and the buffer got lost.
                self.resync(&mut batch.out);
                return;
            }
            next += 1;
            self.apply(&numbered, batch);
        }
        self.sync = SyncState::Following { epoch, next };
        self.replica.stale.store(false, Ordering::Relaxed);
        batch.synced = true;
    }

    /// Handles one message from the master.
    fn receive(&mut self, message: ToClones, batch: &mut Batch) {
        self.heard(&mut batch.out);
        let me = self.me();
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
                self.take_change(numbered, batch);
                // Answered only once applied: `await_idle` promises the write is visible.
                if origin == me {
                    self.answered(request, batch);
                }
            }
            ToClones::Snapshot {
                epoch,
                seq,
                clone,
                entries,
            } if clone == me => self.load(epoch, seq, entries, batch),
            ToClones::PutUniqueResult {
                clone,
                request,
                inserted,
            } if clone == me => {
                if let Some(answer) = self.waiting.remove(&request) {
                    // The caller may have timed out and gone.
                    let _ = answer.try_send(inserted);
                }
            }
            ToClones::OpFailed {
                clone,
                request,
                code,
                message,
            } if clone == me => {
                self.answered(request, batch);
                let code = status_code(code);
                emit_error(
                    &self.shared,
                    code,
                    format!("store {}: {message}", self.replica.name),
                );
            }
            ToClones::Alive { epoch, seq } => {
                let behind = match self.sync {
                    SyncState::Following { epoch: e, next } => epoch != e || seq >= next,
                    SyncState::Syncing { .. } => false,
                };
                if behind {
                    self.resync(&mut batch.out);
                }
            }
            // Answers meant for other clones.
            _ => {}
        }
    }

    /// Publishes messages for the master and local store events, holding further input
    /// until done.
    fn flush(&mut self, to_master: Vec<Data>, events: Vec<Data>, ctx: &mut Context<Self>) {
        if to_master.is_empty() && events.is_empty() {
            return;
        }
        let to_master = to_master
            .into_iter()
            .map(|d| (self.master_topic.clone(), d))
            .collect();
        let events = events
            .into_iter()
            .map(|d| (self.events_topic.clone(), d))
            .collect();
        let shared = self.shared.clone();
        let publishing = async move {
            publish_async(&shared, to_master).await;
            deliver_locally(&shared, events).await;
        };
        ctx.wait(publishing.into_actor(self));
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
        self.flush(out, Vec::new(), ctx);
    }

    fn sync_asked_now(&mut self) {
        if let SyncState::Syncing { asked, .. } = &mut self.sync {
            *asked = Instant::now();
        }
    }
}

/// The status code for a code the master sent.
fn status_code(code: u8) -> ErrorCode {
    match code {
        9 => ErrorCode::NoSuchKey,
        11 => ErrorCode::TypeClash,
        12 => ErrorCode::InvalidData,
        13 => ErrorCode::BackendFailure,
        _ => ErrorCode::Unspecified,
    }
}

impl Actor for StoreClone {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(batches(self.replica.requests.clone()));
        ctx.add_stream(batches(self.inbox.inbox.queue.clone()));
        ctx.run_interval(TICK, Self::tick);
        let request = ToMaster::SnapshotRequest { clone: self.me() }.to_data();
        self.flush(vec![request], Vec::new(), ctx);
    }
}

impl Drop for StoreClone {
    fn drop(&mut self) {
        self.replica.requests.close();
        self.replica.progress.close();
    }
}

/// Writes from the clone's handles.
impl StreamHandler<Vec<Request>> for StoreClone {
    fn handle(&mut self, batch: Vec<Request>, ctx: &mut Context<Self>) {
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
        self.flush(out, Vec::new(), ctx);
    }
}

/// Messages from the master.
impl StreamHandler<Vec<(Topic, Data)>> for StoreClone {
    fn handle(&mut self, messages: Vec<(Topic, Data)>, ctx: &mut Context<Self>) {
        let replica = self.replica.clone();
        let events_listen = self
            .shared
            .routes()
            .subscribers
            .iter()
            .any(|s| matches(&s.filter, &self.events_topic));
        let mut batch = Batch {
            store: replica.store(),
            events_listen,
            out: Vec::new(),
            events: Vec::new(),
            answered: 0,
            synced: false,
        };
        for (_, data) in messages {
            // Anything else on the topic is not ours to interpret.
            if let Ok(message) = ToClones::from_data(&data) {
                self.receive(message, &mut batch);
            }
        }
        let Batch {
            store,
            out,
            events,
            answered,
            synced,
            ..
        } = batch;
        // Visible first, then reported: `await_idle` promises answered writes are visible.
        drop(store);
        // A resync later in the batch undoes the sync.
        if synced && matches!(self.sync, SyncState::Following { .. }) {
            replica.progress.set_synced(true);
        }
        replica.progress.finished(answered);
        self.flush(out, events, ctx);
    }
}
