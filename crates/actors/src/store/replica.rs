//! What a store handle and its actor share: the replica's contents, the queue of writes,
//! and the progress counters behind read-your-writes on a master and `await_idle`.

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use broker_store::messages::EntityId;
use broker_store::Operation;

use super::Role;
use crate::queue::BoundedQueue;

/// A write for the store's actor; `answer` is set for `put_unique`, which waits for it.
pub(crate) struct Request {
    pub(crate) op: Operation,
    pub(crate) answer: Option<SyncSender<bool>>,
}

/// What a handle and its actor share.
pub(crate) struct Replica {
    pub(crate) name: String,
    pub(crate) role: Role,
    /// This store instance, as the publisher of its writes.
    pub(crate) entity: EntityId,
    /// The contents: the master's authoritative store, or a clone's in-memory copy.
    pub(crate) store: Mutex<broker_store::Store>,
    /// Writes on their way to the actor.
    pub(crate) requests: Arc<BoundedQueue<Request>>,
    pub(crate) progress: Progress,
    /// Set by a clone whose master has been unreachable for its stale interval.
    pub(crate) stale: AtomicBool,
    pub(crate) request_timeout: Duration,
}

impl Replica {
    pub(crate) fn store(&self) -> MutexGuard<'_, broker_store::Store> {
        // Poisoned only by a panic inside a backend call: a bug.
        self.store.lock().expect("store lock poisoned")
    }
}

/// Counts writes through their life, so that reads on a master see earlier writes and
/// `await_idle` knows when nothing is pending. Writes awaiting an answer (`put_unique`)
/// are not counted: their caller waits for them anyway.
#[derive(Default)]
pub(crate) struct Progress {
    state: Mutex<Counters>,
    changed: Condvar,
}

#[derive(Default)]
struct Counters {
    submitted: u64,
    /// Applied to the replica (masters only).
    applied: u64,
    /// Completely handled: published by a master; answered or given up by a clone.
    finished: u64,
    /// Whether a clone follows its master (always for a master).
    synced: bool,
    /// The actor is gone: nothing will progress any more.
    closed: bool,
}

impl Progress {
    pub(crate) fn new(synced: bool) -> Self {
        let progress = Progress::default();
        progress.lock().synced = synced;
        progress
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        self.state.lock().expect("progress lock poisoned")
    }

    fn update(&self, change: impl FnOnce(&mut Counters)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }

    pub(crate) fn submit(&self) {
        self.lock().submitted += 1;
    }

    /// Takes back a submission whose write did not happen.
    pub(crate) fn withdraw(&self) {
        self.lock().submitted -= 1;
    }

    pub(crate) fn applied(&self, n: u64) {
        if n > 0 {
            self.update(|c| c.applied += n);
        }
    }

    pub(crate) fn finished(&self, n: u64) {
        if n > 0 {
            self.update(|c| c.finished += n);
        }
    }

    pub(crate) fn set_synced(&self, synced: bool) {
        self.update(|c| c.synced = synced);
    }

    pub(crate) fn close(&self) {
        self.update(|c| c.closed = true);
    }

    /// Whether a clone follows its master (always for a master), and how many writes
    /// submitted through the handles are not completely handled yet.
    pub(crate) fn sync_state(&self) -> (bool, u64) {
        let counters = self.lock();
        (
            counters.synced,
            counters.submitted.saturating_sub(counters.finished),
        )
    }

    /// Waits at most `timeout` until nothing submitted is pending and a clone is synced.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |c| c.synced && c.finished >= c.submitted)
    }

    /// Waits at most `timeout` until a clone is synced.
    pub(crate) fn wait_synced(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |c| c.synced)
    }

    /// Waits at most `timeout` until `done` holds; whether it does.
    fn wait_for(&self, timeout: Duration, done: impl Fn(&Counters) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut counters = self.lock();
        loop {
            if done(&counters) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || counters.closed {
                return false;
            }
            counters = self
                .changed
                .wait_timeout(counters, left)
                .expect("progress lock poisoned")
                .0;
        }
    }

    /// Waits until every write submitted so far has been applied.
    pub(crate) fn wait_applied(&self, timeout: Duration) -> bool {
        let target = self.lock().submitted;
        self.wait_for(timeout, |c| c.applied >= target)
    }
}
