//! Stores through faults: a clone's process SIGKILLed while its master is written to,
//! and a clone partitioned from its master while every replica is written to. Both
//! are topologies for the harness's step runner; the report says whether every
//! replica converged.

use super::{Options, Outcome, Scenario};
use crate::error::CliError;
use crate::harness::report::Report;
use crate::harness::{run, run_processes, Topology};

/// Master and two clones, each in its own process; one clone is killed and restarted.
pub const STORE_KILL_CLONE: Scenario = Scenario {
    name: "store-kill-clone",
    promise: "after a clone's process is SIGKILLed mid-write and restarted, every replica \
              converges to every write made through the master and the live clones",
    run: store_kill_clone,
};

/// Master and two clones; one clone is cut from the master while all three write.
pub const STORE_PARTITION: Scenario = Scenario {
    name: "store-partition",
    promise: "writes through a clone cut from its master are buffered (within \
              mutation_buffer_interval) and replayed; after the heal every replica \
              converges to every write",
    run: store_partition,
};

const NODES: &str = "[[node]]\nname = \"m\"\nmaster = [\"kv\"]\n\
                     [[node]]\nname = \"c1\"\npeers = [\"m\"]\nclone = [\"kv\"]\n\
                     [[node]]\nname = \"c2\"\npeers = [\"m\"]\nclone = [\"kv\"]\n";

fn topology(name: &str, steps: &[String]) -> Result<Topology, CliError> {
    let steps: String = steps.iter().map(|s| format!("[[step]]\n{s}\n")).collect();
    Topology::parse(&format!("name = \"{name}\"\n{NODES}{steps}"))
}

fn put(node: &str, n: u64) -> String {
    format!("put = {{ node = \"{node}\", store = \"kv\", count = {n} }}")
}

fn expect(keys: u64) -> String {
    format!("expect-store = {{ store = \"kv\", keys = {keys}, timeout_ms = 20000 }}")
}

fn store_kill_clone(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let n = options.messages;
    let steps = [
        put("m", n),
        put("c1", n),
        expect(2 * n),
        put("m", n),
        "kill = { node = \"c2\" }".to_owned(),
        put("c1", n),
        "restart = { node = \"c2\" }".to_owned(),
        put("c2", n),
        expect(5 * n),
    ];
    let report = run_processes(&topology("store-kill-clone", &steps)?, &options.program)?;
    record(out, &report, 5 * n);
    Ok(())
}

fn store_partition(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let n = options.messages;
    let link = "link = [\"c2\", \"m\"]";
    let steps = [
        put("m", n),
        put("c1", n),
        put("c2", n),
        expect(3 * n),
        format!("partition = {{ {link} }}"),
        put("m", n),
        put("c1", n),
        put("c2", n),
        format!("heal = {{ {link} }}"),
        expect(6 * n),
    ];
    record(out, &run(&topology("store-partition", &steps)?)?, 6 * n);
    Ok(())
}

/// Takes over the run's checks; converged when every replica check held.
fn record(out: &mut Outcome, report: &Report, writes: u64) {
    let mut converged = true;
    for check in &report.checks {
        out.check(check.passed, &check.what, &check.detail);
        if check.what.starts_with("every replica") {
            converged &= check.passed;
        }
    }
    out.converged(converged);
    let last = report.checks.last().map_or("", |c| c.detail.as_str());
    out.note(format!("{writes} keys written; {last}"));
}
