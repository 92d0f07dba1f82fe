//! The clone's side of replication: taking the master's messages in, one batch under one
//! lock of the replica, while following its sequence or waiting for a snapshot.

use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use actix::prelude::*;
use broker_store::messages::{store_events, EntityId, ToClones};
use broker_store::Change;
use broker_wire::{Data, Timestamp, Topic};

use super::{StoreClone, SyncState, MAX_BUFFERED};
use crate::routing::matches;
use crate::status::ErrorCode;
use crate::store::emit_error;
use crate::store::flow::{emit, writes_first};

/// A change as the master numbered it.
pub(super) struct Numbered {
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

impl StoreClone {
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
        let SyncState::Syncing { buffered, sent, .. } = &mut self.sync else {
            return;
        };
        let (buffered, sent) = (std::mem::take(buffered), *sent);
        // The snapshot holds every write sent before it was asked for that the master
        // got; answers lost on the way (say, dropped for a slow peer) are not waited for.
        let before = self.in_flight.len();
        self.in_flight.retain(|&request| request > sent);
        batch.answered += (before - self.in_flight.len()) as u64;
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
}

/// The status code for a code the master sent; `Unspecified` for a number that is no
/// error code.
fn status_code(code: u8) -> ErrorCode {
    ErrorCode::from_u8(code)
        .filter(|&code| code != ErrorCode::NoError)
        .unwrap_or(ErrorCode::Unspecified)
}

/// Messages from the master.
impl StreamHandler<Vec<(Topic, Data)>> for StoreClone {
    fn handle(&mut self, messages: Vec<(Topic, Data)>, ctx: &mut Context<Self>) {
        writes_first(self, ctx);
        let replica = self.replica.clone();
        let events_listen = self
            .shared
            .routes()
            .subscribers
            .iter()
            .any(|s| matches(&s.filter, &self.flow.events_topic));
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
        emit(self, ctx, out, events, 0);
    }
}
