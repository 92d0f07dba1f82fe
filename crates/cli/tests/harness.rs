//! The harness runs the shipped topologies (in process, and some with one process
//! per node) and the tool reports them.

mod common;

use std::path::PathBuf;

use broker_cli::harness::{run, Topology};

const HARNESS: &str = env!("CARGO_BIN_EXE_broker-harness");

fn topology(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/topologies")
        .join(format!("{name}.toml"))
}

fn run_shipped(name: &str) -> broker_cli::harness::Report {
    let report = run(&Topology::load(&topology(name), &[]).unwrap()).unwrap();
    assert!(report.passed, "{report}");
    assert!(report.nodes.iter().all(|n| n.duplicates == 0), "{report}");
    report
}

#[test]
fn chain_of_four_loses_only_while_cut() {
    let report = run_shipped("chain-4");
    let d = report.node("d").unwrap();
    assert_eq!((d.expected, d.received, d.lost), (35, 30, 5), "{report}");
}

#[test]
fn ring_delivers_once_around_cuts_and_restarts() {
    let report = run_shipped("ring");
    // c was dead while b published 10 on /ring/3.
    assert_eq!(report.node("c").unwrap().lost, 10, "{report}");
    assert_eq!(
        report.nodes.iter().map(|n| n.lost).sum::<u64>(),
        10,
        "{report}"
    );
}

#[test]
fn star_of_eight_recovers_from_a_hub_restart() {
    let report = run_shipped("star-8");
    assert!(report.nodes.iter().all(|n| n.lost == 0), "{report}");
}

#[test]
fn tree_of_fifteen_reaches_every_leaf() {
    let report = run_shipped("tree-15");
    assert!(report.nodes.iter().all(|n| n.lost == 0), "{report}");
    assert_eq!(report.nodes.iter().filter(|n| n.expected > 0).count(), 8);
    let store_checks: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.what.starts_with("every replica of inventory"))
        .map(|c| c.detail.as_str())
        .collect();
    assert_eq!(
        store_checks,
        ["3 replicas agree", "3 replicas agree"],
        "{report}"
    );
}

/// The figures a 20-worker Zeek cluster must show: each worker got the manager's 10
/// broadcasts, the logger 20 logs of each worker, the manager 5 events of each, each
/// proxy 5 + 5 (before and after its restart, for the restarted one) of each; nothing
/// lost, nothing twice. `(group or node, expected, received, lost, duplicates)`.
const CLUSTER: [(&str, u64, u64, u64, u64); 4] = [
    ("logger", 400, 400, 0, 0),
    ("manager", 100, 100, 0, 0),
    ("proxy", 400, 400, 0, 0),
    ("worker", 200, 200, 0, 0),
];

#[test]
fn zeek_cluster_of_twenty_workers_delivers_everything_once() {
    let report = run_shipped("zeek-cluster");
    assert_eq!(report.nodes.len(), 24);
    assert_eq!(report.group("worker").unwrap().members, Some(20));
    let figures: Vec<(&str, u64, u64, u64, u64)> = ["logger", "manager"]
        .iter()
        .map(|name| report.node(name).unwrap())
        .chain(report.groups.iter())
        .map(|n| {
            (
                n.name.as_str(),
                n.expected,
                n.received,
                n.lost,
                n.duplicates,
            )
        })
        .collect();
    assert_eq!(figures, CLUSTER, "{report}");
    // Every member got its share, not just the group in sum.
    let worker1 = report.node("worker1").unwrap();
    assert_eq!((worker1.expected, worker1.received), (10, 10), "{report}");
}

#[test]
fn zeek_cluster_runs_with_a_process_per_node() {
    let reports = run_processes(&["zeek-cluster"]);
    let report = &reports[0];
    assert_eq!(report["passed"], true, "{report}");
    let group = |name: &str| {
        let groups = report["groups"].as_array().unwrap();
        groups.iter().find(|g| g["name"] == name).unwrap().clone()
    };
    let nodes = counts(report);
    let figure = |name: &str| {
        let (_, expected, received, lost, duplicates) =
            nodes.iter().find(|n| n.0 == name).unwrap().clone();
        (expected, received, lost, duplicates)
    };
    for (name, expected, received, lost, duplicates) in CLUSTER {
        let got = match name {
            "logger" | "manager" => figure(name),
            _ => {
                let g = group(name);
                let count = |key: &str| g[key].as_u64().unwrap();
                (
                    count("expected"),
                    count("received"),
                    count("lost"),
                    count("duplicates"),
                )
            }
        };
        assert_eq!(
            got,
            (expected, received, lost, duplicates),
            "{name}: {report}"
        );
    }
}

