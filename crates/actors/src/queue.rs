//! The one bounded queue behind subscribers, status subscribers, publishers and peer
//! outboxes. Producers and consumers may be plain threads (blocking, with timeouts) or
//! async tasks on the endpoint's thread; both kinds wait without spinning.

#[cfg(test)]
mod interleavings;
mod tasks;
mod waiters;

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::flare::Flare;
use waiters::{Waiters, Wakes};

/// Contents of a queue. Shared between producers and consumers on any thread, hence a
/// `std::sync::Mutex`: critical sections are a few pointer moves and never await.
struct State<T> {
    items: VecDeque<(T, usize)>,
    /// Sum of the weights of `items`.
    weight: usize,
    closed: bool,
    /// Producers currently waiting for room; pops only wake those there are.
    producers: Waiters,
    /// Consumers currently waiting for items; pushes only wake those there are.
    consumers: Waiters,
    /// The fewest items a waiting consumer thread needs: pushes wake consumer threads
    /// only from there on (or once the queue is full), not for every item on the way.
    wanted_by_threads: usize,
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
                producers: Waiters::default(),
                consumers: Waiters::default(),
                wanted_by_threads: 1,
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

    /// Whether the queue is open and empty: nothing queued would precede a new item.
    pub(crate) fn is_idle(&self) -> bool {
        let state = self.lock();
        !state.closed && state.items.is_empty()
    }

    /// Whether the queue is open and would admit an item of `weight` now.
    pub(crate) fn has_room(&self, weight: usize) -> bool {
        let state = self.lock();
        !state.closed && self.admits(&state, weight)
    }

    /// Whether `state` has room for `weight`: an empty queue admits anything.
    fn admits(&self, state: &State<T>, weight: usize) -> bool {
        state.weight == 0 || state.weight + weight <= self.capacity
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
        let wakes = self.push_locked(&mut self.lock(), item, weight)?;
        self.wake_consumers(wakes);
        Ok(())
    }

    /// Pushes ignoring capacity: for control frames that must never wait behind data.
    pub(crate) fn push_unbounded(&self, item: T) -> Result<(), PushError<T>> {
        let wakes = {
            let mut state = self.lock();
            if state.closed {
                return Err(PushError::Closed(item));
            }
            self.append_locked(&mut state, item, 0)
        };
        self.wake_consumers(wakes);
        Ok(())
    }

    /// Pushes without waiting, making room by removing the oldest items of nonzero
    /// weight (items of weight zero, control frames, stay); returns the weight removed.
    pub(crate) fn push_evicting(&self, item: T, weight: usize) -> Result<usize, PushError<T>> {
        let (evicted, wakes) = {
            let mut state = self.lock();
            if state.closed {
                return Err(PushError::Closed(item));
            }
            let before = state.weight;
            let mut evicted = 0;
            while !self.admits(&state, weight) {
                let Some(oldest) = state.items.iter().position(|(_, w)| *w > 0) else {
                    break;
                };
                if let Some((_, w)) = state.items.remove(oldest) {
                    state.weight -= w;
                    evicted += w;
                }
            }
            if before >= self.capacity && state.weight < self.capacity {
                if let Some(flare) = &self.room_flare {
                    flare.raise();
                }
            }
            (evicted, self.append_locked(&mut state, item, weight))
        };
        self.wake_consumers(wakes);
        Ok(evicted)
    }

    fn wake_consumers(&self, wakes: Wakes) {
        wakes.wake(&self.item_ready, &self.item_ready_async);
    }

    fn wake_producers(&self, wakes: Wakes) {
        wakes.wake(&self.room_ready, &self.room_ready_async);
    }

    fn push_locked(
        &self,
        state: &mut State<T>,
        item: T,
        weight: usize,
    ) -> Result<Wakes, PushError<T>> {
        if state.closed {
            return Err(PushError::Closed(item));
        }
        if !self.admits(state, weight) {
            return Err(PushError::Full(item));
        }
        Ok(self.append_locked(state, item, weight))
    }

    fn append_locked(&self, state: &mut State<T>, item: T, weight: usize) -> Wakes {
        let was_empty = state.items.is_empty();
        state.items.push_back((item, weight));
        state.weight += weight;
        self.appended(state, was_empty, weight)
    }

    /// Moves items of weight 1 from the front of `items` while there is room (an empty
    /// queue takes at least one).
    fn append_some_locked(&self, state: &mut State<T>, items: &mut VecDeque<T>) -> Wakes {
        let was_empty = state.items.is_empty();
        let room = self
            .capacity
            .saturating_sub(state.weight)
            .max(usize::from(was_empty));
        let count = room.min(items.len());
        if count > 0 {
            state
                .items
                .extend(items.drain(..count).map(|item| (item, 1)));
            state.weight += count;
            return self.appended(state, was_empty, count);
        }
        Wakes::default()
    }

    /// Flares after `weight` was appended; the wake-ups it calls for.
    fn appended(&self, state: &State<T>, was_empty: bool, weight: usize) -> Wakes {
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
        let enough = state.items.len() >= state.wanted_by_threads || state.weight >= self.capacity;
        Wakes {
            threads: state.consumers.threads > 0 && enough,
            tasks: state.consumers.tasks > 0,
        }
    }

