//! The one bounded queue behind subscribers, status subscribers, publishers and peer
//! outboxes. Producers and consumers may be plain threads (blocking, with timeouts) or
//! async tasks on the endpoint's thread; both kinds wait without spinning.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::flare::Flare;

/// Contents of a queue. Shared between producers and consumers on any thread, hence a
/// `std::sync::Mutex`: critical sections are a few pointer moves and never await.
struct State<T> {
    items: VecDeque<(T, usize)>,
    /// Sum of the weights of `items`.
    weight: usize,
    closed: bool,
    /// Producers currently waiting for room (both kinds); pops only wake when > 0.
    waiting_producers: usize,
    /// Consumers currently waiting for items (both kinds); pushes only wake when > 0.
    waiting_consumers: usize,
}

/// Why a push did not happen; the item comes back.
#[derive(Debug)]
pub(crate) enum PushError<T> {
    /// The queue is at capacity (only from non-waiting or timed pushes).
    Full(T),
    /// The queue was closed: nobody will ever consume the item.
    Closed(T),
}

/// A bounded FIFO. Every item has a weight (messages it stands for); the sum of
/// weights stays at most `capacity`, except that an empty queue admits any item so a
/// single oversized batch cannot wedge its producer.
pub(crate) struct BoundedQueue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    item_ready: Condvar,
    room_ready: Condvar,
    item_ready_async: Notify,
    room_ready_async: Notify,
    /// Readable exactly while the queue holds items.
    pending_flare: Option<Flare>,
    /// Readable exactly while the queue has room.
    room_flare: Option<Flare>,
}

/// Decrements a waiter count when a wait ends, including when an async wait is
/// cancelled.
struct WaitGuard<'a, T> {
    queue: &'a BoundedQueue<T>,
    producer: bool,
}

impl<T> Drop for WaitGuard<'_, T> {
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        if self.producer {
            state.waiting_producers -= 1;
        } else {
            state.waiting_consumers -= 1;
        }
    }
}

