//! The store runtime: data stores (masters and clones) on an endpoint.
//!
//! A [`Store`] handle (`handle`, attached by `attach`) and its actor (`master`, `clone`)
//! share a `Replica` (`replica`): reads lock it on the caller's thread, writes go to the
//! actor through a bounded queue. `flow` moves an actor's writes in and its messages out
//! without waiting on a peer while holding that peer's input. The actors are started by
//! the Core ([`StoreActor::start`] behind `core::StartStore`), publish through the
//! ordinary data path and feed local subscribers through the same delivery as messages
//! from peers (`routing::deliver_local`).
//!
//! This file holds what several of them share: the public option and error types, and
//! the few helpers every actor uses.

mod attach;
mod clone;
mod flow;
mod handle;
mod master;
mod replica;

use std::sync::Arc;
use std::time::Duration;

use broker_store::StoreError;
use futures::Stream;
use thiserror::Error;

use crate::error::EndpointError;
use crate::queue::BoundedQueue;
use crate::reports::Report;
use crate::routing::Shared;
use crate::status::{ErrorCode, StatusEvent};
use crate::subscriber::Subscriber;

pub use handle::{expiry_span, QueryError, Store};
use replica::Replica;

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

/// The status error code of a store error.
fn error_code(error: &StoreError) -> ErrorCode {
    match error.code() {
        broker_store::ErrorCode::NoSuchKey => ErrorCode::NoSuchKey,
        broker_store::ErrorCode::TypeClash => ErrorCode::TypeClash,
        broker_store::ErrorCode::InvalidData => ErrorCode::InvalidData,
        broker_store::ErrorCode::BackendFailure => ErrorCode::BackendFailure,
    }
}

/// A store actor to start on the endpoint's thread: what `attach_*` hands the Core.
pub(crate) struct StoreActor {
    replica: Arc<Replica>,
    /// The subscription to the store's internal topic, which feeds the actor.
    inbox: Subscriber,
    /// A clone's options; `None` for a master.
    clone: Option<CloneOptions>,
}

impl StoreActor {
    /// Starts the actor on the current (endpoint) thread.
    pub(crate) fn start(self, shared: Arc<Shared>) {
        match self.clone {
            None => master::StoreMaster::launch(self.replica, shared, self.inbox),
            Some(options) => clone::StoreClone::launch(self.replica, shared, self.inbox, options),
        }
    }
}

/// Reports a store error to the endpoint's status subscribers.
fn emit_error(shared: &Shared, code: ErrorCode, message: String) {
    let event = StatusEvent::error(code, None, message);
    shared.reporter.report(Report::Status(event));
}

/// Everything a queue receives, in batches, until it is closed and drained.
fn batches<T: Send + 'static>(queue: Arc<BoundedQueue<T>>) -> impl Stream<Item = Vec<T>> {
    futures::stream::unfold(queue, |queue| async move {
        let batch = queue.pop_all_async().await?;
        Some((batch, queue))
    })
}
