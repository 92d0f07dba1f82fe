//! Subscribers and status subscribers: bounded queues the data path fills directly,
//! read from any thread, with a descriptor readable exactly while items are pending.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use broker_wire::{Data, Payload, Topic};

use crate::core::{ChangeSubscription, Core, RemoveSubscriber};
use crate::queue::BoundedQueue;
use crate::status::StatusEvent;

/// The reading side shared by subscribers and status subscribers.
pub(crate) struct Inbox<T> {
    pub(crate) queue: Arc<BoundedQueue<T>>,
}

impl<T> Inbox<T> {
    fn get(&self, timeout: Option<Duration>) -> Option<T> {
        self.queue.pop_wait(1, 1, timeout).pop()
    }

    fn get_n(&self, n: usize, timeout: Option<Duration>) -> Vec<T> {
        if n == 0 {
            return Vec::new();
        }
        self.queue.pop_wait(n, n, timeout)
    }

    fn poll(&self) -> Vec<T> {
        self.queue.pop_now(usize::MAX)
    }

    fn fd(&self) -> RawFd {
        self.queue
            .pending_fd()
            .expect("inboxes are created with a flare")
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        // Whoever waits to fill this queue gives up; the core prunes it.
        self.queue.close();
    }
}

/// Receives messages published by peers on the subscribed topics.
///
/// Vectors, sets and tables from our peers are queued as they arrived, encoded, and
/// decoded by the thread taking them: `get`, `get_n` and `poll` give [`Data`], their `_payload(s)`
/// variants the [`Payload`] for callers that decode it into something else.
pub struct Subscriber {
    pub(crate) id: u64,
    pub(crate) inbox: Inbox<(Topic, Payload)>,
    pub(crate) core: Addr<Core>,
}

/// A received message with its value decoded.
fn decoded((topic, payload): (Topic, Payload)) -> (Topic, Data) {
    (topic, payload.into_data())
}

impl Subscriber {
    /// The next message, waiting at most `timeout` (forever with `None`); `None` on
    /// timeout.
    pub fn get(&self, timeout: Option<Duration>) -> Option<(Topic, Data)> {
        self.get_payload(timeout).map(decoded)
    }

    /// Up to `n` messages: returns once `n` are there or `timeout` passed (forever with
    /// `None`), with what arrived.
    pub fn get_n(&self, n: usize, timeout: Option<Duration>) -> Vec<(Topic, Data)> {
        self.get_n_payloads(n, timeout)
            .into_iter()
            .map(decoded)
            .collect()
    }

    /// Every pending message, without waiting.
    pub fn poll(&self) -> Vec<(Topic, Data)> {
        self.poll_payloads().into_iter().map(decoded).collect()
    }

    /// [`Subscriber::get`], the value left as received.
    pub fn get_payload(&self, timeout: Option<Duration>) -> Option<(Topic, Payload)> {
        self.inbox.get(timeout)
    }

    /// [`Subscriber::get_n`], the values left as received.
    pub fn get_n_payloads(&self, n: usize, timeout: Option<Duration>) -> Vec<(Topic, Payload)> {
        self.inbox.get_n(n, timeout)
    }

    /// [`Subscriber::poll`], the values left as received.
    pub fn poll_payloads(&self) -> Vec<(Topic, Payload)> {
        self.inbox.poll()
    }

    /// Number of pending messages.
    pub fn available(&self) -> usize {
        self.inbox.queue.len()
    }

    /// A descriptor readable exactly while messages are pending.
    pub fn fd(&self) -> RawFd {
        self.inbox.fd()
    }

    /// Subscribes to one more topic; with `block`, returns once peers have been told.
    pub fn add_topic(&self, topic: Topic, block: bool) {
        self.change(topic, true, block);
    }

    /// Unsubscribes from a topic; with `block`, returns once peers have been told.
    pub fn remove_topic(&self, topic: Topic, block: bool) {
        self.change(topic, false, block);
    }

    fn change(&self, topic: Topic, add: bool, block: bool) {
        let msg = ChangeSubscription {
            id: self.id,
            topic,
            add,
        };
        if block {
            // A stopped endpoint has no peers to tell: nothing to wait for.
            let _ = futures::executor::block_on(self.core.send(msg));
        } else {
            self.core.do_send(msg);
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.core.do_send(RemoveSubscriber { id: self.id });
    }
}

/// Receives errors, and statuses if asked for, about this endpoint's peerings.
pub struct StatusSubscriber {
    pub(crate) inbox: Inbox<StatusEvent>,
    /// Events shed because the queue was full, counted by the core.
    pub(crate) dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl StatusSubscriber {
    /// The next event, waiting at most `timeout` (forever with `None`).
    pub fn get(&self, timeout: Option<Duration>) -> Option<StatusEvent> {
        self.inbox.get(timeout)
    }

    /// Up to `n` events, waiting at most `timeout` for all `n`.
    pub fn get_n(&self, n: usize, timeout: Option<Duration>) -> Vec<StatusEvent> {
        self.inbox.get_n(n, timeout)
    }

    /// Every pending event, without waiting.
    pub fn poll(&self) -> Vec<StatusEvent> {
        self.inbox.poll()
    }

    /// Number of pending events.
    pub fn available(&self) -> usize {
        self.inbox.queue.len()
    }

    /// A descriptor readable exactly while events are pending.
    pub fn fd(&self) -> RawFd {
        self.inbox.fd()
    }

    /// How many events were shed so far because this subscriber's queue was full.
    /// Each run of shed events is also reported, once the queue has room again, by an
    /// [`ErrorCode::Unspecified`](crate::ErrorCode) error event saying how many.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}
