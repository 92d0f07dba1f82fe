//! The core's status subscribers: who wants which events, and handing events out
//! without ever stalling the core. Events shed from a full queue are counted and then
//! reported by an error event once the queue has room again: before the next event, or
//! by a retry every [`SHED_REPORT_INTERVAL`] that runs only while a report is due (an
//! idle endpoint never wakes for it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::{AddStatusSubscriber, Core};
use crate::queue::BoundedQueue;
use crate::reports::Report;
use crate::status::{ErrorCode, StatusEvent};

/// How often the core retries reporting shed events when no new event comes along.
pub(super) const SHED_REPORT_INTERVAL: Duration = Duration::from_millis(100);

/// A status subscriber's queue, whether it wants statuses besides errors, and its
/// count of shed events.
pub(super) struct StatusSink {
    queue: Arc<BoundedQueue<StatusEvent>>,
    statuses: bool,
    /// Every event shed so far, as the subscriber sees it in `dropped()`.
    dropped: Arc<AtomicU64>,
    /// Events shed since the last report reached the queue.
    unreported: u64,
}

impl StatusSink {
    /// Queues `event` behind a report of earlier shed events, if any; a full queue
    /// sheds the event (statuses must never stall the core). Whether it was queued.
    fn offer(&mut self, event: StatusEvent) -> bool {
        if self.report_shed() && self.queue.try_push(event, 1).is_ok() {
            return true;
        }
        self.unreported += 1;
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Queues the report of shed events, if there are any; false if it did not fit.
    fn report_shed(&mut self) -> bool {
        if self.unreported == 0 {
            return true;
        }
        let report = StatusEvent::error(
            ErrorCode::Unspecified,
            None,
            format!(
                "{} status events dropped: the status subscriber's queue was full",
                self.unreported
            ),
        );
        let queued = self.queue.try_push(report, 1).is_ok();
        if queued {
            self.unreported = 0;
        }
        queued
    }
}

impl Core {
    /// Hands `event` to the status subscribers that want it.
    pub(crate) fn emit(&mut self, event: StatusEvent) {
        self.status_sinks.retain(|sink| !sink.queue.is_closed());
        for sink in &mut self.status_sinks {
            if (sink.statuses || matches!(event, StatusEvent::Error(_)))
                && !sink.offer(event.clone())
            {
                self.shared.counters.dropped_status_event();
                if !self.shed_retry {
                    self.shed_retry = true;
                    self.shared.reporter.report(Report::ShedStatusEvents);
                }
            }
        }
    }

    /// Reports shed events to subscribers whose queues have room again, an interval
    /// from now and every interval after while some are still unreported.
    pub(super) fn retry_shed_reports(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(SHED_REPORT_INTERVAL, |core, ctx| {
            core.status_sinks.retain(|sink| !sink.queue.is_closed());
            for sink in &mut core.status_sinks {
                sink.report_shed();
            }
            if core.status_sinks.iter().any(|sink| sink.unreported > 0) {
                core.retry_shed_reports(ctx);
            } else {
                core.shed_retry = false;
            }
        });
    }

    /// Starts handing events to a new status subscriber.
    pub(super) fn add_status_subscriber(&mut self, msg: AddStatusSubscriber) {
        self.status_sinks.push(StatusSink {
            queue: msg.queue,
            statuses: msg.statuses,
            dropped: msg.dropped,
            unreported: 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusCode;

    fn sink(capacity: usize) -> StatusSink {
        StatusSink {
            queue: Arc::new(BoundedQueue::new(capacity, None, None)),
            statuses: true,
            dropped: Arc::default(),
            unreported: 0,
        }
    }

    fn added(n: usize) -> StatusEvent {
        StatusEvent::status(StatusCode::PeerAdded, None, &format!("event {n}"))
    }

    fn messages(events: Vec<StatusEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|event| match event {
                StatusEvent::Status(s) => s.message,
                StatusEvent::Error(e) => format!("{:?}: {}", e.code, e.message),
            })
            .collect()
    }

    #[test]
    fn shed_events_are_counted_and_reported_before_the_next_event() {
        let mut sink = sink(2);
        for n in 0..5 {
            sink.offer(added(n));
        }
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(messages(sink.queue.pop_now(10)), ["event 0", "event 1"]);
        sink.offer(added(5));
        assert_eq!(
            messages(sink.queue.pop_now(10)),
            [
                "Unspecified: 3 status events dropped: the status subscriber's queue was full",
                "event 5"
            ]
        );
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_report_waits_for_room_and_is_not_lost() {
        let mut sink = sink(1);
        sink.offer(added(0));
        sink.offer(added(1));
        assert!(!sink.report_shed(), "no room for the report yet");
        assert_eq!(messages(sink.queue.pop_now(10)), ["event 0"]);
        assert!(sink.report_shed());
        assert_eq!(
            messages(sink.queue.pop_now(10)),
            ["Unspecified: 1 status events dropped: the status subscriber's queue was full"]
        );
        assert!(sink.report_shed(), "nothing left to report");
        assert!(sink.queue.pop_now(10).is_empty());
    }
}
