//! The endpoint's figures ([`Endpoint::metrics`]) and its metrics port: the counters the
//! data path keeps (`crate::metrics::Counters`) plus what is read when asked — the
//! connections, the messages waiting in outboxes and buffers, the stores.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use super::Endpoint;
use crate::config::Config;
use crate::error::EndpointError;
use crate::link::{Encoding, BATCH};
use crate::metrics::server::{self, Source};
use crate::metrics::{MetricKind, Metrics};
use crate::publish_buffer::PublishBuffer;
use crate::routing::Shared;
use crate::store::{Replica, Role};

/// The stores attached on one endpoint, as its metrics list them.
pub(super) type StoreList = Arc<Mutex<Vec<Weak<Replica>>>>;

/// Where an endpoint's figures come from.
#[derive(Clone)]
pub(super) struct Sources {
    pub(super) shared: Arc<Shared>,
    pub(super) mailbox: Arc<PublishBuffer>,
    pub(super) stores: StoreList,
}

/// Binds the metrics port if `config` asks for one (before the endpoint starts, so
/// that a taken port fails `Endpoint::new`); the listener and its port.
pub(super) fn bind(config: &Config) -> Result<Option<(TcpListener, u16)>, EndpointError> {
    let Some(port) = config.metrics_port else {
        return Ok(None);
    };
    let error = |source| EndpointError::Listen {
        address: config.metrics_address.clone(),
        port,
        source,
    };
    let listener = server::bind(&config.metrics_address, port).map_err(error)?;
    let bound = listener.local_addr().map_err(error)?.port();
    Ok(Some((listener, bound)))
}

impl Sources {
    /// Serves the metrics port on `listener`; to run on the endpoint's thread.
    pub(super) fn serve(&self, listener: TcpListener) -> impl Future<Output = ()> + Send {
        let sources = self.clone();
        let source: Source = Arc::new(move || sources.collect());
        server::serve(listener, source)
    }

    /// Every figure, now.
    pub(super) fn collect(&self) -> Metrics {
        let routes = self.shared.routes();
        let mut metrics = Metrics::default();
        // Ours counted even when none is up; other kinds of link as they appear.
        let mut connections = BTreeMap::from([(BATCH.name().to_owned(), 0)]);
        for peer in &routes.peers {
            *connections
                .entry(peer.link.encoding.name().to_owned())
                .or_insert(0) += 1;
        }
        metrics.push(
            "connections",
            "Number of active network connections.",
            MetricKind::Gauge,
            Some("type"),
            connections.into_iter().collect(),
        );
        metrics.push_counters(&self.shared.counters);
        let per_peer: Vec<(String, i64)> = routes
            .peers
            .iter()
            .map(|peer| (peer.link.node.to_string(), peer.link.outbox.weight() as i64))
            .collect();
        let in_outboxes: i64 = per_peer.iter().map(|(_, n)| n).sum();
        metrics.push(
            "buffered_messages",
            "Number of currently buffered messages: data waiting in peers' outboxes and the endpoint's publish buffer.",
            MetricKind::Gauge,
            Some("type"),
            vec![(
                "data".to_owned(),
                in_outboxes + self.mailbox.queue.len() as i64,
            )],
        );
        metrics.push(
            "peer_buffered_messages",
            "Data messages waiting in each peer's outbox (its queue depth), by peer endpoint id.",
            MetricKind::Gauge,
            Some("peer"),
            per_peer,
        );
        self.push_stores(&mut metrics);
        metrics
    }

    fn push_stores(&self, metrics: &mut Metrics) {
        let replicas: Vec<Arc<Replica>> = {
            let mut stores = self.stores.lock().expect("store list poisoned");
            stores.retain(|replica| replica.strong_count() > 0);
            stores.iter().filter_map(Weak::upgrade).collect()
        };
        let (mut entries, mut synced, mut stale, mut pending) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for replica in replicas {
            let name = replica.name.clone();
            // A backend that cannot count (a failing SQLite file) shows as -1.
            let size = replica.store().size().map_or(-1, |n| n as i64);
            let (is_synced, unfinished) = replica.progress.sync_state();
            let is_stale = replica.role == Role::Clone && replica.stale.load(Ordering::Relaxed);
            entries.push((name.clone(), size));
            synced.push((name.clone(), i64::from(is_synced)));
            stale.push((name.clone(), i64::from(is_stale)));
            pending.push((name, unfinished as i64));
        }
        metrics.push(
            "store_entries",
            "Number of entries in the data store.",
            MetricKind::Gauge,
            Some("name"),
            entries,
        );
        metrics.push(
            "store_synced",
            "1 while the store is in sync: always for a master, for a clone while it follows its master.",
            MetricKind::Gauge,
            Some("name"),
            synced,
        );
        metrics.push(
            "store_stale",
            "1 while a clone's master has been unreachable for longer than its stale interval.",
            MetricKind::Gauge,
            Some("name"),
            stale,
        );
        metrics.push(
            "store_pending_writes",
            "Writes made through the store's handles here and not completely handled yet.",
            MetricKind::Gauge,
            Some("name"),
            pending,
        );
    }
}

impl Endpoint {
    /// Every figure the metrics port serves, now: Broker's metrics where Broker has
    /// them (connections by type, processed and buffered messages by type, store
    /// entries) and ours (queue depth per peer, store sync state, dedup hits, dropped
    /// status events, slow-peer policy actions). See docs/operations.md.
    pub fn metrics(&self) -> Metrics {
        self.inner.sources.collect()
    }

    /// Lists a newly attached store in the metrics.
    pub(super) fn list_store(&self, replica: &Arc<Replica>) {
        let mut stores = self
            .inner
            .sources
            .stores
            .lock()
            .expect("store list poisoned");
        stores.push(Arc::downgrade(replica));
    }

    /// The port serving the metrics (`Config::metrics_port`, resolved if it was 0);
    /// `None` when none is served.
    pub fn metrics_port(&self) -> Option<u16> {
        self.inner.metrics_port
    }
}
