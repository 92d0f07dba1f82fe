//! The node operations a run needs, as the [`Node`] trait, and its in-process
//! implementation [`LocalNode`]: an endpoint, its stores, and a thread handing what
//! it receives to a sink (by default recording distinct messages, duplicates and
//! latencies).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_actors::{Config, Endpoint, PeerStatus, StatusEvent, Store};
use broker_wire::{Data, Topic};
use serde::{Deserialize, Serialize};

use super::topology::NodeSpec;
use crate::error::CliError;
use crate::json::from_json_or_text;
use crate::stores::{attach_clone, attach_master};
use crate::POLL_SLICE;

/// Interval of the nodes' reconnection attempts.
pub const RETRY: Duration = Duration::from_millis(200);

/// What a node received, across restarts. Written by whoever receives for the node,
/// read by the runner; guarded by the `Mutex` around it.
#[derive(Debug, Default)]
pub struct Received {
    /// Distinct messages from other nodes, by (origin, sequence number): their topic.
    pub distinct: HashMap<(String, u64), Topic>,
    /// Copies beyond the first of a message.
    pub duplicates: u64,
    /// One-way latencies of the distinct messages.
    pub latencies: Vec<Duration>,
}

impl Received {
    /// Records a message that arrived at node `me` at `arrival` (since the Unix
    /// epoch); ignores the node's own messages and anything not a [`payload`].
    pub fn record(&mut self, me: &str, topic: Topic, data: &Data, arrival: Duration) {
        let Some([origin, Data::Count(seq), Data::Count(sent)]) =
            data.as_vector().map(Vec::as_slice)
        else {
            return;
        };
        let Some(origin) = origin.as_str() else {
            return;
        };
        if origin == me {
            return;
        }
        if self
            .distinct
            .insert((origin.to_owned(), *seq), topic)
            .is_some()
        {
            self.duplicates += 1;
        } else {
            self.latencies
                .push(arrival.saturating_sub(Duration::from_nanos(*sent)));
        }
    }
}

/// A status event in a few words: its code (`PeerLost`), errors as `error PeerInvalid`.
pub fn describe(event: &StatusEvent) -> String {
    match event {
        StatusEvent::Status(status) => format!("{:?}", status.code),
        StatusEvent::Error(error) => format!("error {:?}", error.code),
    }
}

/// Wall-clock time since the Unix epoch: comparable across processes on one host.
pub fn wall_clock() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A published message's payload: `(origin, sequence number, wall-clock send time
/// in nanoseconds)`, so receivers can spot duplicates and measure latency.
pub fn payload(origin: &str, seq: u64) -> Data {
    Data::Vector(vec![
        Data::string(origin),
        Data::Count(seq),
        Data::Count(wall_clock().as_nanos() as u64),
    ])
}

/// A write to a store through one node: the given `entries` (values in the JSON
/// notation of `--json`), then `count` generated entries `"<node>/<i>" = i` numbered
/// from `first`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreWrite {
    /// The store.
    pub store: String,
    /// Given entries.
    pub entries: BTreeMap<String, serde_json::Value>,
    /// Number of the first generated entry.
    pub first: u64,
    /// Number of generated entries.
    pub count: u64,
}

/// What every replica of a store should hold: `keys` keys (if given) and `values`
/// (in the JSON notation of `--json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreExpectation {
    /// The store.
    pub store: String,
    /// Number of keys, if checked.
    pub keys: Option<u64>,
    /// Keys that must hold these values.
    pub values: BTreeMap<String, serde_json::Value>,
}

impl StoreExpectation {
    /// The expected values as data.
    pub fn values(&self) -> Result<Vec<(Data, Data)>, CliError> {
        self.values
            .iter()
            .map(|(key, value)| Ok((Data::string(key.as_str()), from_json_or_text(value)?)))
            .collect()
    }
}

