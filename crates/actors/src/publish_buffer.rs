//! Publish buffers: the endpoint's own (`Endpoint::publish*`) and each publisher's.
//! Callers pay a queue push per message and a drain task on the endpoint's thread
//! publishes whatever piled up as one batch, so bursts travel in large batches. A lone
//! message (or a small batch) after a quiet spell, with nothing ahead of it, is routed
//! and written on the caller's thread instead (`routing::publish_inline`): sparse
//! traffic does not wait for the endpoint's thread to wake up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_wire::{Payload, Topic};

use crate::flare::Flare;
use crate::queue::{BoundedQueue, PushError};
use crate::routing::{publish_async, publish_inline, PeerRoute, Routes, Shared};

/// Publishes closer together than this are buffered and batched: sending inline costs
/// the caller a write system call per message, batching amortises it.
const SPARSE: Duration = Duration::from_micros(10);

/// Larger batches are left to the drain task, which encodes them while the caller goes
/// on: inline, the caller would wait for all of their encoding.
const INLINE_BATCH: usize = 64;

/// Messages for more peers than this are left to the drain task too: inline, the
/// caller would make a write per peer (each ~10-20 µs with TLS) before going on, and
/// each write wakes a reader that competes with it for the CPU.
const INLINE_FANOUT: usize = 8;

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

    /// Publishes messages in order, inline like [`PublishBuffer::publish`] if there are
    /// few, waiting while the buffer is full; fails only once it is closed.
    pub(crate) fn publish_many(
        &self,
        shared: &Shared,
        messages: Vec<(Topic, Payload)>,
    ) -> Result<(), PushError<Vec<(Topic, Payload)>>> {
        self.try_inline_many(shared, messages)
            .or_else(|messages| self.queue.push_many_wait(messages))
    }

    /// Async [`PublishBuffer::publish_many`]: waits instead of blocking.
    pub(crate) async fn publish_many_async(
        &self,
        shared: &Shared,
        messages: Vec<(Topic, Payload)>,
    ) -> Result<(), PushError<Vec<(Topic, Payload)>>> {
        match self.try_inline_many(shared, messages) {
            Ok(()) => Ok(()),
            Err(messages) => self.queue.push_many_async(messages).await,
        }
    }

    /// Sends `message` on the caller's thread where [`PublishBuffer::inline_turn`]
    /// allows; gives it back otherwise.
    fn try_inline(
        &self,
        shared: &Shared,
        message: (Topic, Payload),
    ) -> Result<(), (Topic, Payload)> {
        let Some((_turn, routes)) = self.inline_turn(shared, std::slice::from_ref(&message)) else {
            return Err(message);
        };
        self.send_inline(shared, &routes, vec![message]);
        Ok(())
    }

    /// [`PublishBuffer::try_inline`] for up to [`INLINE_BATCH`] messages.
    fn try_inline_many(
        &self,
        shared: &Shared,
        messages: Vec<(Topic, Payload)>,
    ) -> Result<(), Vec<(Topic, Payload)>> {
        if messages.len() > INLINE_BATCH {
            return Err(messages);
        }
        let Some((_turn, routes)) = self.inline_turn(shared, &messages) else {
            return Err(messages);
        };
        self.send_inline(shared, &routes, messages);
        Ok(())
    }

    /// The turn to send `messages` on the caller's thread, and the routes to send them
    /// by, if traffic is sparse, no drain is under way, nothing is buffered, and at most
    /// [`INLINE_FANOUT`] peers want them, each with room for all.
    fn inline_turn(
        &self,
        shared: &Shared,
        messages: &[(Topic, Payload)],
    ) -> Option<(tokio::sync::MutexGuard<'_, ()>, Arc<Routes>)> {
        if !self.sparse() {
            return None;
        }
        let turn = self.turn.try_lock().ok()?;
        if !self.queue.is_idle() {
            return None;
        }
        let routes = shared.routes();
        let mut wanting: Vec<&PeerRoute> = Vec::new();
        for (topic, _) in messages {
            for peer in routes.links_wanting(topic) {
                if wanting
                    .iter()
                    .any(|seen| Arc::ptr_eq(&seen.link, &peer.link))
                {
                    continue;
                }
                if wanting.len() == INLINE_FANOUT || !peer.link.outbox.has_room(messages.len()) {
                    return None;
                }
                wanting.push(peer);
            }
        }
        Some((turn, routes))
    }

    /// Sends `messages` inline, holding the turn.
    fn send_inline(&self, shared: &Shared, routes: &Routes, messages: Vec<(Topic, Payload)>) {
        publish_inline(shared, routes, messages);
        // The gap to the next publish counts from here: a sender that spends its time
        // sending inline is not sparse.
        self.latest.store(self.now(), Ordering::Relaxed);
    }

    /// Records a publish; whether it came long enough after the previous one.
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
