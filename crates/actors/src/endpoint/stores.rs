//! The endpoint's store API, [`Endpoint::attach_master`] and [`Endpoint::attach_clone`]:
//! the replica a store's handles share with its actor, the actor started by the Core,
//! and the per-process registry that makes attaching a name twice yield the same store.
//! The store runtime itself is in `crate::store`.
//!
//! Each attach has an async form that waits without blocking its caller (a Python
//! thread polls it, interruptibly); a clone's wait for its first snapshot is the one
//! wait the store offers only as a blocking one, so [`PendingClone`] hands it to the
//! caller to make in slices.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use broker_store::messages::{master_topic, EntityId};
use broker_store::{open_backend, BackendType};
use broker_wire::frame::NodeId;
use broker_wire::Data;

use super::Endpoint;
use crate::core::StartStore;
use crate::error::EndpointError;
use crate::queue::BoundedQueue;
use crate::reports::Report;
use crate::routing::Routes;
use crate::status::{ErrorCode, StatusEvent};
use crate::store::{AttachError, CloneOptions, Progress, Replica, Role, Store, StoreActor};

/// Writes a handle may queue for its actor before `put` and friends block.
const REQUEST_QUEUE: usize = 4096;

/// The stores attached on each endpoint, so that attaching a name twice gives the same
/// store. Weak: a store lives as long as its actor or a handle. Held while a store
/// starts (a round trip to the Core), so an async lock: the attach futures stay `Send`.
static ATTACHED: tokio::sync::Mutex<Vec<(NodeId, String, Weak<Replica>)>> =
    tokio::sync::Mutex::const_new(Vec::new());

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
        futures::executor::block_on(self.attach_master_async(name, backend, options))
    }

    /// Async [`Endpoint::attach_master`].
    pub async fn attach_master_async(
        &self,
        name: &str,
        backend: BackendType,
        options: BTreeMap<String, Data>,
    ) -> Result<Option<Store>, AttachError> {
        let mut registry = ATTACHED.lock().await;
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
        if self.peer_subscriptions_async().await.contains(&topic) {
            let message = format!("store {name}: a peer already holds its master");
            let event = StatusEvent::error(ErrorCode::MasterExists, None, message);
            self.shared().reporter.report(Report::Status(event));
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
        self.register(&mut registry, &replica);
        self.start_store(StoreActor::master(replica.clone()))
            .await?;
        Ok(Some(Store { replica }))
    }

    /// Attaches a clone of store `name` with [`CloneOptions::default`].
    pub fn attach_clone(&self, name: &str) -> Result<Option<Store>, AttachError> {
        self.attach_clone_with(name, CloneOptions::default())
    }

    /// Attaches a clone of store `name`. Without peers it attaches at once and
    /// synchronises once a master is reachable, as today's Broker does (a script may
    /// attach before peering). With peers it waits up to `options.attach_timeout` for one
    /// holding the master, then for the first snapshot, so that the clone answers with the
    /// master's contents on return; with `options.require_master`, no master in that time
    /// is `Ok(None)`. Attaching a name held here already returns that store.
    pub fn attach_clone_with(
        &self,
        name: &str,
        options: CloneOptions,
    ) -> Result<Option<Store>, AttachError> {
        let pending = futures::executor::block_on(self.attach_clone_request(name, options))?;
        // Waited for in one go: a single slice as long as any wait can be.
        Ok(pending.and_then(|pending| pending.wait(Duration::MAX)))
    }

    /// [`Endpoint::attach_clone_with`] up to the wait for the first snapshot, without
    /// blocking: the clone attached (or the store held here already), with that wait
    /// still to make; `Ok(None)` as there.
    pub async fn attach_clone_request(
        &self,
        name: &str,
        options: CloneOptions,
    ) -> Result<Option<PendingClone>, AttachError> {
        let ready = |replica| PendingClone {
            store: Store { replica },
            synced_by: None,
        };
        let registered = attached(&mut *ATTACHED.lock().await, self.node_id(), name);
        if let Some(replica) = registered {
            return Ok(Some(ready(replica)));
        }
        // The registry stays unlocked while waiting: other attachments, anywhere in the
        // process, go on meanwhile.
        let deadline = Instant::now() + options.attach_timeout;
        let topic = master_topic(name);
        let has_master = move |routes: &Routes| routes.peer_subscribed(&topic);
        let waits = options.require_master || !self.shared().routes().peers.is_empty();
        let found = waits && self.await_routes(options.attach_timeout, has_master).await;
        if options.require_master && !found {
            return Ok(None);
        }
        let mut registry = ATTACHED.lock().await;
        // Another thread may have attached it while this one waited.
        if let Some(replica) = attached(&mut registry, self.node_id(), name) {
            return Ok(Some(ready(replica)));
        }
        let replica = self.new_replica(
            name,
            Role::Clone,
            broker_store::Store::in_memory(),
            options.request_timeout,
        );
        self.register(&mut registry, &replica);
        self.start_store(StoreActor::clone(replica.clone(), options))
            .await?;
        drop(registry);
        Ok(Some(PendingClone {
            store: Store { replica },
            // A clone that could not sync yet still serves: it keeps asking the master.
            synced_by: found.then_some(deadline),
        }))
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

    /// Lists `replica` in the registry and the metrics before its actor starts, so
    /// that a caller who stops waiting meanwhile (Ctrl-C) leaves no store unlisted: the
    /// weak entries live exactly as long as the actor the Core got (and the registry
    /// stays locked until the start is over).
    fn register(
        &self,
        registry: &mut Vec<(NodeId, String, Weak<Replica>)>,
        replica: &Arc<Replica>,
    ) {
        let entry = (
            self.node_id(),
            replica.name.clone(),
            Arc::downgrade(replica),
        );
        registry.push(entry);
        self.list_store(replica);
    }

    /// Has the Core subscribe `actor`'s inbox and start it on the endpoint's thread;
    /// peers know of the subscription on return.
    async fn start_store(&self, actor: StoreActor) -> Result<(), EndpointError> {
        self.ask(StartStore(actor)).await
    }
}

/// A clone attached by [`Endpoint::attach_clone_request`], perhaps still to receive
/// its master's first snapshot.
pub struct PendingClone {
    store: Store,
    /// When to stop waiting for the first snapshot; `None`: no wait (no master found, or
    /// the store was attached already).
    synced_by: Option<Instant>,
}

impl PendingClone {
    /// Waits at most `slice` for the first snapshot: `None` while it may still come, the
    /// store once it came or the time for it passed. A clone that did not sync still
    /// serves: it keeps asking the master.
    pub fn wait(&self, slice: Duration) -> Option<Store> {
        let Some(synced_by) = self.synced_by else {
            return Some(self.store.clone());
        };
        let left = synced_by.saturating_duration_since(Instant::now());
        let wait = slice.min(left);
        let began = Instant::now();
        let synced = self.store.replica.progress.wait_synced(wait);
        // The wait gives up before its time only when the store's actor is gone: then
        // nothing will change.
        let over = synced || left <= slice || began.elapsed() < wait;
        over.then(|| self.store.clone())
    }
}
