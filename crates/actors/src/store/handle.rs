//! [`Store`], the handle users hold on a data store (master or clone).
//!
//! Both kinds keep their contents in a [`Replica`] shared between the handle and the store's
//! actor: reads lock it and answer on the caller's thread (no actor round trip), writes go
//! to the actor through a bounded queue. A master applies them itself; a clone sends them to
//! the master and sees them only once the master's change comes back. Every call blocks at
//! most for backpressure or a bounded wait, and works from any thread except the endpoint's.
//! Attaching a store is `Endpoint::attach_*` (`endpoint/stores.rs`).

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_store::{Operation, StoreError};
use broker_wire::data::Set;
use broker_wire::{Data, Timespan};
use thiserror::Error;

use super::replica::{Replica, Request};
use super::Role;
use crate::queue::PushError;
use crate::status::ErrorCode;

/// Why a query on a store failed.
#[derive(Debug, Error)]
pub enum QueryError {
    /// The store refused the query (a type clash) or its backend failed.
    #[error("store {store}: {source}")]
    Store {
        /// The store's name.
        store: String,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// A clone lost its master longer than its stale interval ago.
    #[error("store {store}: the clone's data is stale: its master is unreachable")]
    StaleData {
        /// The store's name.
        store: String,
    },
    /// The master did not answer in time.
    #[error("store {store}: request timed out")]
    RequestTimeOut {
        /// The store's name.
        store: String,
    },
    /// The store's actor is gone (the endpoint was shut down).
    #[error("store {store} is closed")]
    Closed {
        /// The store's name.
        store: String,
    },
}

impl QueryError {
    /// Broker's error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            QueryError::Store { source, .. } => source.code(),
            QueryError::StaleData { .. } => ErrorCode::StaleData,
            QueryError::RequestTimeOut { .. } => ErrorCode::RequestTimeOut,
            QueryError::Closed { .. } => ErrorCode::Unspecified,
        }
    }
}

/// A data store, master or clone: cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Store {
    pub(crate) replica: Arc<Replica>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.replica.name)
            .field("role", &self.replica.role)
            .finish()
    }
}

