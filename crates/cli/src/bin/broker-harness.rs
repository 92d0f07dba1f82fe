//! broker-harness: runs a topology file and reports what every node received, or
//! (`faults`) the fault campaign.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use broker_cli::harness::faults::{self, Options};
use broker_cli::harness::{child, run, run_processes, Topology};
use broker_cli::CliError;
use clap::{Parser, Subcommand};

/// Runs a topology (TOML: nodes, links, subscriptions, steps) in one process, or one
/// process per node, and reports deliveries, losses, duplicates and latencies. Exits
/// with 1 when a check fails.
#[derive(Debug, Parser)]
#[command(
    name = "broker-harness",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
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
    /// Resize a group of nodes (`count = N` in the topology): GROUP=N, repeatable.
    #[arg(long = "count", value_name = "GROUP=N", value_parser = group_count)]
    counts: Vec<(String, usize)>,
    /// Internal: be node NAME of a `--processes` run, driven through stdin/stdout.
    #[arg(long, hide = true, value_name = "NAME", conflicts_with_all = ["topologies", "json", "processes"])]
    node: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the fault campaign: per scenario, messages published, delivered, lost and
    /// duplicated, and whether store replicas converged. Exits with 1 when a promise
    /// is broken.
    Faults(FaultArgs),
}

#[derive(Debug, clap::Args)]
struct FaultArgs {
    /// Run only this scenario (repeatable); every scenario by default.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Repeat the scenarios until this many seconds have passed (each runs at least
    /// once): the soak.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    duration: u64,
    /// Messages per publishing phase (store scenarios: keys per write).
    #[arg(long, default_value_t = 1000)]
    messages: u64,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// List the scenarios and what each promises, and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (&args.node, &args.command) {
        (Some(name), _) => child::serve(name).map(|()| true),
        (None, Some(Command::Faults(faults))) => run_faults(faults),
        (None, None) => run_all(&args),
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
        let topology = Topology::load(path, &args.counts)?;
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

/// A `--count` argument: `GROUP=N`.
fn group_count(text: &str) -> Result<(String, usize), String> {
    let (group, count) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected GROUP=N"))?;
    let count = count
        .parse()
        .map_err(|_| format!("{text:?}: {count:?} is not a number of nodes"))?;
    Ok((group.to_owned(), count))
}

/// Runs the fault campaign; whether every promise held.
fn run_faults(args: &FaultArgs) -> Result<bool, CliError> {
    if args.list {
        for scenario in faults::SCENARIOS {
            println!("{}: {}", scenario.name, scenario.promise);
        }
        return Ok(true);
    }
    let scenarios = match args.scenarios.is_empty() {
        true => faults::SCENARIOS.iter().collect(),
        false => args
            .scenarios
            .iter()
            .map(|name| faults::scenario(name))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let options = Options {
        program: std::env::current_exe()?,
        messages: args.messages,
    };
    let duration = Duration::from_secs(args.duration);
    let campaign = faults::run_campaign(&scenarios, &options, duration, |round| {
        let verdict = if round.passed { "ok" } else { "FAILED" };
        eprintln!("{verdict:<6} {}", round.scenario);
    })?;
    let json = serde_json::to_string_pretty(&campaign).expect("reports serialize");
    if let Some(path) = &args.report {
        std::fs::write(path, &json).map_err(|e| CliError::file(path, e))?;
    }
    if args.json {
        println!("{json}");
    } else {
        println!("{campaign}");
    }
    Ok(campaign.passed())
}
