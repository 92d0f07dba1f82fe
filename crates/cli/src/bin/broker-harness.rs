//! broker-harness: runs a topology file and reports what every node received.

use std::path::PathBuf;
use std::process::ExitCode;

use broker_cli::harness::{run, Topology};
use broker_cli::CliError;
use clap::Parser;

/// Runs a topology (TOML: nodes, links, subscriptions, steps) in one process and
/// reports deliveries, losses, duplicates and latencies. Exits with 1 when a check fails.
#[derive(Debug, Parser)]
#[command(name = "broker-harness", version)]
struct Args {
    /// Topology files, run one after the other.
    #[arg(required = true, value_name = "TOPOLOGY.toml")]
    topologies: Vec<PathBuf>,
    /// Print each report as one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run_all(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("broker-harness: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every topology; whether all passed.
fn run_all(args: &Args) -> Result<bool, CliError> {
    let mut passed = true;
    for path in &args.topologies {
        let report = run(&Topology::load(path)?)?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&report).expect("reports serialize")
            );
        } else {
            println!("{report}");
        }
        passed &= report.passed;
    }
    Ok(passed)
}
