//! Statuses of failed inbound handshakes, without a flood: a thousand half-open
//! connections timing out together must not fill the status queues (and shed the
//! statuses that matter). Per error code, the first failure in a quiet spell is reported
//! as it comes; later ones are counted and reported together every
//! [`INBOUND_REPORT_INTERVAL`] while they go on, with the running total.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::Core;
use crate::status::{ErrorCode, StatusEvent};

/// How long after a report further failures of its kind are only counted.
pub(super) const INBOUND_REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Failed inbound handshakes by error code (see the module docs).
#[derive(Debug, Default)]
pub(super) struct InboundFailures {
    kinds: HashMap<ErrorCode, Kind>,
}

#[derive(Debug, Default)]
struct Kind {
    /// Every failure of this kind so far.
    total: u64,
    /// Failures counted since the last report.
    unreported: u64,
    /// Whether a report went out less than an interval ago.
    recent: bool,
}

impl InboundFailures {
    /// A failure with `code`: whether to report it now. If so, the caller calls
    /// [`InboundFailures::interval_ended`] after [`INBOUND_REPORT_INTERVAL`].
    pub(super) fn failed(&mut self, code: ErrorCode) -> bool {
        let kind = self.kinds.entry(code).or_default();
        kind.total += 1;
        if kind.recent {
            kind.unreported += 1;
            return false;
        }
        kind.recent = true;
        true
    }

    /// An interval after a report of `code`: the report of what was counted meanwhile,
    /// if anything was (then the caller calls again after another interval).
    pub(super) fn interval_ended(&mut self, code: ErrorCode) -> Option<String> {
        let kind = self.kinds.get_mut(&code)?;
        if kind.unreported == 0 {
            kind.recent = false;
            return None;
        }
        let report = format!(
            "{} more inbound connections failed their handshake ({code}) in {} ms; {} in all",
            kind.unreported,
            INBOUND_REPORT_INTERVAL.as_millis(),
            kind.total
        );
        kind.unreported = 0;
        Some(report)
    }
}

impl Core {
    /// Reports `event`, the failed inbound handshake of kind `code`, unless its kind was
    /// reported less than an interval ago (then it is counted for the next report).
    pub(super) fn inbound_failed(
        &mut self,
        code: ErrorCode,
        event: StatusEvent,
        ctx: &mut Context<Self>,
    ) {
        if self.inbound_failures.failed(code) {
            self.emit(event);
            self.report_inbound_later(code, ctx);
        }
    }

    fn report_inbound_later(&mut self, code: ErrorCode, ctx: &mut Context<Self>) {
        ctx.run_later(INBOUND_REPORT_INTERVAL, move |act, ctx| {
            if let Some(report) = act.inbound_failures.interval_ended(code) {
                act.emit(StatusEvent::error(code, None, report));
                act.report_inbound_later(code, ctx);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_reported_and_a_flood_summed_up_per_interval() {
        let mut failures = InboundFailures::default();
        let timeout = ErrorCode::PeerUnavailable;
        assert!(failures.failed(timeout));
        assert!((0..999).all(|_| !failures.failed(timeout)));
        // Another kind is not hidden behind the flood.
        assert!(failures.failed(ErrorCode::PeerInvalid));
        let report = failures.interval_ended(timeout).expect("counted failures");
        assert!(
            report.starts_with("999 more inbound connections"),
            "{report}"
        );
        assert!(report.ends_with("1000 in all"), "{report}");
        // The flood goes on: summed up again after the next interval.
        assert!(!failures.failed(timeout));
        let report = failures.interval_ended(timeout).expect("counted failures");
        assert!(report.starts_with("1 more") && report.ends_with("1001 in all"));
        // A quiet interval: nothing to say, and the next failure is reported at once.
        assert_eq!(failures.interval_ended(timeout), None);
        assert!(failures.failed(timeout));
        assert_eq!(failures.interval_ended(ErrorCode::PeerInvalid), None);
    }
}
