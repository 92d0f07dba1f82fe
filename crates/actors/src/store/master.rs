//! The master actor of a data store: applies writes in arrival order (from its handles and
//! from clones), numbers every change, sends the changes to the clones, answers snapshot
//! requests and `put_unique`, runs the expiry timer, and publishes store events locally.
//!
//! Its inputs are two queues: its handles' writes and the messages its subscription to
//! `<name>/<$>/data/master` receives. Each batch is applied and what it produced is queued
//! for publishing in order (`flow`): the master keeps taking what clones send while
//! its output waits for room, and takes its handles' writes only once that output is out.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use broker_store::messages::{
    clone_topic, events_topic, store_events, EntityId, ToClones, ToMaster,
};
use broker_store::{Change, Operation, StoreError};
use broker_wire::{Data, Timestamp, Topic};

use crate::routing::{matches, Shared};
use crate::status::ErrorCode;

use super::flow::{emit, flush, writes_first, Flow, FlowActor};
use super::replica::{Replica, Request};
use super::{emit_error, received, Inbox, HEARTBEAT};

/// What one batch of work produced.
#[derive(Default)]
struct Output {
    /// Messages for the clones.
    to_clones: Vec<Data>,
    /// Store events for local subscribers.
    events: Vec<Data>,
    /// Whether any peer subscribes to the clone topic: changes nobody would receive are
    /// not even encoded.
    clones_listen: bool,
    /// Whether any local subscriber wants the store events.
    events_listen: bool,
}

/// The master actor.
pub(crate) struct StoreMaster {
    replica: Arc<Replica>,
    shared: Arc<Shared>,
    /// Distinguishes this run's sequence numbers from any other master's.
    epoch: u64,
    /// The number of the last change.
    seq: u64,
    /// The subscription to the master topic; its queue feeds the actor.
    inbox: Inbox,
    /// The pending expiry timer and the expiry it fires for.
    expiry_timer: Option<(SpawnHandle, Timestamp)>,
    flow: Flow,
}

impl StoreMaster {
    /// Starts the master of `replica` on the current (endpoint) thread.
    pub(crate) fn launch(replica: Arc<Replica>, shared: Arc<Shared>, inbox: Inbox) {
        let name = replica.name.clone();
        StoreMaster {
            epoch: fresh_epoch(),
            seq: 0,
            flow: Flow::new(
                shared.clone(),
                replica.clone(),
                clone_topic(&name),
                events_topic(&name),
            ),
            replica,
            shared,
            inbox,
            expiry_timer: None,
        }
        .start();
    }

    /// Applies `op` to `store` (the locked replica) for `origin`'s request `request`;
    /// whether it changed anything.
    fn apply(
        &mut self,
        store: &mut broker_store::Store,
        op: Operation,
        now: Timestamp,
        origin: EntityId,
        request: u64,
        out: &mut Output,
    ) -> Result<bool, StoreError> {
        let name = op.name();
        let applied = store.apply(op, now);
        match applied {
            Ok(Some(change)) => {
                self.record(change, now, origin, request, out);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(error) => {
                let message = format!("store {}: {name} failed: {error}", self.replica.name);
                emit_error(&self.shared, error.code(), message);
                Err(error)
            }
        }
    }

    /// Numbers a change and queues it for the clones and the local subscribers.
    fn record(
        &mut self,
        change: Change,
        applied_at: Timestamp,
        origin: EntityId,
        request: u64,
        out: &mut Output,
    ) {
        self.seq += 1;
        if out.events_listen {
            out.events.extend(store_events(
                &self.replica.name,
                &change,
                applied_at,
                &origin,
            ));
        }
        if !out.clones_listen {
            return;
        }
        let message = ToClones::Change {
            epoch: self.epoch,
            seq: self.seq,
            applied_at,
            change,
            origin,
            request,
        };
        out.to_clones.push(message.to_data());
    }

    /// An empty output, knowing who listens right now.
    fn output(&self) -> Output {
        let routes = self.shared.routes();
        Output {
            clones_listen: routes
                .peers
                .iter()
                .any(|p| matches(&p.filter, &self.flow.peer_topic)),
            events_listen: routes
                .subscribers
                .iter()
                .any(|s| matches(&s.filter, &self.flow.events_topic)),
            ..Output::default()
        }
    }

    /// Expires every entry due at `now`.
    fn expire(&mut self, now: Timestamp, out: &mut Output) {
        let due = {
            let mut store = self.replica.store();
            match store.next_expiry() {
                Ok(Some(next)) if next <= now => store.expire_due(now),
                Ok(_) => return,
                Err(error) => Err(error),
            }
        };
        match due {
            Ok(changes) => {
                let me = self.replica.entity;
                for change in changes {
                    self.record(change, now, me, 0, out);
                }
            }
            Err(error) => {
                let message = format!(
                    "store {}: expiring entries failed: {error}",
                    self.replica.name
                );
                emit_error(&self.shared, ErrorCode::BackendFailure, message);
            }
        }
    }

    /// Arms the timer for the next expiry, unless it is armed for it already.
    fn schedule_expiry(&mut self, ctx: &mut Context<Self>) {
        let next = self.replica.store().next_expiry().ok().flatten();
        if self.expiry_timer.as_ref().map(|(_, at)| *at) == next {
            return;
        }
        if let Some((timer, _)) = self.expiry_timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(at) = next else { return };
        let delay = Duration::from_nanos(
            u64::try_from(at.0.saturating_sub(Timestamp::now().0)).unwrap_or(0),
        );
        let timer = ctx.run_later(delay, |act, ctx| {
            act.expiry_timer = None;
            let mut out = act.output();
            act.expire(Timestamp::now(), &mut out);
            act.emit(out, 0, ctx);
            act.schedule_expiry(ctx);
        });
        self.expiry_timer = Some((timer, at));
    }

    /// Queues what a batch produced; `finished` writes count as handled once it is out.
    fn emit(&mut self, out: Output, finished: u64, ctx: &mut Context<Self>) {
        emit(self, ctx, out.to_clones, out.events, finished);
    }
}

impl Actor for StoreMaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(received(&self.inbox));
        flush(self, ctx);
        ctx.run_interval(HEARTBEAT, |act, ctx| {
            let alive = ToClones::Alive {
                epoch: act.epoch,
                seq: act.seq,
            };
            let mut out = act.output();
            out.to_clones.push(alive.to_data());
            act.emit(out, 0, ctx);
        });
        // A master attached to a persistent backend may hold entries that expire.
        self.schedule_expiry(ctx);
    }
}

