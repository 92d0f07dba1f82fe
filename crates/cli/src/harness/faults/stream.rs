//! A steady stream of publishes from one endpoint on a thread of its own, each batch
//! recorded in a shared [`Ledger`] as promised or not, so faults can strike while
//! traffic flows ([`strike_mid_stream`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use broker_actors::Endpoint;
use broker_wire::Topic;

use super::{await_rerouted, Ledger, Outcome, WAIT};
use crate::error::CliError;
use crate::harness::node::{payload, LocalNode, Node};

/// Messages per publish call of a stream.
const BATCH: u64 = 20;

/// Whether what streams publish now is promised. The scenario takes the write lock
/// to change it, so no batch is half-way through being recorded and published.
pub type Promise = Arc<RwLock<bool>>;

/// A thread publishing batches until stopped. Stops when dropped.
pub struct Stream {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stream {
    /// Starts publishing on `topic` from `endpoint` as `origin`, recording each batch
    /// in `ledger` as promised throughout.
    pub fn promised(
        endpoint: Endpoint,
        origin: &str,
        topic: Topic,
        ledger: Arc<Mutex<Ledger>>,
    ) -> Stream {
        Stream::start(endpoint, origin, topic, ledger, Arc::new(RwLock::new(true)))
    }

    /// Starts publishing on `topic` from `endpoint` as `origin`, recording each batch
    /// in `ledger` as `promise` says.
    pub fn start(
        endpoint: Endpoint,
        origin: &str,
        topic: Topic,
        ledger: Arc<Mutex<Ledger>>,
        promise: Promise,
    ) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let (stopped, origin) = (stop.clone(), origin.to_owned());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                {
                    let promised = promise.read().expect("promise lock poisoned");
                    let first = ledger
                        .lock()
                        .expect("ledger lock poisoned")
                        .record(&origin, BATCH, *promised);
                    let batch = (first..first + BATCH)
                        .map(|seq| (topic.clone(), payload(&origin, seq)))
                        .collect();
                    endpoint.publish_batch(batch);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Stream {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Streams from every publisher to `receiver` and strikes with `fault` mid-stream:
/// once `messages` arrived, promises stop, what was published so far must arrive
/// (it went out on healthy peerings), `fault` runs while the streams go on, and
/// promises resume once every publisher reported `PeerLost` and is routed again;
/// streaming ends after `messages` more arrived. The ledger of everything published.
pub fn strike_mid_stream(
    out: &mut Outcome,
    publishers: &mut [LocalNode],
    receiver: &mut dyn Node,
    topic: &Topic,
    messages: u64,
    fault: impl FnOnce(&mut dyn Node) -> Result<(), CliError>,
) -> Result<Ledger, CliError> {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let promise = Arc::new(RwLock::new(true));
    let snapshot = || ledger.lock().expect("ledger lock poisoned").clone();
    let mut streams = Vec::new();
    for publisher in publishers.iter_mut() {
        let name = publisher.name().to_owned();
        if !out.wait(&format!("{name} is routed"), WAIT, || {
            publisher.routed(topic)
        }) {
            return Ok(snapshot());
        }
        let endpoint = publisher.endpoint().expect("started").clone();
        let stream = Stream::start(
            endpoint,
            &name,
            topic.clone(),
            ledger.clone(),
            promise.clone(),
        );
        streams.push(stream);
    }
    let delivered = |receiver: &dyn Node| {
        let received = receiver.received().lock().expect("received lock poisoned");
        received.distinct.len() as u64
    };
    out.wait("streams flow", WAIT, || delivered(receiver) >= messages);
    *promise.write().expect("promise lock poisoned") = false;
    snapshot().await_promised(receiver.received(), WAIT);
    fault(receiver)?;
    let rerouted = publishers
        .iter_mut()
        .all(|publisher| await_rerouted(out, publisher, topic, 0));
    if rerouted {
        *promise.write().expect("promise lock poisoned") = true;
        let so_far = delivered(receiver);
        out.wait("streams flow again", WAIT, || {
            delivered(receiver) >= so_far + messages
        });
    }
    drop(streams);
    Ok(snapshot())
}