/// What a run does with a node, whether it lives in the harness's process
/// ([`LocalNode`]) or in a child process ([`super::child::ChildNode`]).
pub trait Node {
    /// The node's name.
    fn name(&self) -> &str;
    /// Starts (or restarts) the node: subscribes to `spec.subscribe`, forwards
    /// `spec.forward` and listens on a free loopback port, which it returns.
    fn start(&mut self, spec: &NodeSpec) -> Result<u16, CliError>;
    /// Whether it runs (started and not killed).
    fn running(&self) -> bool;
    /// Stops it; what it received so far stays recorded.
    fn kill(&mut self);
    /// Peers with `127.0.0.1:port`, retrying every [`RETRY`]; nothing when killed.
    fn peer(&mut self, port: u16) -> Result<(), CliError>;
    /// Number of peerings in the `Peered` state (0 when killed or unreachable).
    fn peered(&mut self) -> usize;
    /// Publishes `count` payloads numbered from `first` on `topic`; nothing when killed.
    fn publish(&mut self, topic: &Topic, first: u64, count: u64) -> Result<(), CliError>;
    /// What it received, across restarts.
    fn received(&self) -> &Mutex<Received>;
    /// Whether a peer subscribes to a prefix of `topic`, so a publish now reaches it.
    fn routed(&mut self, topic: &Topic) -> bool;
    /// The status events seen so far, across restarts ([`describe`]d).
    fn statuses(&mut self) -> Vec<String>;
    /// Attaches the masters `spec` names, or (`clones`) its clones, waiting at most
    /// `timeout` for each clone's master; nothing when killed.
    fn attach_stores(
        &mut self,
        spec: &NodeSpec,
        clones: bool,
        timeout: Duration,
    ) -> Result<(), CliError>;
    /// Writes to its replica of `write.store`; nothing when killed.
    fn put(&mut self, write: &StoreWrite) -> Result<(), CliError>;
    /// How its replica of `expected.store` differs from `expected` (empty when it
    /// agrees); `None` when killed or holding no replica.
    fn store_deviations(
        &mut self,
        expected: &StoreExpectation,
    ) -> Result<Option<Vec<String>>, CliError>;
}

/// How a [`LocalNode`] consumes what it receives, changeable while it runs: a paused
/// node stops reading its subscriber (the queue fills and backpressure reaches the
/// publishers); a delay slows it down per message.
#[derive(Debug, Default)]
pub struct Pace {
    /// Stop reading.
    pub paused: AtomicBool,
    /// Microseconds spent on each message.
    pub delay_us: AtomicU64,
}

/// Where a [`LocalNode`] hands each message it receives, with its arrival time.
pub type Sink = Arc<dyn Fn(Topic, &Data, Duration) + Send + Sync>;

/// A node in this process. Killed on drop.
pub struct LocalNode {
    name: String,
    endpoint: Option<Endpoint>,
    receiving: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    stores: HashMap<String, Store>,
    received: Arc<Mutex<Received>>,
    statuses: Arc<Mutex<Vec<String>>>,
    sink: Sink,
    config: Config,
    queue_size: usize,
    pace: Arc<Pace>,
}

impl LocalNode {
    /// A node recording what it receives in [`Node::received`]; not started.
    pub fn new(name: &str) -> LocalNode {
        let received: Arc<Mutex<Received>> = Arc::default();
        let (recording, me) = (received.clone(), name.to_owned());
        let sink: Sink = Arc::new(move |topic, data, arrival| {
            let mut received = recording.lock().expect("received lock poisoned");
            received.record(&me, topic, data, arrival);
        });
        let mut node = LocalNode::with_sink(name, sink);
        node.received = received;
        node
    }

    /// A node handing what it receives to `sink` (its [`Node::received`] stays
    /// empty); not started.
    pub fn with_sink(name: &str, sink: Sink) -> LocalNode {
        LocalNode {
            name: name.to_owned(),
            endpoint: None,
            receiving: None,
            stores: HashMap::new(),
            received: Arc::default(),
            statuses: Arc::default(),
            sink,
            config: Config::default(),
            queue_size: 4096,
            pace: Arc::default(),
        }
    }

    /// The node with endpoints configured by `config` and a subscriber queue of
    /// `queue_size` (rather than the defaults and 4096).
    pub fn configured(mut self, config: Config, queue_size: usize) -> LocalNode {
        self.config = config;
        self.queue_size = queue_size;
        self
    }

    /// How its receiving thread consumes, across restarts.
    pub fn pace(&self) -> &Pace {
        &self.pace
    }

    /// Its endpoint, while it runs.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }
}