impl<T> BoundedQueue<T> {
    /// A queue holding at most `capacity` weight (at least 1), with optional flares.
    pub(crate) fn new(
        capacity: usize,
        pending_flare: Option<Flare>,
        room_flare: Option<Flare>,
    ) -> Self {
        if let Some(flare) = &room_flare {
            flare.raise();
        }
        BoundedQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                weight: 0,
                closed: false,
                waiting_producers: 0,
                waiting_consumers: 0,
            }),
            capacity: capacity.max(1),
            item_ready: Condvar::new(),
            room_ready: Condvar::new(),
            item_ready_async: Notify::new(),
            room_ready_async: Notify::new(),
            pending_flare,
            room_flare,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A poisoned lock means a panic in a few lines of queue bookkeeping: a bug.
        self.state.lock().expect("queue lock poisoned")
    }

    /// Capacity in weight units.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Current total weight.
    pub(crate) fn weight(&self) -> usize {
        self.lock().weight
    }

    /// Number of queued items.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// The descriptor readable while items are pending, if the queue has one.
    pub(crate) fn pending_fd(&self) -> Option<std::os::fd::RawFd> {
        self.pending_flare.as_ref().map(Flare::fd)
    }

    /// The descriptor readable while the queue has room, if the queue has one.
    pub(crate) fn room_fd(&self) -> Option<std::os::fd::RawFd> {
        self.room_flare.as_ref().map(Flare::fd)
    }

    /// Pushes without waiting.
    pub(crate) fn try_push(&self, item: T, weight: usize) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        self.push_locked(&mut state, item, weight)
    }

    /// Pushes ignoring capacity: for control frames that must never wait behind data.
    pub(crate) fn push_unbounded(&self, item: T) -> Result<(), PushError<T>> {
        let mut state = self.lock();
        if state.closed {
            return Err(PushError::Closed(item));
        }
        self.append_locked(&mut state, item, 0);
        Ok(())
    }

    fn push_locked(
        &self,
        state: &mut State<T>,
        item: T,
        weight: usize,
    ) -> Result<(), PushError<T>> {
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if state.weight > 0 && state.weight + weight > self.capacity {
            return Err(PushError::Full(item));
        }
        self.append_locked(state, item, weight);
        Ok(())
    }

    fn append_locked(&self, state: &mut State<T>, item: T, weight: usize) {
        let was_empty = state.items.is_empty();
        state.items.push_back((item, weight));
        state.weight += weight;
        if was_empty {
            if let Some(flare) = &self.pending_flare {
                flare.raise();
            }
        }
        if state.weight >= self.capacity {
            if let Some(flare) = &self.room_flare {
                if state.weight - weight < self.capacity {
                    flare.lower();
                }
            }
        }
        if state.waiting_consumers > 0 {
            self.item_ready.notify_all();
            self.item_ready_async.notify_waiters();
        }
    }

    /// Pushes, waiting for room at most `timeout` (forever with `None`).
    pub(crate) fn push_wait(
        &self,
        mut item: T,
        weight: usize,
        timeout: Option<Duration>,
    ) -> Result<(), PushError<T>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        loop {
            match self.push_locked(&mut state, item, weight) {
                Err(PushError::Full(back)) => item = back,
                done => return done,
            }
            state.waiting_producers += 1;
            state = match deadline {
                None => self.room_ready.wait(state).expect("queue lock poisoned"),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.waiting_producers -= 1;
                        return Err(PushError::Full(item));
                    }
                    self.room_ready
                        .wait_timeout(state, left)
                        .expect("queue lock poisoned")
                        .0
                }
            };
            state.waiting_producers -= 1;
        }
    }

    /// Pushes from async code, waiting for room; fails only when the queue is closed.
    /// Wrap in `tokio::time::timeout` for a bounded wait.
    pub(crate) async fn push_async(&self, mut item: T, weight: usize) -> Result<(), PushError<T>> {
        loop {
            let mut notified = pin!(self.room_ready_async.notified());
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                match self.push_locked(&mut state, item, weight) {
                    Err(PushError::Full(back)) => item = back,
                    done => return done,
                }
                state.waiting_producers += 1;
            }
            let _guard = WaitGuard {
                queue: self,
                producer: true,
            };
            notified.await;
        }
    }

    fn pop_locked(&self, state: &mut State<T>, max: usize, out: &mut Vec<T>) {
        let before = state.weight;
        while out.len() < max {
            let Some((item, weight)) = state.items.pop_front() else {
                break;
            };
            state.weight -= weight;
            out.push(item);
        }
        if out.is_empty() {
            return;
        }
        if state.items.is_empty() {
            if let Some(flare) = &self.pending_flare {
                flare.lower();
            }
        }
        if before >= self.capacity && state.weight < self.capacity {
            if let Some(flare) = &self.room_flare {
                flare.raise();
            }
        }
        if state.waiting_producers > 0 {
            self.room_ready.notify_all();
            self.room_ready_async.notify_waiters();
        }
    }

    /// Takes up to `max` items without waiting.
    pub(crate) fn pop_now(&self, max: usize) -> Vec<T> {
        let mut out = Vec::new();
        let mut state = self.lock();
        self.pop_locked(&mut state, max, &mut out);
        out
    }

    /// Takes up to `max` items, waiting at most `timeout` (forever with `None`) until at
    /// least `min` are available or the queue closes; returns what it got.
    pub(crate) fn pop_wait(&self, min: usize, max: usize, timeout: Option<Duration>) -> Vec<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut out = Vec::new();
        let mut state = self.lock();
        loop {
            self.pop_locked(&mut state, max, &mut out);
            if out.len() >= min.min(max) || state.closed {
                return out;
            }
            state.waiting_consumers += 1;
            state = match deadline {
                None => self.item_ready.wait(state).expect("queue lock poisoned"),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.waiting_consumers -= 1;
                        return out;
                    }
                    self.item_ready
                        .wait_timeout(state, left)
                        .expect("queue lock poisoned")
                        .0
                }
            };
            state.waiting_consumers -= 1;
        }
    }

    /// Takes everything queued, waiting until there is something; `None` once the queue
    /// is closed and drained.
    pub(crate) async fn pop_all_async(&self) -> Option<Vec<T>> {
        loop {
            let mut notified = pin!(self.item_ready_async.notified());
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                let mut out = Vec::new();
                self.pop_locked(&mut state, usize::MAX, &mut out);
                if !out.is_empty() {
                    return Some(out);
                }
                if state.closed {
                    return None;
                }
                state.waiting_consumers += 1;
            }
            let _guard = WaitGuard {
                queue: self,
                producer: false,
            };
            notified.await;
        }
    }

    /// Refuses further pushes and wakes every waiter; queued items stay poppable.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.item_ready.notify_all();
        self.room_ready.notify_all();
        self.item_ready_async.notify_waiters();
        self.room_ready_async.notify_waiters();
    }

    /// Whether the queue was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}
