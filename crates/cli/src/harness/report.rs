//! The result of a run: per-node deliveries, losses, duplicates and latencies, and
//! the checks of `expect` steps; as a table or JSON.

use std::fmt;

use serde::Serialize;

use crate::stats::LatencySummary;

/// What one node received over a run.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// The node, or the group.
    pub name: String,
    /// The group a node belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A group's number of members (its figures are their sums, its latencies pooled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<usize>,
    /// Messages published by other nodes on topics it subscribes to.
    pub expected: u64,
    /// Distinct messages it received.
    pub received: u64,
    /// Expected messages it did not receive.
    pub lost: u64,
    /// Copies received beyond the first.
    pub duplicates: u64,
    /// One-way latencies.
    pub latency: Option<LatencySummary>,
}

/// The outcome of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The step it belongs to (1-based; 0 for the harness's own checks).
    pub step: usize,
    /// What was expected.
    pub what: String,
    /// Whether it held.
    pub passed: bool,
    /// What was observed.
    pub detail: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The topology's name.
    pub topology: String,
    /// Whether every check passed.
    pub passed: bool,
    /// Per node, in declaration order.
    pub nodes: Vec<NodeReport>,
    /// Per group of nodes (`count = N` in the topology), its members together.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<NodeReport>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report; passed when every check did.
    pub fn new(
        topology: String,
        nodes: Vec<NodeReport>,
        groups: Vec<NodeReport>,
        checks: Vec<Check>,
    ) -> Report {
        Report {
            topology,
            passed: checks.iter().all(|c| c.passed),
            nodes,
            groups,
            checks,
        }
    }

    /// The report of node `name`.
    pub fn node(&self, name: &str) -> Option<&NodeReport> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The report of group `name`, its members together.
    pub fn group(&self, name: &str) -> Option<&NodeReport> {
        self.groups.iter().find(|n| n.name == name)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "topology {}: {}",
            self.topology,
            if self.passed { "passed" } else { "FAILED" }
        )?;
        writeln!(
            f,
            "{:<12} {:>9} {:>9} {:>7} {:>10} {:>12} {:>12}",
            "node", "expected", "received", "lost", "duplicates", "median us", "p99 us"
        )?;
        // Members of a group show as the group's line.
        let ungrouped = self.nodes.iter().filter(|n| n.group.is_none());
        for n in ungrouped.chain(&self.groups) {
            let name = match n.members {
                Some(members) => format!("{} x{members}", n.name),
                None => n.name.clone(),
            };
            let (median, p99) = n.latency.map_or(("-".into(), "-".into()), |l| {
                (format!("{:.0}", l.median_us), format!("{:.0}", l.p99_us))
            });
            writeln!(
                f,
                "{name:<12} {:>9} {:>9} {:>7} {:>10} {median:>12} {p99:>12}",
                n.expected, n.received, n.lost, n.duplicates
            )?;
        }
        for c in &self.checks {
            writeln!(
                f,
                "{} step {}: {} ({})",
                if c.passed { "ok  " } else { "FAIL" },
                c.step,
                c.what,
                c.detail
            )?;
        }
        Ok(())
    }
}
