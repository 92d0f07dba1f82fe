//! The store runtime: data stores (masters and clones) on an endpoint.
//!
//! A [`Store`] handle (`handle`) and its actor (`master`, `clone`) share a `Replica`
//! (`replica`): reads lock it on the caller's thread, writes go to the actor through a
//! bounded queue. `flow` moves an actor's writes in and its messages out without waiting
//! on a peer while holding that peer's input. `Endpoint::attach_*` (`endpoint/stores.rs`)
//! makes the replica and has the Core start the actor (`StoreActor` in
//! `core::StartStore`): the Core subscribes the actor's `Inbox` to the store's topic,
//! as it does any subscriber. The actors publish through the ordinary data path, feed
//! local subscribers through the same delivery as messages from peers
//! (`routing::deliver_local`), and report to the Core only through the `Reporter`.
//! Nothing here depends on the Core or the handles of the endpoint.
//!
//! This file holds what several of them share: the public option and error types, and
//! the few helpers every actor uses.

mod clone;
mod flow;
mod handle;
mod master;
mod replica;

use std::sync::Arc;
use std::time::Duration;

use broker_store::messages::{clone_topic, master_topic};
use broker_store::StoreError;
use broker_wire::{Data, Topic};
use futures::{Stream, StreamExt};
use thiserror::Error;

use crate::error::EndpointError;
use crate::queue::BoundedQueue;
use crate::reports::{Report, Reporter};
use crate::routing::{Shared, SubscriberQueue};
use crate::status::{ErrorCode, StatusEvent};

pub use handle::{expiry_span, PendingPutUnique, QueryError, Store};
pub(crate) use replica::{Progress, Replica};

/// How often a master tells its clones it is alive and how far its sequence goes.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// Whether a store handle is the master or a clone (`broker.Frontend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The authoritative copy, with the backend.
    Master,
    /// A copy following a master on a peer.
    Clone,
}

/// How a clone behaves while attaching and while its master is unreachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneOptions {
    /// How long `attach_clone` waits for a master among the peers, then for the first
    /// snapshot.
    pub attach_timeout: Duration,
    /// Whether `attach_clone` gives up (`Ok(None)`) when no master appears within
    /// `attach_timeout`. Off, as in today's Broker: the clone is attached anyway and
    /// synchronises once its master is reachable.
    pub require_master: bool,
    /// How long reads keep answering after the master became unreachable; later they fail
    /// with `StaleData` until the clone has resynchronised.
    pub stale_interval: Duration,
    /// How long writes made while the master is unreachable are kept for replay.
    pub mutation_buffer_interval: Duration,
    /// How long `put_unique` waits for the master's answer.
    pub request_timeout: Duration,
}

impl Default for CloneOptions {
    /// Broker 1.4's stale and buffer intervals; a few seconds to find the master.
    fn default() -> Self {
        CloneOptions {
            attach_timeout: Duration::from_secs(3),
            require_master: false,
            stale_interval: Duration::from_secs(300),
            mutation_buffer_interval: Duration::from_secs(120),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Why attaching a store failed.
#[derive(Debug, Error)]
pub enum AttachError {
    /// The backend could not be opened.
    #[error("cannot open the backend of store {store}: {source}")]
    Backend {
        /// The store's name.
        store: String,
        /// The backend's failure.
        #[source]
        source: StoreError,
    },
    /// This endpoint already holds the store in the other role.
    #[error("store {store} is already attached here as a {existing:?}")]
    RoleConflict {
        /// The store's name.
        store: String,
        /// The role it has.
        existing: Role,
    },
    /// The endpoint failed or was shut down.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

/// Messages from peers a store actor may have pending before peers wait.
const INBOX_QUEUE: usize = 4096;

/// A store actor to start on the endpoint's thread: what `attach_*` hands the Core.
pub(crate) struct StoreActor {
    replica: Arc<Replica>,
    /// A clone's options; `None` for a master.
    clone: Option<CloneOptions>,
}

impl StoreActor {
    /// The master of `replica`.
    pub(crate) fn master(replica: Arc<Replica>) -> Self {
        StoreActor {
            replica,
            clone: None,
        }
    }

    /// A clone of `replica`.
    pub(crate) fn clone(replica: Arc<Replica>, options: CloneOptions) -> Self {
        StoreActor {
            replica,
            clone: Some(options),
        }
    }

    /// The topic the actor's inbox subscribes to: where the other side publishes.
    pub(crate) fn topic(&self) -> Topic {
        match self.clone {
            None => master_topic(&self.replica.name),
            Some(_) => clone_topic(&self.replica.name),
        }
    }

    /// Starts the actor on the current (endpoint) thread, fed by `inbox`.
    pub(crate) fn start(self, shared: Arc<Shared>, inbox: Inbox) {
        match self.clone {
            None => master::StoreMaster::launch(self.replica, shared, inbox),
            Some(options) => clone::StoreClone::launch(self.replica, shared, inbox, options),
        }
    }
}

/// A store actor's subscription to its topic: the Core routes to `queue` from when it
/// starts the actor until the inbox is dropped with the actor.
pub(crate) struct Inbox {
    id: u64,
    pub(crate) queue: Arc<SubscriberQueue>,
    reporter: Reporter,
}

impl Inbox {
    /// An empty inbox for subscription `id`.
    pub(crate) fn new(id: u64, reporter: Reporter) -> Self {
        Inbox {
            id,
            queue: Arc::new(BoundedQueue::new(INBOX_QUEUE, None, None)),
            reporter,
        }
    }

    /// The subscription's id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.reporter.report(Report::Unsubscribe(self.id));
    }
}

/// Reports a store error to the endpoint's status subscribers.
fn emit_error(shared: &Shared, code: ErrorCode, message: String) {
    let event = StatusEvent::error(code, None, message);
    shared.reporter.report(Report::Status(event));
}

/// What an inbox receives, in batches, its values decoded, until it is closed and
/// drained.
fn received(inbox: &Inbox) -> impl Stream<Item = Vec<(Topic, Data)>> {
    batches(inbox.queue.clone()).map(|batch| {
        batch
            .into_iter()
            .map(|(topic, payload)| (topic, payload.into_data()))
            .collect()
    })
}

/// Everything a queue receives, in batches, until it is closed and drained.
fn batches<T: Send + 'static>(queue: Arc<BoundedQueue<T>>) -> impl Stream<Item = Vec<T>> {
    futures::stream::unfold(queue, |queue| async move {
        let batch = queue.pop_all_async().await?;
        Some((batch, queue))
    })
}
