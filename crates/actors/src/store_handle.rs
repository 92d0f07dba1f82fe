//! [`Store`], the handle users hold on a data store (master or clone), and
//! [`Endpoint::attach_master`] / [`Endpoint::attach_clone`].
//!
//! Both kinds keep their contents in a [`Replica`] shared between the handle and the store's
//! actor: reads lock it and answer on the caller's thread (no actor round trip), writes go
//! to the actor through a bounded queue. A master applies them itself; a clone sends them to
//! the master and sees them only once the master's change comes back. Every call blocks at
//! most for backpressure or a bounded wait, and works from any thread except the endpoint's.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use broker_store::messages::{clone_topic, master_topic, EntityId};
use broker_store::{open_backend, BackendType, Operation, StoreError};
use broker_wire::data::Set;
use broker_wire::frame::NodeId;
use broker_wire::{Data, Timespan};
use thiserror::Error;

use crate::endpoint::Endpoint;
use crate::error::EndpointError;
use crate::queue::BoundedQueue;
use crate::status::ErrorCode;
use crate::store_clone::StoreClone;
use crate::store_hooks::{emit_error, RunOnEndpoint};
use crate::store_master::StoreMaster;
use crate::store_replica::{Progress, Replica, Request};

/// Writes a handle may queue for its actor before `put` and friends block.
const REQUEST_QUEUE: usize = 4096;
/// Messages from peers a store actor may have pending before peers wait.
const INBOX_QUEUE: usize = 4096;
/// How often `attach_clone` looks for the master among the peers' subscriptions.
const MASTER_POLL: Duration = Duration::from_millis(10);

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
            QueryError::Store { source, .. } => error_code(source),
            QueryError::StaleData { .. } => ErrorCode::StaleData,
            QueryError::RequestTimeOut { .. } => ErrorCode::RequestTimeOut,
            QueryError::Closed { .. } => ErrorCode::Unspecified,
        }
    }
}

/// The status error code of a store error.
pub(crate) fn error_code(error: &StoreError) -> ErrorCode {
    match error.code() {
        broker_store::ErrorCode::NoSuchKey => ErrorCode::NoSuchKey,
        broker_store::ErrorCode::TypeClash => ErrorCode::TypeClash,
        broker_store::ErrorCode::InvalidData => ErrorCode::InvalidData,
        broker_store::ErrorCode::BackendFailure => ErrorCode::BackendFailure,
    }
}

