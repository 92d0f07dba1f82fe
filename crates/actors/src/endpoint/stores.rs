//! The endpoint's store API, [`Endpoint::attach_master`] and [`Endpoint::attach_clone`]:
//! the replica a store's handles share with its actor, the actor started by the Core,
//! and the per-process registry that makes attaching a name twice yield the same store.
//! The store runtime itself is in `crate::store`.

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
        self.start_store(StoreActor::master(replica.clone()))?;
        registry.push((self.node_id(), name.to_owned(), Arc::downgrade(&replica)));
        self.list_store(&replica);
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
        let registered = || {
            let mut registry = ATTACHED.lock().expect("store registry poisoned");
            attached(&mut registry, self.node_id(), name)
        };
        if let Some(replica) = registered() {
            return Ok(Some(Store { replica }));
        }
        // The registry stays unlocked while waiting: other attachments, anywhere in the
        // process, go on meanwhile.
        let deadline = Instant::now() + options.attach_timeout;
        let topic = master_topic(name);
        let has_master = move |routes: &Routes| routes.peer_subscribed(&topic);
        let waits = options.require_master || !self.shared().routes().peers.is_empty();
        let found = waits
            && futures::executor::block_on(self.await_routes(options.attach_timeout, has_master));
        if options.require_master && !found {
            return Ok(None);
        }
        let mut registry = ATTACHED.lock().expect("store registry poisoned");
        // Another thread may have attached it while this one waited.
        if let Some(replica) = attached(&mut registry, self.node_id(), name) {
            return Ok(Some(Store { replica }));
        }
        let replica = self.new_replica(
            name,
            Role::Clone,
            broker_store::Store::in_memory(),
            options.request_timeout,
        );
        self.start_store(StoreActor::clone(replica.clone(), options))?;
        registry.push((self.node_id(), name.to_owned(), Arc::downgrade(&replica)));
        self.list_store(&replica);
        drop(registry);
        // A clone that could not sync yet still serves: it keeps asking the master.
        if found {
            replica
                .progress
                .wait_synced(deadline.saturating_duration_since(Instant::now()));
        }
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

    /// Has the Core subscribe `actor`'s inbox and start it on the endpoint's thread;
    /// peers know of the subscription on return.
    fn start_store(&self, actor: StoreActor) -> Result<(), EndpointError> {
        self.call(StartStore(actor))
    }
}
