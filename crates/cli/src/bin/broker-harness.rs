//! broker-harness: runs a topology file and reports what every node received.

use std::path::PathBuf;
use std::process::ExitCode;

use broker_cli::harness::{child, run, run_processes, Topology};
use broker_cli::CliError;
use clap::Parser;

/// Runs a topology (TOML: nodes, links, subscriptions, steps) in one process, or one
/// process per node, and reports deliveries, losses, duplicates and latencies. Exits
/// with 1 when a check fails.
#[derive(Debug, Parser)]
#[command(name = "broker-harness", version)]
struct Args {
    /// Topology files, run one after the other.
    #[arg(required_unless_present = "node", value_name = "TOPOLOGY.toml")]
    topologies: Vec<PathBuf>,
    /// Print each report as one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Run every node in its own process (topologies without stores only, for now).
    #[arg(long)]
    processes: bool,
    /// Internal: be node NAME of a `--processes` run, driven through stdin/stdout.
    #[arg(long, hide = true, value_name = "NAME", conflicts_with_all = ["topologies", "json", "processes"])]
    node: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match &args.node {
        Some(name) => child::serve(name).map(|()| true),
        None => run_all(&args),
    };
    match result {
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
    let program = std::env::current_exe()?;
    let mut passed = true;
    for path in &args.topologies {
        let topology = Topology::load(path)?;
        let report = if args.processes {
            run_processes(&topology, &program)?
        } else {
            run(&topology)?
        };
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