/// A data store, master or clone: cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct Store {
    replica: Arc<Replica>,
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
            expiry: ttl(expiry),
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
        let (answer, outcome) = sync_channel(1);
        let request = Request {
            op: Operation::PutUnique {
                key,
                value,
                expiry: ttl(expiry),
            },
            answer: Some(answer),
        };
        if self.replica.requests.push_wait(request, 1, None).is_err() {
            return Err(QueryError::Closed {
                store: self.replica.name.clone(),
            });
        }
        match outcome.recv_timeout(self.replica.request_timeout) {
            Ok(inserted) => Ok(inserted),
            Err(RecvTimeoutError::Timeout) => Err(QueryError::RequestTimeOut {
                store: self.replica.name.clone(),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(QueryError::Closed {
                store: self.replica.name.clone(),
            }),
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
            expiry: ttl(expiry),
        });
    }

    /// Subtracts `amount` from the value under `key` (see [`Operation::Decrement`]).
    pub fn decrement(&self, key: Data, amount: Data, expiry: Option<Duration>) {
        self.write(Operation::Decrement {
            key,
            amount,
            expiry: ttl(expiry),
        });
    }

    /// Appends the string `suffix` to the string under `key`.
    pub fn append(&self, key: Data, suffix: Data, expiry: Option<Duration>) {
        self.write(Operation::Append {
            key,
            suffix,
            expiry: ttl(expiry),
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
            expiry: ttl(expiry),
        });
    }

    /// Removes `index` from the set or table under `key`.
    pub fn remove_from(&self, key: Data, index: Data, expiry: Option<Duration>) {
        self.write(Operation::RemoveFrom {
            key,
            index,
            expiry: ttl(expiry),
        });
    }

    /// Appends `value` to the vector under `key`.
    pub fn push(&self, key: Data, value: Data, expiry: Option<Duration>) {
        self.write(Operation::Push {
            key,
            value,
            expiry: ttl(expiry),
        });
    }

    /// Removes the last element of the vector under `key`.
    pub fn pop(&self, key: Data, expiry: Option<Duration>) {
        self.write(Operation::Pop {
            key,
            expiry: ttl(expiry),
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

    fn write(&self, op: Operation) {
        self.replica.progress.submit();
        // Closed only when the endpoint is gone: the write goes nowhere, as a publish would.
        let _ = self
            .replica
            .requests
            .push_wait(Request { op, answer: None }, 1, None);
    }
}

fn ttl(expiry: Option<Duration>) -> Option<Timespan> {
    expiry.map(|d| Timespan(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
}

/// The stores attached on each endpoint, so that attaching a name twice gives the same
/// store. Weak: a store lives as long as its actor or a handle.
static ATTACHED: Mutex<Vec<(NodeId, String, Weak<Replica>)>> = Mutex::new(Vec::new());

/// Numbers store instances in this process, as the object half of their [`EntityId`].
static NEXT_OBJECT: AtomicU64 = AtomicU64::new(1);

fn attached(
    registry: &mut Vec<(NodeId, String, Weak<Replica>)>,
    node: NodeId,
    name: &str,
) -> Option<Arc<Replica>> {
    registry.retain(|(_, _, replica)| replica.strong_count() > 0);
    registry
        .iter()
        .find(|(n, s, _)| *n == node && s == name)
        .and_then(|(_, _, replica)| replica.upgrade())
}

impl Endpoint {
    /// Attaches the master of store `name` with a backend of type `backend` configured by
    /// `options` (SQLite: `{"path": ...}`). Attaching a name twice returns the same
    /// master; `Ok(None)` when a direct peer already holds a master of that name (also
    /// reported to status subscribers as `MasterExists`).
    pub fn attach_master(
        &self,
        name: &str,
        backend: BackendType,
        options: BTreeMap<String, Data>,
    ) -> Result<Option<Store>, AttachError> {
        let mut registry = ATTACHED.lock().expect("store registry poisoned");
        if let Some(replica) = attached(&mut registry, self.node_id(), name) {
            return match replica.role {
                Role::Master => Ok(Some(Store { replica })),
                existing => Err(AttachError::RoleConflict {
                    store: name.to_owned(),
                    existing,
                }),
            };
        }
        let topic = master_topic(name);
        if self.peer_subscriptions().contains(&topic) {
            let message = format!("store {name}: a peer already holds its master");
            emit_error(self.shared(), ErrorCode::MasterExists, message);
            return Ok(None);
        }
        let backend = open_backend(backend, &options).map_err(|source| AttachError::Backend {
            store: name.to_owned(),
            source,
        })?;
        let replica = self.new_replica(
            name,
            Role::Master,
            broker_store::Store::new(backend),
            Duration::from_secs(10),
        );
        let inbox = self.make_subscriber(vec![topic], INBOX_QUEUE);
        let (shared, for_actor) = (self.shared().clone(), replica.clone());
        self.run_on_endpoint(move || StoreMaster::launch(for_actor, shared, inbox))?;
        registry.push((self.node_id(), name.to_owned(), Arc::downgrade(&replica)));
        Ok(Some(Store { replica }))
    }

    /// Attaches a clone of store `name` with [`CloneOptions::default`].
    pub fn attach_clone(&self, name: &str) -> Result<Option<Store>, AttachError> {
        self.attach_clone_with(name, CloneOptions::default())
    }

    /// Attaches a clone of store `name`: waits up to `options.attach_timeout` for a direct
    /// peer holding its master (`Ok(None)` if none appears), then for the first snapshot.
    /// Attaching a name held here already returns that store.
    pub fn attach_clone_with(
        &self,
        name: &str,
        options: CloneOptions,
    ) -> Result<Option<Store>, AttachError> {
        let mut registry = ATTACHED.lock().expect("store registry poisoned");
        if let Some(replica) = attached(&mut registry, self.node_id(), name) {
            return Ok(Some(Store { replica }));
        }
        let deadline = Instant::now() + options.attach_timeout;
        let topic = master_topic(name);
        while !self.peer_subscriptions().contains(&topic) {
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(MASTER_POLL);
        }
        let replica = self.new_replica(
            name,
            Role::Clone,
            broker_store::Store::in_memory(),
            options.request_timeout,
        );
        let inbox = self.make_subscriber(vec![clone_topic(name)], INBOX_QUEUE);
        let (shared, for_actor) = (self.shared().clone(), replica.clone());
        self.run_on_endpoint(move || StoreClone::launch(for_actor, shared, inbox, options))?;
        registry.push((self.node_id(), name.to_owned(), Arc::downgrade(&replica)));
        drop(registry);
        // A clone that could not sync yet still serves: it keeps asking the master.
        replica
            .progress
            .wait_synced(deadline.saturating_duration_since(Instant::now()));
        Ok(Some(Store { replica }))
    }

    fn new_replica(
        &self,
        name: &str,
        role: Role,
        store: broker_store::Store,
        request_timeout: Duration,
    ) -> Arc<Replica> {
        Arc::new(Replica {
            name: name.to_owned(),
            role,
            entity: EntityId {
                node: self.node_id(),
                object: NEXT_OBJECT.fetch_add(1, Ordering::Relaxed),
            },
            store: Mutex::new(store),
            requests: Arc::new(BoundedQueue::new(REQUEST_QUEUE, None, None)),
            progress: Progress::new(role == Role::Master),
            stale: AtomicBool::new(false),
            request_timeout,
        })
    }

    fn run_on_endpoint(&self, task: impl FnOnce() + Send + 'static) -> Result<(), EndpointError> {
        let core = self.shared().core.get().ok_or(EndpointError::ShutDown)?;
        futures::executor::block_on(core.send(RunOnEndpoint(Box::new(task))))
            .map_err(|_| EndpointError::ShutDown)
    }
}