    /// Pushes items of weight 1 in order under as few locks as room allows, waiting for
    /// room as needed; returns the items not pushed because the queue closed.
    pub(crate) fn push_many_wait(&self, items: Vec<T>) -> Result<(), PushError<Vec<T>>> {
        let mut items = VecDeque::from(items);
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err(PushError::Closed(items.into()));
            }
            let wakes = self.append_some_locked(&mut state, &mut items);
            if items.is_empty() {
                drop(state);
                self.wake_consumers(wakes);
                return Ok(());
            }
            // Consumers make the room waited for: wake them before waiting.
            self.wake_consumers(wakes);
            state.producers.threads += 1;
            state = self.room_ready.wait(state).expect("queue lock poisoned");
            state.producers.threads -= 1;
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
                Ok(wakes) => {
                    drop(state);
                    self.wake_consumers(wakes);
                    return Ok(());
                }
                Err(PushError::Full(back)) => item = back,
                Err(closed) => return Err(closed),
            }
            state.producers.threads += 1;
            state = match deadline {
                None => self.room_ready.wait(state).expect("queue lock poisoned"),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.producers.threads -= 1;
                        return Err(PushError::Full(item));
                    }
                    self.room_ready
                        .wait_timeout(state, left)
                        .expect("queue lock poisoned")
                        .0
                }
            };
            state.producers.threads -= 1;
        }
    }

    /// Moves up to `max` items into `out`; the wake-ups it calls for.
    fn pop_locked(&self, state: &mut State<T>, max: usize, out: &mut Vec<T>) -> Wakes {
        let before = state.weight;
        while out.len() < max {
            let Some((item, weight)) = state.items.pop_front() else {
                break;
            };
            state.weight -= weight;
            out.push(item);
        }
        if out.is_empty() {
            return Wakes::default();
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
        state.producers.owed()
    }

    /// Takes up to `max` items without waiting.
    pub(crate) fn pop_now(&self, max: usize) -> Vec<T> {
        let mut out = Vec::new();
        let wakes = self.pop_locked(&mut self.lock(), max, &mut out);
        self.wake_producers(wakes);
        out
    }

    /// Takes up to `max` items, waiting at most `timeout` (forever with `None`) until at
    /// least `min` are available or the queue closes; returns what it got.
    pub(crate) fn pop_wait(&self, min: usize, max: usize, timeout: Option<Duration>) -> Vec<T> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut out = Vec::new();
        let mut state = self.lock();
        loop {
            let wakes = self.pop_locked(&mut state, max, &mut out);
            if out.len() >= min.min(max) || state.closed {
                drop(state);
                self.wake_producers(wakes);
                return out;
            }
            // Producers fill what is waited for: wake them before waiting.
            self.wake_producers(wakes);
            let needed = min.min(max) - out.len();
            state.wanted_by_threads = match state.consumers.threads {
                0 => needed,
                _ => state.wanted_by_threads.min(needed),
            };
            state.consumers.threads += 1;
            state = match deadline {
                None => self.item_ready.wait(state).expect("queue lock poisoned"),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.consumers.threads -= 1;
                        return out;
                    }
                    self.item_ready
                        .wait_timeout(state, left)
                        .expect("queue lock poisoned")
                        .0
                }
            };
            state.consumers.threads -= 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_consumer_wakes_once_enough_items_arrived() {
        let queue = std::sync::Arc::new(BoundedQueue::new(100, None, None));
        let consumer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.pop_wait(5, 5, Some(Duration::from_secs(10))))
        };
        for i in 0..5 {
            std::thread::sleep(Duration::from_millis(5));
            queue.try_push(i, 1).unwrap();
        }
        assert_eq!(consumer.join().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn batches_larger_than_the_queue_arrive_whole_and_in_order() {
        let queue = std::sync::Arc::new(BoundedQueue::new(10, None, None));
        let producer = {
            let queue = queue.clone();
            std::thread::spawn(move || queue.push_many_wait((0..1000).collect()))
        };
        let mut received = Vec::new();
        while received.len() < 1000 {
            let got = queue.pop_wait(1, 7, Some(Duration::from_secs(10)));
            assert!(!got.is_empty(), "stalled at {}", received.len());
            assert!(queue.weight() <= 10);
            received.extend(got);
        }
        assert!(producer.join().unwrap().is_ok());
        assert_eq!(received, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn evicting_pushes_drop_the_oldest_weighted_items_and_keep_control_items() {
        let queue = BoundedQueue::new(4, None, None);
        queue.try_push("a", 2).unwrap();
        queue.push_unbounded("control").unwrap();
        queue.try_push("b", 2).unwrap();
        assert_eq!(queue.push_evicting("c", 1).unwrap(), 2);
        assert_eq!(queue.push_evicting("d", 1).unwrap(), 0);
        assert_eq!(queue.push_evicting("e", 3).unwrap(), 3);
        assert_eq!(queue.weight(), 4);
        assert_eq!(queue.pop_now(10), vec!["control", "d", "e"]);
        // An item heavier than the whole queue still goes in, alone.
        assert_eq!(queue.push_evicting("f", 9).unwrap(), 0);
        queue.close();
        assert!(matches!(
            queue.push_evicting("g", 1),
            Err(PushError::Closed("g"))
        ));
    }
}
