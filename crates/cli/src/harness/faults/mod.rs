//! The fault campaign (`broker-harness faults`): scenarios that break peerings in
//! every way the issue lists — SIGKILLed and restarted peers, partitions, a restarting
//! listener, slow and stalled consumers, half-open connections and a slow-loris
//! handshake, garbage and truncated frames, exhausted file descriptors, and stores
//! through kills and partitions — and count, per message id, what was published,
//! delivered, lost and duplicated.
//!
//! Every published message is recorded in a [`Ledger`] as *promised* (its delivery
//! exactly once is what the semantics guarantee: published on a healthy peering, or
//! after a re-peering completed) or not (in flight at a fault, or published while no
//! route existed). A scenario passes when nothing is duplicated, nothing promised is
//! lost, any other loss is explained by a status the endpoints reported (`PeerLost`,
//! `PeerTimeout`, ...), store replicas converged, and its own checks held.
//! `docs/reliability.md` states each promise.
//!
//! # Layout
//! - [`ledger`]: what was published and promised, tallied against what arrived.
//! - [`outcome`]: a scenario's checks and report, and the campaign's table.
//! - one file per scenario family: [`kill`], [`network`], [`ring`], [`consumers`],
//!   [`connections`], [`fds`], [`stores`].
//! - [`stream`]: steady publishing on a thread, for faults that strike mid-stream.

pub mod connections;
pub mod consumers;
pub mod fds;
pub mod kill;
pub mod ledger;
pub mod network;
pub mod outcome;
pub mod ring;
pub mod stores;
pub mod stream;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use ledger::{Counts, Ledger};
pub use outcome::{Campaign, Outcome, ScenarioReport};

use broker_wire::Topic;

use super::node::Node;
use crate::error::CliError;

/// What every scenario is given.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `broker-harness` binary, for nodes in child processes.
    pub program: PathBuf,
    /// Messages per publishing phase (stores: keys per write step).
    pub messages: u64,
}

/// A scenario: its name, the promise it checks, and how to run one round of it.
pub struct Scenario {
    /// Name on the command line and in the report.
    pub name: &'static str,
    /// What the semantics promise here, in one sentence.
    pub promise: &'static str,
    run: fn(&Options, &mut Outcome) -> Result<(), CliError>,
}

/// Every scenario, in the order the campaign runs them.
pub const SCENARIOS: &[Scenario] = &[
    kill::KILL_SUBSCRIBER,
    kill::KILL_PUBLISHER,
    kill::LISTENER_RESTART,
    network::PARTITION_HEAL,
    ring::RING_PARTITION,
    network::GARBAGE_FRAMES,
    network::TRUNCATED_FRAMES,
    network::OVERSIZED_FRAME,
    consumers::SLOW_CONSUMER,
    consumers::STALLED_CONSUMER,
    consumers::STALLED_CONSUMER_DISCONNECT,
    connections::HALF_OPEN_AND_SLOW_LORIS,
    fds::FD_EXHAUSTION,
    stores::STORE_KILL_CLONE,
    stores::STORE_PARTITION,
];

/// The scenario called `name`.
pub fn scenario(name: &str) -> Result<&'static Scenario, CliError> {
    SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| CliError::UnknownScenario {
            name: name.to_owned(),
            known: SCENARIOS
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl Scenario {
    /// Runs one round; its report. An error means the harness itself failed (a
    /// node would not start), not that a promise was broken.
    pub fn run(&self, options: &Options) -> Result<ScenarioReport, CliError> {
        let mut outcome = Outcome::default();
        (self.run)(options, &mut outcome)?;
        Ok(outcome.report(self))
    }
}

/// Runs `scenarios` round after round until `duration` has passed (each at least
/// once), merging the rounds of each scenario into one report.
pub fn run_campaign(
    scenarios: &[&'static Scenario],
    options: &Options,
    duration: Duration,
    mut after_round: impl FnMut(&ScenarioReport),
) -> Result<Campaign, CliError> {
    let started = Instant::now();
    let mut reports: Vec<Option<ScenarioReport>> = scenarios.iter().map(|_| None).collect();
    loop {
        for (scenario, merged) in scenarios.iter().zip(&mut reports) {
            let round = scenario.run(options)?;
            after_round(&round);
            match merged {
                Some(merged) => merged.merge(round),
                None => *merged = Some(round),
            }
        }
        if started.elapsed() >= duration {
            break;
        }
    }
    Ok(Campaign {
        seconds: started.elapsed().as_secs_f64(),
        scenarios: reports.into_iter().flatten().collect(),
    })
}

/// Polls `condition` every 10 ms until it holds or `bound` passed; whether it held.
pub(crate) fn wait_until(bound: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Bound of every wait for recovery (re-peering, delivery): generous, as CI boxes are
/// slow; a scenario that needs it is failing anyway.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// How often `kind` occurs among `statuses`.
pub(crate) fn occurrences(statuses: &[String], kind: &str) -> usize {
    statuses.iter().filter(|s| s.as_str() == kind).count()
}

/// Waits until `node` reported more than `losses_before` `PeerLost` statuses (it saw
/// the fault) and then a peer subscribes to `topic` again (the re-peering completed:
/// what it publishes from now on is promised).
pub(crate) fn await_rerouted(
    outcome: &mut Outcome,
    node: &mut dyn Node,
    topic: &Topic,
    losses_before: usize,
) -> bool {
    let name = node.name().to_owned();
    outcome.wait(&format!("{name} reports PeerLost"), WAIT, || {
        occurrences(&node.statuses(), "PeerLost") > losses_before
    }) && outcome.wait(&format!("{name} is routed to {topic} again"), WAIT, || {
        node.routed(topic)
    })
}
