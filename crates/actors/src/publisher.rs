//! Publishers: a bounded buffer per publisher, drained into the data path by a task
//! on the endpoint's thread, so a publisher can tell its demand and wait on a
//! descriptor for room.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use broker_wire::{Payload, Topic};

use crate::publish_buffer::PublishBuffer;
use crate::queue::PushError;
use crate::routing::Shared;

/// Publishes on one topic through a buffer of bounded capacity.
pub struct Publisher {
    pub(crate) topic: Topic,
    pub(crate) buffer: Arc<PublishBuffer>,
    /// The endpoint's data path, for sending inline.
    pub(crate) shared: Arc<Shared>,
    pub(crate) sent: AtomicU64,
    pub(crate) created: Instant,
}

impl Publisher {
    /// The topic this publisher publishes on.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Publishes one value (a [`Data`](broker_wire::Data), or one encoded already);
    /// blocks while the buffer is full. A value after a quiet spell, with nothing
    /// buffered, is sent on this thread.
    pub fn publish(&self, data: impl Into<Payload>) {
        // Closed only by shutdown, when nothing is delivered any more.
        let _ = self
            .buffer
            .publish(&self.shared, (self.topic.clone(), data.into()));
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Publishes one value if the buffer has room; gives it back if not.
    pub fn try_publish(&self, data: impl Into<Payload>) -> Result<(), Payload> {
        match self
            .buffer
            .try_publish(&self.shared, (self.topic.clone(), data.into()))
        {
            Err(PushError::Full((_, data))) => Err(data),
            // Closed only by shutdown, when nothing is delivered any more.
            Ok(()) | Err(PushError::Closed(_)) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Publishes values in order; blocks while the buffer is full. A small batch after
    /// a quiet spell, with nothing buffered, is sent on this thread.
    pub fn publish_batch<P: Into<Payload>>(&self, data: Vec<P>) {
        let count = data.len() as u64;
        // Closed only by shutdown, when nothing is delivered any more.
        let _ = self.buffer.publish_many(&self.shared, self.messages(data));
        self.sent.fetch_add(count, Ordering::Relaxed);
    }

    /// Async [`Publisher::publish_batch`]: waits instead of blocking, so that a caller
    /// can give up (drop the future) while the buffer stays full; values pushed by then
    /// are published.
    pub async fn publish_batch_async<P: Into<Payload>>(&self, data: Vec<P>) {
        let count = data.len() as u64;
        // Closed only by shutdown, when nothing is delivered any more.
        let messages = self.messages(data);
        let _ = self.buffer.publish_many_async(&self.shared, messages).await;
        self.sent.fetch_add(count, Ordering::Relaxed);
    }

    /// The values as messages on this publisher's topic.
    fn messages<P: Into<Payload>>(&self, data: Vec<P>) -> Vec<(Topic, Payload)> {
        data.into_iter()
            .map(|d| (self.topic.clone(), d.into()))
            .collect()
    }

    /// How many values can be published without blocking.
    pub fn demand(&self) -> usize {
        self.free_capacity()
    }

    /// Values waiting in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.queue.weight()
    }

    /// Size of the buffer.
    pub fn capacity(&self) -> usize {
        self.buffer.queue.capacity()
    }

    /// Room left in the buffer.
    pub fn free_capacity(&self) -> usize {
        self.capacity().saturating_sub(self.buffered())
    }

    /// Values published per second since the publisher was created.
    pub fn send_rate(&self) -> f64 {
        let elapsed = self.created.elapsed().as_secs_f64();
        if elapsed > 0.0 {
            self.sent.load(Ordering::Relaxed) as f64 / elapsed
        } else {
            0.0
        }
    }

    /// A descriptor readable exactly while the buffer has room.
    pub fn fd(&self) -> RawFd {
        self.buffer
            .queue
            .room_fd()
            .expect("publishers are created with a flare")
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        // The drain task flushes what is buffered, then ends.
        self.buffer.queue.close();
    }
}