impl Drop for StoreMaster {
    fn drop(&mut self) {
        // Writers blocked on a full queue and readers waiting for writes give up.
        self.replica.requests.close();
        self.replica.progress.close();
    }
}

/// Writes from the master's own handles.
impl FlowActor for StoreMaster {
    fn flow(&mut self) -> &mut Flow {
        &mut self.flow
    }

    fn takes_writes(&self) -> bool {
        true
    }

    fn handle_writes(&mut self, batch: Vec<Request>, ctx: &mut Context<Self>) {
        let now = Timestamp::now();
        let mut out = self.output();
        // Before put_unique decides anything, expired entries must be gone.
        self.expire(now, &mut out);
        let mut counted = 0;
        let me = self.replica.entity;
        // One lock for the batch; readers wait for `applied`, counted after it.
        let replica = self.replica.clone();
        let mut store = replica.store();
        for Request { op, answer } in batch {
            let changed = self.apply(&mut store, op, now, me, 0, &mut out);
            match answer {
                Some(answer) => {
                    // The caller may have timed out and gone; nothing to tell then.
                    let _ = answer.try_send(changed.unwrap_or(false));
                }
                None => counted += 1,
            }
        }
        drop(store);
        self.replica.progress.applied(counted);
        self.emit(out, counted, ctx);
        self.schedule_expiry(ctx);
    }
}

/// Messages from clones.
impl StreamHandler<Vec<(Topic, Data)>> for StoreMaster {
    fn handle(&mut self, batch: Vec<(Topic, Data)>, ctx: &mut Context<Self>) {
        writes_first(self, ctx);
        let now = Timestamp::now();
        let mut out = self.output();
        self.expire(now, &mut out);
        let replica = self.replica.clone();
        let mut store = replica.store();
        for (_, data) in batch {
            // Anything else on the topic is not ours to interpret.
            let Ok(message) = ToMaster::from_data(&data) else {
                continue;
            };
            match message {
                ToMaster::Op { clone, request, op } => {
                    let put_unique = matches!(op, Operation::PutUnique { .. });
                    let reply = match self.apply(&mut store, op, now, clone, request, &mut out) {
                        Ok(inserted) if put_unique => Some(ToClones::PutUniqueResult {
                            clone,
                            request,
                            inserted,
                        }),
                        Ok(_) => None,
                        Err(error) => Some(ToClones::OpFailed {
                            clone,
                            request,
                            code: error.code().code(),
                            message: error.to_string(),
                        }),
                    };
                    out.to_clones.extend(reply.map(|r| r.to_data()));
                }
                ToMaster::SnapshotRequest { clone } => match store.snapshot() {
                    Ok(entries) => {
                        let snapshot = ToClones::Snapshot {
                            epoch: self.epoch,
                            seq: self.seq,
                            clone,
                            entries,
                        };
                        out.to_clones.push(snapshot.to_data());
                    }
                    Err(error) => {
                        let message =
                            format!("store {}: snapshot failed: {error}", self.replica.name);
                        emit_error(&self.shared, ErrorCode::BackendFailure, message);
                    }
                },
            }
        }
        drop(store);
        self.emit(out, 0, ctx);
        self.schedule_expiry(ctx);
    }
}

/// A number unlikely to repeat across masters and restarts.
fn fresh_epoch() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(Timestamp::now().0);
    hasher.finish()
}
