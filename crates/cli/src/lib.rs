//! Command-line tools for Broker endpoints, and the pieces they share.
//!
//! The binaries (`src/bin/`) are thin: argument parsing with clap and a `run`
//! function; what more than one tool needs lives in this library. Each tool is
//! documented, with examples, in `docs/tools.md`.
//!
//! # Layout
//! - [`net`]: the shared network options (`--peers`, `--local-port`, `--port-file`)
//!   and starting an endpoint from them.
//! - [`json`]: the JSON form of Broker values behind every `--json`.
//! - [`interrupt`]: SIGINT/SIGTERM as a polled flag, for clean exits.
//! - [`stats`]: latency percentiles and once-a-second rate reports.
//! - [`stores`]: attaching store masters and clones, writes as `KEY=VALUE`, and
//!   store events in readable form.
//! - [`events`]: the benchmark's event types.
//! - [`harness`]: topologies described in TOML, run in one process or one process
//!   per node, with a TCP proxy per link for partitions; and the fault campaign
//!   (`broker-harness faults`).
//! - [`error`]: the tools' error type, [`CliError`].

pub mod error;
pub mod events;
pub mod harness;
pub mod interrupt;
pub mod json;
pub mod net;
pub mod stats;
pub mod stores;

use std::process::ExitCode;
use std::time::Duration;

pub use error::CliError;
pub use interrupt::Interrupt;

/// How long a tool blocks at most before checking for a signal again.
pub const POLL_SLICE: Duration = Duration::from_millis(100);

/// The exit code of a tool whose `run` returned `result`: 0, or 1 after printing
/// the error. (Usage errors exit with 2 before `run`, as clap does.)
pub fn finish(tool: &str, result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{tool}: {e}");
            ExitCode::FAILURE
        }
    }
}
