//! What a scenario published, message by message, and whether each delivery was
//! promised; tallied against what a receiver recorded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use broker_wire::Topic;
use serde::Serialize;

use super::wait_until;
use crate::error::CliError;
use crate::harness::node::{Node, Received};

/// Runs of published messages (origin, first sequence number, count), each promised
/// or not, as expected at one receiver.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    runs: Vec<(String, u64, u64, bool)>,
    /// Per origin, the next sequence number.
    next: HashMap<String, u64>,
}

/// Per-message counts of a scenario (summed over its receivers).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Messages published towards the receivers (each receiver counts once).
    pub published: u64,
    /// Of those, the distinct ones that arrived.
    pub delivered: u64,
    /// Published but never arrived.
    pub lost: u64,
    /// Copies that arrived beyond the first.
    pub duplicated: u64,
    /// Of the published, those whose delivery was promised.
    pub promised: u64,
    /// Promised but lost: must be 0.
    pub promised_lost: u64,
}

impl Ledger {
    /// Records that `origin` published its next `count` messages; the first one's
    /// sequence number.
    pub fn record(&mut self, origin: &str, count: u64, promised: bool) -> u64 {
        let next = self.next.entry(origin.to_owned()).or_default();
        let first = *next;
        *next += count;
        self.runs.push((origin.to_owned(), first, count, promised));
        first
    }

    /// Publishes `count` messages from `node` on `topic` and records them.
    pub fn publish(
        &mut self,
        node: &mut dyn Node,
        topic: &Topic,
        count: u64,
        promised: bool,
    ) -> Result<(), CliError> {
        let first = self.record(node.name(), count, promised);
        node.publish(topic, first, count)
    }

    /// The same messages, none of them promised: for a receiver the semantics let
    /// shed them.
    pub fn unpromised(&self) -> Ledger {
        let mut ledger = self.clone();
        for run in &mut ledger.runs {
            run.3 = false;
        }
        ledger
    }

    /// Number of messages recorded.
    pub fn published(&self) -> u64 {
        self.runs.iter().map(|r| r.2).sum()
    }

    fn ids(&self, promised_only: bool) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.runs
            .iter()
            .filter(move |r| r.3 || !promised_only)
            .flat_map(|(origin, first, count, _)| {
                (*first..first + count).map(move |seq| (origin.as_str(), seq))
            })
    }

    /// Number of promised messages `received` lacks.
    fn promised_missing(&self, received: &Received) -> u64 {
        self.ids(true)
            .filter(|&(origin, seq)| !received.distinct.contains_key(&(origin.to_owned(), seq)))
            .count() as u64
    }

    /// Waits (at most `bound`) until `received` holds every promised message, then a
    /// little longer for late copies; whether it got them all.
    pub fn await_promised(&self, received: &Mutex<Received>, bound: Duration) -> bool {
        let complete = wait_until(bound, || {
            self.promised_missing(&received.lock().expect("received lock poisoned")) == 0
        });
        std::thread::sleep(Duration::from_millis(200));
        complete
    }

    /// The counts of this ledger at `received`.
    pub fn tally(&self, received: &Mutex<Received>) -> Counts {
        let received = received.lock().expect("received lock poisoned");
        let published = self.published();
        let delivered = self
            .ids(false)
            .filter(|&(origin, seq)| received.distinct.contains_key(&(origin.to_owned(), seq)))
            .count() as u64;
        Counts {
            published,
            delivered,
            lost: published - delivered,
            duplicated: received.duplicates,
            promised: self.ids(true).count() as u64,
            promised_lost: self.promised_missing(&received),
        }
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.published += other.published;
        self.delivered += other.delivered;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.promised += other.promised;
        self.promised_lost += other.promised_lost;
    }
}
