//! The topology harness: a topology described in TOML (nodes, links, subscriptions,
//! stores, steps) run in one process, reporting deliveries, losses, duplicates,
//! latencies and whether store replicas agree.
//!
//! Every link goes through a [`proxy::Proxy`], so steps can partition and heal it,
//! and a restarted node can come back on a new port.

pub mod node;
pub mod proxy;
pub mod report;
pub mod run;
pub mod topology;

pub use report::Report;
pub use run::run;
pub use topology::Topology;
