//! What a round of a scenario found ([`Outcome`]), its report with the checks every
//! scenario shares ([`ScenarioReport`]), and the campaign's table ([`Campaign`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{wait_until, Counts, Ledger, Scenario};
use crate::harness::node::Received;
use crate::harness::report::Check;

/// Statuses that tell the application a peering broke, so messages in flight on it
/// may be gone.
const LOSS_STATUSES: &[&str] = &["PeerLost", "error PeerTimeout", "error PeerInvalid"];

/// What one round of a scenario found, filled in as it runs.
#[derive(Debug, Default)]
pub struct Outcome {
    counts: Option<Counts>,
    converged: Option<bool>,
    /// Notes on what was shed and which statuses said so.
    shed: Vec<String>,
    /// Whether a status reported the breakage that unpromised losses come from.
    loss_reported: bool,
    checks: Vec<Check>,
}

impl Outcome {
    /// Records a check.
    pub fn check(&mut self, passed: bool, what: &str, detail: impl fmt::Display) {
        self.checks.push(Check {
            step: 0,
            what: what.to_owned(),
            passed,
            detail: detail.to_string(),
        });
    }

    /// Waits (at most `bound`) for `condition`; a check saying how long it took.
    pub fn wait(&mut self, what: &str, bound: Duration, condition: impl FnMut() -> bool) -> bool {
        let started = Instant::now();
        let held = wait_until(bound, condition);
        let detail = match held {
            true => format!("after {} ms", started.elapsed().as_millis()),
            false => format!("not within {} s", bound.as_secs()),
        };
        self.check(held, what, detail);
        held
    }

    /// Waits (at most `bound`) until `received` holds every promised message of
    /// `ledger`, and adds the ledger's counts.
    pub fn tally(&mut self, ledger: &Ledger, received: &Mutex<Received>, bound: Duration) {
        ledger.await_promised(received, bound);
        *self.counts.get_or_insert_with(Counts::default) += ledger.tally(received);
    }

    /// Records whether every replica of a store converged.
    pub fn converged(&mut self, converged: bool) {
        self.converged = Some(self.converged.unwrap_or(true) && converged);
    }

    /// Notes what `who` saw (its status events, summarized) and whether any of
    /// them reports a broken peering.
    pub fn statuses(&mut self, who: &str, statuses: &[String]) {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for status in statuses {
            *kinds.entry(status.as_str()).or_default() += 1;
            self.loss_reported |= LOSS_STATUSES.contains(&status.as_str());
        }
        if !kinds.is_empty() {
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            self.shed.push(format!("{who}: {}", kinds.join(", ")));
        }
    }

    /// Adds a note for the report's status column.
    pub fn note(&mut self, note: impl Into<String>) {
        self.shed.push(note.into());
    }

    /// The report of this round of `scenario`, with the checks every scenario shares.
    pub fn report(mut self, scenario: &Scenario) -> ScenarioReport {
        if let Some(c) = self.counts {
            self.check(c.duplicated == 0, "nothing duplicated", c.duplicated);
            self.check(
                c.promised_lost == 0,
                "every promised message delivered",
                format!("{} of {} lost", c.promised_lost, c.promised),
            );
            let unpromised_lost = c.lost - c.promised_lost;
            self.check(
                unpromised_lost == 0 || self.loss_reported,
                "every loss reported by a status",
                format!("{unpromised_lost} lost outside the promise"),
            );
        }
        if let Some(converged) = self.converged {
            self.check(converged, "every replica converged", converged);
        }
        ScenarioReport {
            scenario: scenario.name.to_owned(),
            promise: scenario.promise.to_owned(),
            rounds: 1,
            passed: self.checks.iter().all(|c| c.passed),
            counts: self.counts,
            converged: self.converged,
            status: self.shed.join("; "),
            checks: self.checks,
        }
    }
}

/// A scenario's report, over one or more rounds.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// The scenario.
    pub scenario: String,
    /// What it promises.
    pub promise: String,
    /// Rounds run.
    pub rounds: u64,
    /// Whether every check of every round held.
    pub passed: bool,
    /// Messages published, delivered, lost, duplicated (scenarios with messages).
    pub counts: Option<Counts>,
    /// Whether store replicas converged (scenarios with stores).
    pub converged: Option<bool>,
    /// What was shed and which statuses said so (of the last round).
    pub status: String,
    /// The checks (failed ones of every round, all of the last).
    pub checks: Vec<Check>,
}

impl ScenarioReport {
    /// Adds a later round of the same scenario.
    pub fn merge(&mut self, later: ScenarioReport) {
        self.rounds += later.rounds;
        self.passed &= later.passed;
        if let (Some(sum), Some(more)) = (&mut self.counts, later.counts) {
            *sum += more;
        }
        if let Some(converged) = later.converged {
            self.converged = Some(self.converged.unwrap_or(true) && converged);
        }
        self.status = later.status;
        self.checks.retain(|c| !c.passed);
        self.checks.extend(later.checks);
    }
}

/// Every scenario's report.
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    /// Wall-clock length of the campaign.
    pub seconds: f64,
    /// One report per scenario.
    pub scenarios: Vec<ScenarioReport>,
}

impl Campaign {
    /// Whether every scenario passed.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.passed)
    }
}

impl fmt::Display for Campaign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fault campaign: {} in {:.0} s",
            if self.passed() { "passed" } else { "FAILED" },
            self.seconds
        )?;
        writeln!(
            f,
            "{:<29} {:>6} {:>9} {:>9} {:>7} {:>5} {:>9} {:>9}  status",
            "scenario", "rounds", "published", "delivered", "lost", "dup", "promised", "converged"
        )?;
        for s in &self.scenarios {
            let (published, delivered, lost, dup, promised) = match s.counts {
                Some(c) => (
                    c.published.to_string(),
                    c.delivered.to_string(),
                    c.lost.to_string(),
                    c.duplicated.to_string(),
                    format!("{}/{}", c.promised - c.promised_lost, c.promised),
                ),
                None => Default::default(),
            };
            let converged = s.converged.map_or("-", |c| if c { "yes" } else { "NO" });
            writeln!(
                f,
                "{:<29} {:>6} {published:>9} {delivered:>9} {lost:>7} {dup:>5} {promised:>9} {converged:>9}  {}{}",
                s.scenario,
                s.rounds,
                if s.passed { "" } else { "FAILED; " },
                s.status
            )?;
        }
        for s in self.scenarios.iter().filter(|s| !s.passed) {
            for c in s.checks.iter().filter(|c| !c.passed) {
                writeln!(f, "FAIL {}: {} ({})", s.scenario, c.what, c.detail)?;
            }
        }
        Ok(())
    }
}
