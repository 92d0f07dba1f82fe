//! The clone actor of a data store: keeps a copy that follows the master's numbered changes,
//! forwards its handles' writes to the master, and publishes store events locally.
//!
//! With a Broker master (a Broker peer subscribing to the master topic) the clone speaks
//! Broker's protocol instead (`clone/broker.rs`, its decisions
//! `broker_store::native::BrokerMaster`); it picks the protocol at start and on every
//! tick, from the peers listing the master topic.
//!
//! What to send, apply and answer is decided by [`CloneSync`] (`clone/sync.rs`), a plain
//! state machine: following the master's sequence, resyncing from snapshots, noticing an
//! unreachable master, keeping writes made meanwhile. The actor feeds it the master's
//! messages (`clone/following.rs`), its handles' writes and a periodic tick, and carries
//! out what it decides.
//!
//! Writes in flight when the master becomes unreachable go again once it is back, marked
//! as sent before: the master applies each at most once. Only a master that restarted
//! meanwhile refuses them (its predecessor may have applied them), so they may be lost
//! then, as any in-flight write is in Broker 1.4.
//!
//! The clone keeps applying the master's messages while its own wait for room
//! (`flow`), and sends at most 8192 writes the master has not answered yet: so
//! the master, which takes whatever clones send, holds at most that many per clone.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use broker_store::messages::{events_topic, master_topic};
use broker_wire::Data;

use crate::routing::{matches, Shared};
use crate::status::ErrorCode;

use super::flow::{emit, Flow, FlowActor};
use super::replica::{Replica, Request};
use super::{emit_error, received, CloneOptions, Inbox};

mod broker;
mod following;
mod sync;

use broker_store::native::BrokerMaster;

use sync::{CloneSync, Effects};

/// How often the clone checks timers (staleness, buffered writes, snapshot retries).
const TICK: Duration = Duration::from_millis(100);

/// The clone actor.
pub(crate) struct StoreClone {
    replica: Arc<Replica>,
    shared: Arc<Shared>,
    /// The subscription to the clone topic; its queue feeds the actor.
    inbox: Inbox,
    sync: CloneSync,
    /// `put_unique` callers waiting for the master's answer.
    waiting: HashMap<u64, SyncSender<bool>>,
    /// The channels with a Broker master, while the master is a Broker's.
    broker: Option<BrokerMaster>,
    /// The last request number given to a write for a Broker master.
    next_request: u64,
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
            sync: CloneSync::new(replica.entity, &options, Instant::now()),
            replica,
            shared,
            inbox,
            waiting: HashMap::new(),
            broker: None,
            next_request: 0,
        }
        .start();
    }

    /// Whether some peer subscribes to the master topic (if none does, the master is
    /// unreachable).
    fn master_listed(&self) -> bool {
        let routes = self.shared.routes();
        routes
            .peers
            .iter()
            .any(|peer| matches(&peer.filter, &self.flow.peer_topic))
    }

    /// Carries out what the sync decided, its changes to the copy and its answered writes
    /// aside (`following.rs` applies those under the replica's lock); messages for the
    /// master go to `out`.
    fn settle(&mut self, fx: &mut Effects, out: &mut Vec<Data>) {
        out.extend(fx.to_master.drain(..).map(|message| message.to_data()));
        if std::mem::take(&mut fx.unsynced) {
            self.replica.progress.set_synced(false);
        }
        self.replica
            .progress
            .finished(std::mem::take(&mut fx.given_up));
        if let Some(stale) = fx.stale.take() {
            self.replica.stale.store(stale, Ordering::Relaxed);
        }
        for (request, inserted) in fx.put_unique.drain(..) {
            if let Some(answer) = self.waiting.remove(&request) {
                // The caller may have timed out and gone.
                let _ = answer.try_send(inserted);
            }
        }
        for (code, message) in fx.failures.drain(..) {
            let message = format!("store {}: {message}", self.replica.name);
            emit_error(&self.shared, status_code(code), message);
        }
    }

    /// Periodic checks (see [`CloneSync::tick`]).
    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.choose_protocol(ctx);
        if self.broker.is_some() {
            self.broker_tick(ctx);
            return;
        }
        let mut fx = Effects::default();
        self.sync
            .tick(Instant::now(), self.master_listed(), &mut fx);
        let mut out = Vec::new();
        self.settle(&mut fx, &mut out);
        emit(self, ctx, out, Vec::new(), 0);
    }
}

/// The status code for a code the master sent; `Unspecified` for a number that is no
/// error code.
fn status_code(code: u8) -> ErrorCode {
    ErrorCode::from_u8(code)
        .filter(|&code| code != ErrorCode::NoError)
        .unwrap_or(ErrorCode::Unspecified)
}

impl Actor for StoreClone {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.add_stream(received(&self.inbox));
        ctx.run_interval(TICK, Self::tick);
        self.choose_protocol(ctx);
        if self.broker.is_some() {
            return;
        }
        let mut fx = Effects::default();
        self.sync.start(Instant::now(), &mut fx);
        let mut out = Vec::new();
        self.settle(&mut fx, &mut out);
        emit(self, ctx, out, Vec::new(), 0);
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

    fn takes_writes(&self) -> bool {
        self.broker.is_some() || self.sync.takes_writes()
    }

    fn handle_writes(&mut self, batch: Vec<Request>, ctx: &mut Context<Self>) {
        if self.broker.is_some() {
            self.broker_writes(batch, ctx);
            return;
        }
        let now = Instant::now();
        let mut fx = Effects::default();
        self.sync.check_master(now, self.master_listed());
        for Request { op, answer } in batch {
            let sent = self.sync.write(op, answer.is_some(), now, &mut fx);
            if let (Some(request), Some(answer)) = (sent, answer) {
                self.waiting.insert(request, answer);
            }
        }
        let mut out = Vec::new();
        self.settle(&mut fx, &mut out);
        emit(self, ctx, out, Vec::new(), 0);
    }
}
