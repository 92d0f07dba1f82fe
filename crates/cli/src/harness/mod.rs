//! The topology harness: a topology described in TOML (nodes, links, subscriptions,
//! stores, steps) run in one process or one process per node, reporting deliveries,
//! losses, duplicates, latencies and whether store replicas agree.
//!
//! A link that a step partitions or heals, or whose listening node a step restarts,
//! goes through a [`proxy::Proxy`], so it can be cut and healed, and a restarted node
//! can come back on a new port; the other links are direct.
//!
//! # Layout
//! - [`topology`]: the TOML format.
//! - [`mod@run`]: the step runner, over nodes behind the [`node::Node`] trait.
//! - [`node`]: the trait and the in-process node.
//! - [`child`]: the child-process node and the child's side of its line protocol.
//! - [`proxy`]: the per-link TCP proxy.
//! - [`report`]: the report, as a table or JSON.
//! - [`faults`]: the fault campaign (`broker-harness faults`), its scenarios and report.

pub mod child;
pub mod faults;
pub mod node;
pub mod proxy;
pub mod report;
pub mod run;
pub mod topology;

pub use report::Report;
pub use run::{run, run_processes};
pub use topology::Topology;
