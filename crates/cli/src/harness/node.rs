//! One node of an in-process run: its endpoint, its stores, and a thread recording
//! what it receives (distinct messages, duplicates, latencies).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint, PeerStatus, Store};
use broker_wire::{Data, Topic};

use super::topology::NodeSpec;
use crate::error::CliError;
use crate::stores::{attach_clone, attach_master};
use crate::POLL_SLICE;

/// What a node received, across restarts. Shared between the node's receiving
/// thread (writing) and the runner (reading); guarded by the `Mutex` around it.
#[derive(Debug, Default)]
pub struct Received {
    /// Distinct messages from other nodes, by (origin, sequence number): their topic.
    pub distinct: HashMap<(String, u64), Topic>,
    /// Copies beyond the first of a message.
    pub duplicates: u64,
    /// One-way latencies of the distinct messages.
    pub latencies: Vec<Duration>,
}

/// A running (or killed) node.
pub struct Node {
    /// The node's name.
    pub name: String,
    endpoint: Option<Endpoint>,
    port: u16,
    receiving: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    /// The replicas it holds, by store name (none while killed).
    stores: HashMap<String, Store>,
    /// What it received so far.
    pub received: Arc<Mutex<Received>>,
}

/// A published message's payload: `(origin, sequence number, nanoseconds since the
/// run's epoch)`, so receivers can spot duplicates and measure latency.
pub fn payload(origin: &str, seq: u64, epoch: Instant) -> Data {
    Data::Vector(vec![
        Data::string(origin),
        Data::Count(seq),
        Data::Count(epoch.elapsed().as_nanos() as u64),
    ])
}

impl Node {
    /// A node, not started.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            endpoint: None,
            port: 0,
            receiving: None,
            stores: HashMap::new(),
            received: Arc::default(),
        }
    }

    /// Starts the endpoint, subscribes to `spec.subscribe`, forwards `spec.forward`
    /// and listens on a free loopback port.
    pub fn start(&mut self, spec: &NodeSpec, epoch: Instant) -> Result<u16, CliError> {
        let endpoint = Endpoint::new(Config::default())?;
        let topics = &spec.subscribe;
        if !spec.forward.is_empty() {
            endpoint.forward(
                spec.forward
                    .iter()
                    .map(|t| Topic::new(t.as_str()))
                    .collect(),
            );
        }
        let subscriber = endpoint.make_subscriber(
            topics.iter().map(|t| Topic::new(t.as_str())).collect(),
            4096,
        );
        self.port = endpoint.listen("127.0.0.1", 0)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (stopped, received, name) = (stop.clone(), self.received.clone(), self.name.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Some(first) = subscriber.get(Some(POLL_SLICE)) else {
                    continue;
                };
                let batch = std::iter::once(first).chain(subscriber.poll());
                let now = epoch.elapsed();
                let mut received = received.lock().expect("received lock poisoned");
                for (topic, data) in batch {
                    record(&mut received, &name, topic, &data, now);
                }
            }
        });
        self.endpoint = Some(endpoint);
        self.receiving = Some((stop, thread));
        Ok(self.port)
    }

    /// Attaches the masters `spec` names, or (`clones`) its clones, waiting at most
    /// `timeout` for each clone's master; nothing when killed. Clones need their
    /// masters attached and the links up.
    pub fn attach_stores(
        &mut self,
        spec: &NodeSpec,
        clones: bool,
        timeout: Duration,
    ) -> Result<(), CliError> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(());
        };
        for name in if clones { &spec.clone } else { &spec.master } {
            let store = if clones {
                attach_clone(endpoint, name, timeout)?
            } else {
                attach_master(endpoint, name, None)?
            };
            self.stores.insert(name.clone(), store);
        }
        Ok(())
    }

    /// Its replica of store `name`, if running and holding one.
    pub fn store(&self, name: &str) -> Option<&Store> {
        self.stores.get(name)
    }

    /// Shuts the endpoint down and stops recording.
    pub fn kill(&mut self) {
        self.stores.clear();
        if let Some(endpoint) = self.endpoint.take() {
            endpoint.shutdown();
        }
        if let Some((stop, thread)) = self.receiving.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }

    /// The endpoint, if running.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// Number of peerings in the `Peered` state (0 when killed).
    pub fn peered(&self) -> usize {
        self.endpoint.as_ref().map_or(0, |e| {
            e.peers()
                .iter()
                .filter(|p| p.status == PeerStatus::Peered)
                .count()
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn record(received: &mut Received, me: &str, topic: Topic, data: &Data, now: Duration) {
    let Some([origin, Data::Count(seq), Data::Count(sent)]) = data.as_vector().map(Vec::as_slice)
    else {
        return;
    };
    let Some(origin) = origin.as_str() else {
        return;
    };
    if origin == me {
        return;
    }
    if received
        .distinct
        .insert((origin.to_owned(), *seq), topic)
        .is_some()
    {
        received.duplicates += 1;
    } else {
        received
            .latencies
            .push(now.saturating_sub(Duration::from_nanos(*sent)));
    }
}