impl Node for LocalNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn start(&mut self, spec: &NodeSpec) -> Result<u16, CliError> {
        self.kill();
        let endpoint = Endpoint::new(self.config.clone())?;
        let topics = |names: &[String]| names.iter().map(|t| Topic::new(t.as_str())).collect();
        if !spec.forward.is_empty() {
            endpoint.forward(topics(&spec.forward));
        }
        let subscriber = endpoint.make_subscriber(topics(&spec.subscribe), self.queue_size);
        let status = endpoint.make_status_subscriber(true);
        let port = endpoint.listen("127.0.0.1", 0)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (stopped, sink) = (stop.clone(), self.sink.clone());
        let (statuses, pace) = (self.statuses.clone(), self.pace.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let events = status.poll();
                if !events.is_empty() {
                    let mut statuses = statuses.lock().expect("statuses lock poisoned");
                    statuses.extend(events.iter().map(describe));
                }
                if pace.paused.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                let Some(first) = subscriber.get(Some(POLL_SLICE)) else {
                    continue;
                };
                let arrival = wall_clock();
                let delay = Duration::from_micros(pace.delay_us.load(Ordering::Relaxed));
                for (topic, data) in std::iter::once(first).chain(subscriber.poll()) {
                    sink(topic, &data, arrival);
                    if !delay.is_zero() {
                        std::thread::sleep(delay);
                    }
                }
            }
        });
        self.endpoint = Some(endpoint);
        self.receiving = Some((stop, thread));
        Ok(port)
    }

    fn running(&self) -> bool {
        self.endpoint.is_some()
    }

    fn kill(&mut self) {
        self.stores.clear();
        if let Some(endpoint) = self.endpoint.take() {
            endpoint.shutdown();
        }
        if let Some((stop, thread)) = self.receiving.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }

    fn peer(&mut self, port: u16) -> Result<(), CliError> {
        if let Some(endpoint) = &self.endpoint {
            endpoint.peer_nosync("127.0.0.1", port, Some(RETRY));
        }
        Ok(())
    }

    fn peered(&mut self) -> usize {
        self.endpoint.as_ref().map_or(0, |e| {
            e.peers()
                .iter()
                .filter(|p| p.status == PeerStatus::Peered)
                .count()
        })
    }

    fn publish(&mut self, topic: &Topic, first: u64, count: u64) -> Result<(), CliError> {
        if let Some(endpoint) = &self.endpoint {
            let messages = (first..first + count)
                .map(|seq| (topic.clone(), payload(&self.name, seq)))
                .collect();
            endpoint.publish_batch(messages);
        }
        Ok(())
    }

    fn received(&self) -> &Mutex<Received> {
        &self.received
    }

    fn routed(&mut self, topic: &Topic) -> bool {
        self.endpoint.as_ref().is_some_and(|e| {
            e.peer_subscriptions()
                .iter()
                .any(|s| topic.as_str().starts_with(s.as_str()))
        })
    }

    fn statuses(&mut self) -> Vec<String> {
        self.statuses
            .lock()
            .expect("statuses lock poisoned")
            .clone()
    }

    fn attach_stores(
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

    fn put(&mut self, write: &StoreWrite) -> Result<(), CliError> {
        let Some(replica) = self.stores.get(&write.store) else {
            return Ok(()); // killed: the write goes nowhere, as a publish would
        };
        for (key, value) in &write.entries {
            replica.put(Data::string(key.as_str()), from_json_or_text(value)?, None);
        }
        for i in write.first..write.first + write.count {
            let key = format!("{}/{i}", self.name);
            replica.put(Data::string(key), Data::Count(i), None);
        }
        Ok(())
    }

    fn store_deviations(
        &mut self,
        expected: &StoreExpectation,
    ) -> Result<Option<Vec<String>>, CliError> {
        let Some(replica) = self.stores.get(&expected.store) else {
            return Ok(None);
        };
        let mut wrong = Vec::new();
        match replica.keys() {
            Ok(held) if expected.keys.is_some_and(|k| k != held.len() as u64) => {
                wrong.push(format!("{} keys", held.len()))
            }
            Ok(_) => {}
            Err(e) => wrong.push(e.to_string()),
        }
        for (key, value) in expected.values()? {
            match replica.get(&key) {
                Ok(Some(held)) if held == value => {}
                Ok(held) => wrong.push(format!(
                    "{key} = {}",
                    held.map_or("nothing".into(), |v| v.to_string())
                )),
                Err(e) => wrong.push(e.to_string()),
            }
        }
        Ok(Some(wrong))
    }
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.kill();
    }
}
