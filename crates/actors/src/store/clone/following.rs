//! The clone's side of replication: taking the master's messages in, one batch under one
//! lock of the replica, and carrying out what [`CloneSync`](super::CloneSync) decides.

use std::sync::MutexGuard;
use std::time::Instant;

use actix::prelude::*;
use broker_store::messages::{store_events, ToClones};
use broker_wire::{Data, Topic};

use super::sync::{CopyAction, Effects, Numbered};
use super::StoreClone;
use crate::status::ErrorCode;
use crate::store::emit_error;
use crate::store::flow::{emit, writes_first};

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
    /// Carries out what the sync decided for one message: changes to the copy under the
    /// batch's lock, answered writes counted for the end of the batch, the rest at once.
    fn carry_out(&mut self, fx: &mut Effects, batch: &mut Batch) {
        for action in fx.copy.drain(..) {
            match action {
                CopyAction::Load(entries) => {
                    if let Err(error) = batch.store.load_snapshot(entries) {
                        let message = format!(
                            "store {}: loading a snapshot failed: {error}",
                            self.replica.name
                        );
                        emit_error(&self.shared, ErrorCode::BackendFailure, message);
                    }
                }
                CopyAction::Apply(numbered) => self.apply(&numbered, batch),
            }
        }
        batch.answered += std::mem::take(&mut fx.answered);
        batch.synced |= std::mem::take(&mut fx.synced);
        self.settle(fx, &mut batch.out);
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
}

/// Messages from the master.
impl StreamHandler<Vec<(Topic, Data)>> for StoreClone {
    fn handle(&mut self, messages: Vec<(Topic, Data)>, ctx: &mut Context<Self>) {
        writes_first(self, ctx);
        if self.broker.is_some() {
            self.broker_commands(super::broker::broker_commands(&messages), ctx);
            return;
        }
        let replica = self.replica.clone();
        let events_listen = self
            .shared
            .routes()
            .subscriber_wants(&self.flow.events_topic);
        let mut batch = Batch {
            store: replica.store(),
            events_listen,
            out: Vec::new(),
            events: Vec::new(),
            answered: 0,
            synced: false,
        };
        let mut fx = Effects::default();
        for (_, data) in messages {
            // Anything else on the topic is not ours to interpret.
            // A Broker master's commands are not for this protocol.
            if let Ok(
                message @ (ToClones::Change { .. }
                | ToClones::Snapshot { .. }
                | ToClones::PutUniqueResult { .. }
                | ToClones::OpFailed { .. }
                | ToClones::Alive { .. }),
            ) = ToClones::from_data(&data)
            {
                self.sync.receive(message, Instant::now(), &mut fx);
                self.carry_out(&mut fx, &mut batch);
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
        if synced && self.sync.following() {
            replica.progress.set_synced(true);
        }
        replica.progress.finished(answered);
        emit(self, ctx, out, events, 0);
    }
}
