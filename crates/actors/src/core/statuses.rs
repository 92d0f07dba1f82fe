//! The core's status subscribers: who wants which events, and handing events out
//! without ever stalling the core.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{AddStatusSubscriber, Core};
use crate::queue::{BoundedQueue, PushError};
use crate::status::StatusEvent;

/// A status subscriber's queue, whether it wants statuses besides errors, and its
/// count of shed events.
pub(super) struct StatusSink {
    queue: Arc<BoundedQueue<StatusEvent>>,
    statuses: bool,
    dropped: Arc<AtomicU64>,
}

impl Core {
    /// Hands `event` to the status subscribers that want it.
    pub(crate) fn emit(&mut self, event: StatusEvent) {
        self.status_sinks.retain(|sink| !sink.queue.is_closed());
        for sink in &self.status_sinks {
            if sink.statuses || matches!(event, StatusEvent::Error(_)) {
                // A full status queue sheds the newest events: statuses must never
                // stall the core. The subscriber sees how many in `dropped()`.
                if let Err(PushError::Full(_)) = sink.queue.try_push(event.clone(), 1) {
                    sink.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Starts handing events to a new status subscriber.
    pub(super) fn add_status_subscriber(&mut self, msg: AddStatusSubscriber) {
        self.status_sinks.push(StatusSink {
            queue: msg.queue,
            statuses: msg.statuses,
            dropped: msg.dropped,
        });
    }
}
