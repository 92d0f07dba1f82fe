//! Publish buffers: the endpoint's own (`Endpoint::publish*`) and each publisher's.
//! Callers pay a queue push per message and a drain task on the endpoint's thread
//! publishes whatever piled up as one batch, so bursts travel in large batches. A lone
//! message after a quiet spell, with nothing ahead of it, is routed and written on the
//! caller's thread instead (`routing::publish_inline`): sparse traffic does not wait
//! for the endpoint's thread to wake up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_wire::{Payload, Topic};

use crate::flare::Flare;
use crate::queue::{BoundedQueue, PushError};
use crate::routing::{publish_async, publish_inline, PeerRoute, Shared};

/// Publishes closer together than this are buffered and batched: sending inline costs
/// the caller a write system call per message, batching amortises it.
const SPARSE: Duration = Duration::from_micros(10);

/// A bounded buffer of messages to publish, and the order they leave in.
pub(crate) struct PublishBuffer {
    /// Messages waiting for the drain task.
    pub(crate) queue: BoundedQueue<(Topic, Payload)>,
    /// Held by whoever moves this buffer's messages into the data path (the drain task
    /// for a batch, an inline sender for its message), so they leave in publish order.
    turn: tokio::sync::Mutex<()>,
    /// When the latest single publish came (or ended, if sent inline), in nanoseconds
    /// after `epoch`.
    latest: AtomicU64,
    epoch: Instant,
}

impl PublishBuffer {
    /// A buffer of `capacity` messages; `room_flare` is readable while it has room.
    pub(crate) fn new(capacity: usize, room_flare: Option<Flare>) -> Self {
        PublishBuffer {
            queue: BoundedQueue::new(capacity, None, room_flare),
            turn: tokio::sync::Mutex::new(()),
            latest: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Publishes one message without waiting: inline when traffic is sparse and
    /// nothing is ahead of it, else into the buffer if it has room.
    pub(crate) fn try_publish(
        &self,
        shared: &Shared,
        message: (Topic, Payload),
    ) -> Result<(), PushError<(Topic, Payload)>> {
        self.try_inline(shared, message)
            .or_else(|message| self.queue.try_push(message, 1))
    }

    /// Publishes one message like [`PublishBuffer::try_publish`], waiting while the
    /// buffer is full; fails only once it is closed.
    pub(crate) fn publish(
        &self,
        shared: &Shared,
        message: (Topic, Payload),
    ) -> Result<(), PushError<(Topic, Payload)>> {
        self.try_inline(shared, message)
            .or_else(|message| self.queue.push_wait(message, 1, None))
    }

    /// Sends `message` on the caller's thread if traffic is sparse, no drain is under
    /// way, nothing is buffered and every peer that wants it has room; gives it back
    /// otherwise.
    fn try_inline(
        &self,
        shared: &Shared,
        message: (Topic, Payload),
    ) -> Result<(), (Topic, Payload)> {
        if !self.sparse() {
            return Err(message);
        }
        let Ok(_turn) = self.turn.try_lock() else {
            return Err(message);
        };
        if !self.queue.is_idle() {
            return Err(message);
        }
        let routes = shared.routes();
        let has_room = |peer: &PeerRoute| peer.link.outbox.has_room(1);
        if !routes.links_wanting(&message.0).all(has_room) {
            return Err(message);
        }
        publish_inline(shared, &routes, vec![message]);
        // The gap to the next publish counts from here: a sender that spends its time
        // sending inline is not sparse.
        self.latest.store(self.now(), Ordering::Relaxed);
        Ok(())
    }

    /// Records a single publish; whether it came long enough after the previous one.
    fn sparse(&self) -> bool {
        let now = self.now();
        let latest = self.latest.swap(now, Ordering::Relaxed);
        now.saturating_sub(latest) >= SPARSE.as_nanos() as u64
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The drain task of `buffer` (on the endpoint's thread): publishes whatever piled up
/// as one batch, until the buffer is closed and drained.
pub(crate) async fn drain(shared: Arc<Shared>, buffer: Arc<PublishBuffer>) {
    while buffer.queue.wait_items_async().await {
        let _turn = buffer.turn.lock().await;
        let batch = buffer.queue.pop_now(usize::MAX);
        publish_async(&shared, batch).await;
    }
}
