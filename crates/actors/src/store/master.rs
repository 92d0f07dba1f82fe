//! The master actor of a data store: applies writes in arrival order (from its handles and
//! from clones), numbers every change, sends the changes to the clones, answers snapshot
//! requests and `put_unique`, runs the expiry timer, and publishes store events locally.
//!
//! Broker clones and writers (over Broker's native protocol) are served beside broker-rs
//! clones: their commands arrive on the same topic, [`BrokerClones`] decides what to
//! answer and apply, and every change is also numbered on Broker's channel once a Broker
//! clone is attached (so between broker-rs endpoints nothing of it runs).
//!
//! Its inputs are two queues: its handles' writes and the messages its subscription to
//! `<name>/<$>/data/master` receives. Each batch is applied and what it produced is queued
//! for publishing in order (`flow`): the master keeps taking what clones send while
//! its output waits for room, and takes its handles' writes only once that output is out.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use broker_store::channel::TICK;
use broker_store::messages::{
    clone_topic, events_topic, store_events, EntityId, ToClones, ToMaster,
};
use broker_store::native::{
    change_to_command, command_to_operation, from_native, to_native, BrokerClones, MasterStep,
};
use broker_store::{Change, Operation, Replays, StoreError};
use broker_wire::native::{Command, InternalCommand};
use broker_wire::{Data, Timestamp, Topic};

use crate::routing::Shared;
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
    /// Whether any peer or WebSocket client subscribes to the clone topic: changes
    /// nobody would receive are not even encoded.
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
    /// Broker's channels to Broker clones and from Broker writers.
    broker: BrokerClones,
    /// Whether the tick of Broker's channels runs (from the first Broker command on).
    broker_ticking: bool,
    flow: Flow,
    /// Which of our clones' writes to apply.
    replays: Replays,
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
            broker: BrokerClones::new(replica.entity),
            broker_ticking: false,
            replays: Replays::default(),
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
        // Numbered for Broker clones while attached, listening or not: a clone cut off
        // for a moment nacks what it missed.
        if self.broker.has_clones() {
            let command = change_to_command(&change, applied_at, origin);
            let mut steps = Vec::new();
            self.broker.broadcast(command, &mut steps);
            self.take_broker_steps(steps, out);
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

    /// Carries out what Broker's channels decided that needs no store: commands to send.
    fn take_broker_steps(&mut self, steps: Vec<MasterStep>, out: &mut Output) {
        for step in steps {
            match step {
                MasterStep::Send(command) => {
                    out.to_clones.push(ToClones::Broker(command).to_data())
                }
                // Produced only by `receive`, which `broker_command` handles.
                MasterStep::AckClone { .. }
                | MasterStep::Apply { .. }
                | MasterStep::WriteLost { .. } => {
                    unreachable!("a broadcast or tick only sends")
                }
            }
        }
    }

    /// A command from a Broker clone or writer: attaches clones (with a snapshot),
    /// applies writers' actions in order, answers `put_unique`.
    fn broker_command(
        &mut self,
        store: &mut broker_store::Store,
        command: InternalCommand,
        now: Timestamp,
        out: &mut Output,
    ) {
        let mut steps = Vec::new();
        self.broker.receive(command, &mut steps);
        for step in steps {
            match step {
                MasterStep::Send(command) => {
                    out.to_clones.push(ToClones::Broker(command).to_data())
                }
                MasterStep::AckClone {
                    clone,
                    offset,
                    heartbeat_interval,
                } => match store.snapshot() {
                    Ok(entries) => {
                        let state = entries.into_iter().map(|e| (e.key, e.value)).collect();
                        let ack = InternalCommand {
                            seq: offset,
                            sender: to_native(self.replica.entity),
                            receiver: clone,
                            content: Command::AckClone {
                                offset,
                                heartbeat_interval,
                                state,
                            },
                        };
                        out.to_clones.push(ToClones::Broker(ack).to_data());
                    }
                    Err(error) => {
                        let message =
                            format!("store {}: snapshot failed: {error}", self.replica.name);
                        emit_error(&self.shared, ErrorCode::BackendFailure, message);
                    }
                },
                MasterStep::Apply { writer, command } => {
                    self.broker_write(store, writer, command, now, out)
                }
                MasterStep::WriteLost { writer, seq } => {
                    let message = format!(
                        "store {}: write {seq} of Broker writer {} was lost (it could not \
                         resend it); going on without it",
                        self.replica.name, writer.endpoint
                    );
                    emit_error(&self.shared, ErrorCode::Unspecified, message);
                }
            }
        }
    }

    /// Applies a Broker writer's action; a `put_unique` is answered to every clone, as
    /// Broker's master does.
    fn broker_write(
        &mut self,
        store: &mut broker_store::Store,
        writer: broker_wire::native::EntityId,
        command: Command,
        now: Timestamp,
        out: &mut Output,
    ) {
        let publisher = match &command {
            Command::Put { publisher, .. }
            | Command::PutUnique { publisher, .. }
            | Command::Erase { publisher, .. }
            | Command::Add { publisher, .. }
            | Command::Subtract { publisher, .. }
            | Command::Clear { publisher } => *publisher,
            _ => writer,
        };
        let answer = match &command {
            Command::PutUnique { who, req_id, .. } => Some((*who, *req_id)),
            _ => None,
        };
        let current = command.key().and_then(|key| store.get(key).ok().flatten());
        let Some(op) = command_to_operation(command, current.as_ref()) else {
            return;
        };
        let inserted = self
            .apply(store, op, now, from_native(publisher), 0, out)
            .unwrap_or(false);
        if let Some((who, req_id)) = answer {
            let result = Command::PutUniqueResult {
                inserted,
                who,
                req_id,
                publisher: to_native(self.replica.entity),
            };
            let mut steps = Vec::new();
            self.broker.broadcast(result, &mut steps);
            self.take_broker_steps(steps, out);
        }
    }

    /// One tick of Broker's channels.
    fn broker_tick(&mut self, ctx: &mut Context<Self>) {
        let mut out = self.output();
        let mut steps = Vec::new();
        self.broker.tick(&mut steps);
        self.take_broker_steps(steps, &mut out);
        self.emit(out, 0, ctx);
    }

    /// An empty output, knowing who listens right now.
    fn output(&self) -> Output {
        let routes = self.shared.routes();
        Output {
            clones_listen: routes.peer_wants(&self.flow.peer_topic),
            events_listen: routes.subscriber_wants(&self.flow.events_topic),
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
                ToMaster::Op {
                    clone,
                    request,
                    op,
                    replayed,
                } => {
                    if !self.replays.admit(clone, request, replayed) {
                        continue; // applied already, or perhaps by our predecessor
                    }
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
                ToMaster::Broker(command) => {
                    self.broker_command(&mut store, command, now, &mut out)
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
        if self.broker.active() && !self.broker_ticking {
            self.broker_ticking = true;
            ctx.run_interval(TICK, Self::broker_tick);
        }
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