impl Store {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.replica.name
    }

    /// Whether this is the master or a clone.
    pub fn role(&self) -> Role {
        self.replica.role
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &Data) -> Result<bool, QueryError> {
        self.read(|store| store.exists(key))
    }

    /// The value under `key`, or `None`.
    pub fn get(&self, key: &Data) -> Result<Option<Data>, QueryError> {
        self.read(|store| store.get(key))
    }

    /// What `index` designates in the value under `key` (set membership, table value,
    /// vector element); `None` when the key, table key or position does not exist.
    pub fn get_index_from_value(
        &self,
        key: &Data,
        index: &Data,
    ) -> Result<Option<Data>, QueryError> {
        self.read(|store| match store.get_index_from_value(key, index) {
            Err(StoreError::NoSuchKey { .. }) => Ok(None),
            other => other.map(Some),
        })
    }

    /// Every key.
    pub fn keys(&self) -> Result<Set, QueryError> {
        self.read(|store| store.keys())
    }

    /// Stores `value` under `key`, expiring after `expiry` if given.
    pub fn put(&self, key: Data, value: Data, expiry: Option<Duration>) {
        self.write(Operation::Put {
            key,
            value,
            expiry: expiry_span(expiry),
        });
    }

    /// Stores `value` under `key` only if the key is absent, atomically at the master;
    /// whether it did. A clone waits for the master's answer.
    pub fn put_unique(
        &self,
        key: Data,
        value: Data,
        expiry: Option<Duration>,
    ) -> Result<bool, QueryError> {
        let pending = self.put_unique_request(key, value, expiry)?;
        loop {
            if let Some(answer) = pending.wait(self.replica.request_timeout) {
                return answer;
            }
        }
    }

    /// Starts a [`Store::put_unique`] without waiting for its answer, so that callers
    /// can wait in slices (interruptibly) on their own thread. Fails only if the store
    /// is closed or its request queue stayed full for the request timeout.
    pub fn put_unique_request(
        &self,
        key: Data,
        value: Data,
        expiry: Option<Duration>,
    ) -> Result<PendingPutUnique, QueryError> {
        let (answer, outcome) = sync_channel(1);
        let request = Request {
            op: Operation::PutUnique {
                key,
                value,
                expiry: expiry_span(expiry),
            },
            answer: Some(answer),
        };
        let timeout = self.replica.request_timeout;
        let store = self.replica.name.clone();
        match self.replica.requests.push_wait(request, 1, Some(timeout)) {
            Ok(()) => Ok(PendingPutUnique {
                outcome,
                deadline: Instant::now() + timeout,
                store,
            }),
            Err(PushError::Full(_)) => Err(QueryError::RequestTimeOut { store }),
            Err(PushError::Closed(_)) => Err(QueryError::Closed { store }),
        }
    }

    /// Removes `key`.
    pub fn erase(&self, key: Data) {
        self.write(Operation::Erase { key });
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.write(Operation::Clear);
    }

    /// Adds `amount` to the value under `key` (see [`Operation::Increment`]).
    pub fn increment(&self, key: Data, amount: Data, expiry: Option<Duration>) {
        self.write(Operation::Increment {
            key,
            amount,
            expiry: expiry_span(expiry),
        });
    }

    /// Subtracts `amount` from the value under `key` (see [`Operation::Decrement`]).
    pub fn decrement(&self, key: Data, amount: Data, expiry: Option<Duration>) {
        self.write(Operation::Decrement {
            key,
            amount,
            expiry: expiry_span(expiry),
        });
    }

    /// Appends the string `suffix` to the string under `key`.
    pub fn append(&self, key: Data, suffix: Data, expiry: Option<Duration>) {
        self.write(Operation::Append {
            key,
            suffix,
            expiry: expiry_span(expiry),
        });
    }

    /// Adds `index` to the set under `key` (`value: None`), or maps `index` to `value` in
    /// the table under `key`.
    pub fn insert_into(
        &self,
        key: Data,
        index: Data,
        value: Option<Data>,
        expiry: Option<Duration>,
    ) {
        self.write(Operation::InsertInto {
            key,
            index,
            value,
            expiry: expiry_span(expiry),
        });
    }

    /// Removes `index` from the set or table under `key`.
    pub fn remove_from(&self, key: Data, index: Data, expiry: Option<Duration>) {
        self.write(Operation::RemoveFrom {
            key,
            index,
            expiry: expiry_span(expiry),
        });
    }

    /// Appends `value` to the vector under `key`.
    pub fn push(&self, key: Data, value: Data, expiry: Option<Duration>) {
        self.write(Operation::Push {
            key,
            value,
            expiry: expiry_span(expiry),
        });
    }

    /// Removes the last element of the vector under `key`.
    pub fn pop(&self, key: Data, expiry: Option<Duration>) {
        self.write(Operation::Pop {
            key,
            expiry: expiry_span(expiry),
        });
    }

    /// Waits at most `timeout` until every write made through this store has been handled
    /// (a master: applied and sent to the clones; a clone: answered by the master) and a
    /// clone follows its master; whether that happened.
    pub fn await_idle(&self, timeout: Duration) -> bool {
        self.replica.progress.wait_idle(timeout)
    }

    fn read<T>(
        &self,
        query: impl FnOnce(&broker_store::Store) -> Result<T, StoreError>,
    ) -> Result<T, QueryError> {
        let replica = &self.replica;
        match replica.role {
            // Reads on a master see the writes made before them, as in Broker.
            Role::Master => {
                replica.progress.wait_applied(replica.request_timeout);
            }
            Role::Clone if replica.stale.load(Ordering::Relaxed) => {
                return Err(QueryError::StaleData {
                    store: replica.name.clone(),
                });
            }
            Role::Clone => {}
        }
        query(&replica.store()).map_err(|source| QueryError::Store {
            store: replica.name.clone(),
            source,
        })
    }

    /// Makes a write, waiting for room in the queue to the store's actor.
    pub fn write(&self, op: Operation) {
        self.replica.progress.submit();
        // Closed only when the endpoint is gone: the write goes nowhere, as a publish would.
        let _ = self
            .replica
            .requests
            .push_wait(Request { op, answer: None }, 1, None);
    }

    /// Makes a write unless that would wait for room: then `Err(op)`, and nothing
    /// happened. For callers that must not wait where they are (Python, holding the GIL).
    pub fn try_write(&self, op: Operation) -> Result<(), Operation> {
        let progress = &self.replica.progress;
        // Submitted before it can be handled, so that no one sees the store idle meanwhile.
        progress.submit();
        match self
            .replica
            .requests
            .try_push(Request { op, answer: None }, 1)
        {
            // Closed only when the endpoint is gone: the write goes nowhere.
            Ok(()) | Err(PushError::Closed(_)) => Ok(()),
            Err(PushError::Full(request)) => {
                progress.withdraw();
                Err(request.op)
            }
        }
    }
}

/// An expiry as an operation carries it.
pub fn expiry_span(expiry: Option<Duration>) -> Option<Timespan> {
    expiry.map(|d| Timespan(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
}

/// A `put_unique` sent to the store's actor, its answer still to come.
pub struct PendingPutUnique {
    outcome: Receiver<bool>,
    deadline: Instant,
    store: String,
}

impl PendingPutUnique {
    /// Waits at most `slice` for the answer: `None` while it may still come, the
    /// outcome once it came or the request timeout passed.
    pub fn wait(&self, slice: Duration) -> Option<Result<bool, QueryError>> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.outcome.recv_timeout(slice.min(left)) {
            Ok(inserted) => Some(Ok(inserted)),
            Err(RecvTimeoutError::Timeout) if left > slice => None,
            Err(RecvTimeoutError::Timeout) => Some(Err(QueryError::RequestTimeOut {
                store: self.store.clone(),
            })),
            Err(RecvTimeoutError::Disconnected) => Some(Err(QueryError::Closed {
                store: self.store.clone(),
            })),
        }
    }
}
