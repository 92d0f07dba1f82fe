//! Waiting on a queue from async tasks on the endpoint's thread: one retry loop that
//! registers for a wake-up before checking, so a change between check and wait is never
//! missed, and that leaves the waiter count right even when the wait is cancelled.

use std::collections::VecDeque;
use std::pin::pin;

use super::{BoundedQueue, PushError, State, Wakes};

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
            state.producers.tasks -= 1;
        } else {
            state.consumers.tasks -= 1;
        }
    }
}

impl<T> BoundedQueue<T> {
    /// Runs `attempt` under the lock until it gives a result, waiting between attempts
    /// as a producer (for room) or a consumer (for items). The wake-ups an attempt
    /// owes the other side are made once the lock is released.
    async fn retry_async<R>(
        &self,
        producer: bool,
        mut attempt: impl FnMut(&mut State<T>) -> (Option<R>, Wakes),
    ) -> R {
        let ready = if producer {
            &self.room_ready_async
        } else {
            &self.item_ready_async
        };
        loop {
            let mut notified = pin!(ready.notified());
            notified.as_mut().enable();
            let (result, wakes) = {
                let mut state = self.lock();
                let (result, wakes) = attempt(&mut state);
                if result.is_none() {
                    match producer {
                        true => state.producers.tasks += 1,
                        false => state.consumers.tasks += 1,
                    }
                }
                (result, wakes)
            };
            match producer {
                true => self.wake_consumers(wakes),
                false => self.wake_producers(wakes),
            }
            if let Some(result) = result {
                return result;
            }
            let _guard = WaitGuard {
                queue: self,
                producer,
            };
            notified.await;
        }
    }

    /// Async [`BoundedQueue::push_many_wait`].
    pub(crate) async fn push_many_async(&self, items: Vec<T>) -> Result<(), PushError<Vec<T>>> {
        let mut items = VecDeque::from(items);
        self.retry_async(true, |state| {
            if state.closed {
                let rest = std::mem::take(&mut items).into();
                return (Some(Err(PushError::Closed(rest))), Wakes::default());
            }
            let wakes = self.append_some_locked(state, &mut items);
            (items.is_empty().then_some(Ok(())), wakes)
        })
        .await
    }

    /// Pushes from async code, waiting for room; fails only when the queue is closed.
    /// Wrap in `tokio::time::timeout` for a bounded wait.
    pub(crate) async fn push_async(&self, item: T, weight: usize) -> Result<(), PushError<T>> {
        let mut item = Some(item);
        self.retry_async(true, |state| {
            let next = item
                .take()
                .expect("an attempt that failed gives the item back");
            match self.push_locked(state, next, weight) {
                Ok(wakes) => (Some(Ok(())), wakes),
                Err(PushError::Full(back)) => {
                    item = Some(back);
                    (None, Wakes::default())
                }
                Err(closed) => (Some(Err(closed)), Wakes::default()),
            }
        })
        .await
    }

    /// Waits until items are queued (`true`) or the queue is closed and drained
    /// (`false`), without taking any: for consumers that must take them under a lock
    /// of their own.
    pub(crate) async fn wait_items_async(&self) -> bool {
        self.retry_async(false, |state| {
            let result = match (state.items.is_empty(), state.closed) {
                (false, _) => Some(true),
                (true, true) => Some(false),
                (true, false) => None,
            };
            (result, Wakes::default())
        })
        .await
    }

    /// Takes everything queued, waiting until there is something; `None` once the queue
    /// is closed and drained.
    pub(crate) async fn pop_all_async(&self) -> Option<Vec<T>> {
        self.retry_async(false, |state| {
            let mut out = Vec::new();
            let wakes = self.pop_locked(state, usize::MAX, &mut out);
            let result = match (out.is_empty(), state.closed) {
                (false, _) => Some(Some(out)),
                (true, true) => Some(None),
                (true, false) => None,
            };
            (result, wakes)
        })
        .await
    }
}
