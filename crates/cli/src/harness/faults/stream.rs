//! A steady stream of publishes from one endpoint on a thread of its own, each batch
//! recorded in a shared [`Ledger`] as promised or not, so faults can strike while
//! traffic flows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use broker_actors::Endpoint;
use broker_wire::Topic;

use super::Ledger;
use crate::harness::node::payload;

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