/// The tool's JSON reports of `topologies` run with `--processes`, bounded in time
/// (the tool, and with it its child nodes, is killed if it overruns).
fn run_processes(topologies: &[&str]) -> Vec<serde_json::Value> {
    let paths: Vec<String> = topologies
        .iter()
        .map(|name| topology(name).to_str().unwrap().to_owned())
        .collect();
    let mut args = vec!["--processes", "--json"];
    args.extend(paths.iter().map(String::as_str));
    let mut tool = common::Tool::spawn(HARNESS, &args);
    let status = tool.wait();
    let reports: Vec<serde_json::Value> = tool
        .rest_of_stdout()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        status.code(),
        Some(0),
        "{reports:?} {}",
        tool.stderr_so_far()
    );
    reports
}

/// `(name, expected, received, lost, duplicates)` of every node of a JSON report.
fn counts(report: &serde_json::Value) -> Vec<(String, u64, u64, u64, u64)> {
    let nodes = report["nodes"].as_array().unwrap();
    nodes
        .iter()
        .map(|n| {
            let count = |key: &str| n[key].as_u64().unwrap();
            let name = n["name"].as_str().unwrap().to_owned();
            let counts = ["expected", "received", "lost", "duplicates"].map(count);
            (name, counts[0], counts[1], counts[2], counts[3])
        })
        .collect()
}

#[test]
fn chain_and_ring_run_with_a_process_per_node() {
    let reports = run_processes(&["chain-4", "ring"]);
    assert_eq!(reports.len(), 2);
    let chain = counts(&reports[0]);
    assert_eq!(chain[3], ("d".into(), 35, 30, 5, 0), "{}", reports[0]);
    assert_eq!(reports[0]["nodes"][3]["latency"]["samples"], 30);
    let ring = counts(&reports[1]);
    let lost: Vec<u64> = ring.iter().map(|n| n.3).collect();
    assert_eq!(lost, [0, 0, 10, 0, 0], "{}", reports[1]);
    assert!(ring.iter().all(|n| n.4 == 0), "{}", reports[1]);
    assert_eq!(ring[2].2, 30, "c across its restart: {}", reports[1]);
}

#[test]
fn stores_replicate_with_a_process_per_node() {
    let reports = run_processes(&["tree-15"]);
    let report = &reports[0];
    assert_eq!(report["passed"], true, "{report}");
    let store_checks: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["what"]
                .as_str()
                .unwrap()
                .starts_with("every replica of inventory")
        })
        .map(|c| c["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        store_checks,
        ["3 replicas agree", "3 replicas agree"],
        "{report}"
    );
}

#[test]
fn store_expectations_compare_every_replica() {
    let text = "name = \"s\"\n[[node]]\nname = \"a\"\nmaster = [\"kv\"]\n\
                [[node]]\nname = \"b\"\npeers = [\"a\"]\nclone = [\"kv\"]\n\
                [[step]]\nput = { node = \"b\", store = \"kv\", count = 3, entries = { k = \"v\" } }\n\
                [[step]]\nexpect-store = { store = \"kv\", keys = 4, values = { k = \"v\", \"b/2\" = { \"@data-type\" = \"count\", data = 2 } } }\n\
                [[step]]\nexpect-store = { store = \"kv\", keys = 5, values = { k = \"w\" }, timeout_ms = 200 }\n";
    let report = run(&Topology::parse(text).unwrap()).unwrap();
    assert!(report.checks[0].passed, "{report}");
    assert_eq!(report.checks[0].detail, "2 replicas agree");
    assert!(!report.checks[1].passed, "{report}");
    assert_eq!(
        report.checks[1].detail,
        "a: 4 keys, k = v; b: 4 keys, k = v"
    );
}

#[test]
fn failed_expectations_fail_the_tool_with_a_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.toml");
    let text = "name = \"short\"\n[[node]]\nname = \"a\"\npeers = [\"b\"]\n[[node]]\nname = \"b\"\nsubscribe = [\"/t\"]\n\
                [[step]]\npublish = { from = \"a\", topic = \"/t\", count = 3 }\n\
                [[step]]\nexpect = { node = \"b\", count = 4, timeout_ms = 300 }\n";
    std::fs::write(&file, text).unwrap();
    let mut tool = common::Tool::spawn(HARNESS, &[file.to_str().unwrap(), "--json"]);
    assert_eq!(tool.wait().code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&tool.rest_of_stdout()[0]).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["checks"][0]["detail"], "received 3");
    assert_eq!(report["nodes"][1]["received"], 3);
}

#[test]
fn bad_arguments_and_bad_topologies_are_errors() {
    common::assert_usage_error(HARNESS, &[], "TOPOLOGY.toml");
    common::assert_usage_error(HARNESS, &["x.toml", "--mode", "fast"], "--mode");
    let (status, stderr) = common::run_to_end(HARNESS, &["/nonexistent.toml"]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("/nonexistent.toml"), "{stderr}");
}
