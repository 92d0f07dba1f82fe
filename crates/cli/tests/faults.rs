//! The fault campaign, small and bounded: every scenario once, asserting that nothing
//! is duplicated, nothing promised is lost, and any other loss comes with a status.
//! The soak (`scripts/soak`) runs the same scenarios for half an hour.

mod common;

use std::path::PathBuf;

use broker_cli::harness::faults::{scenario, Campaign, Options, ScenarioReport};

const HARNESS: &str = env!("CARGO_BIN_EXE_broker-harness");

/// Messages per publishing phase: enough to be mid-stream at every fault.
const MESSAGES: u64 = 300;

fn run(name: &str) -> ScenarioReport {
    let options = Options {
        program: PathBuf::from(HARNESS),
        messages: MESSAGES,
    };
    let report = scenario(name).unwrap().run(&options).unwrap();
    let table = Campaign {
        seconds: 0.0,
        scenarios: vec![report.clone()],
    };
    assert!(report.passed, "{table}\n{:#?}", report.checks);
    report
}

/// Runs a scenario with messages and checks the promise's arithmetic on its counts.
fn run_counted(name: &str) -> ScenarioReport {
    let report = run(name);
    let c = report.counts.expect("a scenario with messages");
    assert!(c.promised > 0, "{report:?}");
    assert_eq!((c.duplicated, c.promised_lost), (0, 0), "{report:?}");
    assert_eq!(c.delivered + c.lost, c.published, "{report:?}");
    if c.lost > 0 {
        assert!(
            ["PeerLost", "PeerTimeout"]
                .iter()
                .any(|s| report.status.contains(s)),
            "loss without a status: {report:?}"
        );
    }
    report
}

/// Every message was promised and delivered exactly once.
fn assert_lossless(report: &ScenarioReport) {
    let c = report.counts.unwrap();
    assert_eq!(
        (c.promised, c.delivered, c.lost),
        (c.published, c.published, 0)
    );
}

#[test]
fn kill_subscriber() {
    run_counted("kill-subscriber");
}

#[test]
fn kill_publisher() {
    run_counted("kill-publisher");
}

#[test]
fn listener_restart() {
    run_counted("listener-restart");
}

#[test]
fn partition_heal() {
    run_counted("partition-heal");
}

#[test]
fn ring_partition() {
    assert_lossless(&run_counted("ring-partition"));
}

#[test]
fn garbage_frames() {
    let report = run_counted("garbage-frames");
    assert_lossless(&report);
    assert!(report.status.contains("error PeerInvalid"), "{report:?}");
}

#[test]
fn truncated_frames() {
    assert_lossless(&run_counted("truncated-frames"));
}

#[test]
fn oversized_frame() {
    let report = run_counted("oversized-frame");
    assert_lossless(&report);
    assert!(report.status.contains("error PeerInvalid"), "{report:?}");
}

#[test]
fn slow_consumer() {
    assert_lossless(&run_counted("slow-consumer"));
}

#[test]
fn stalled_consumer() {
    assert_lossless(&run_counted("stalled-consumer"));
}

#[test]
fn stalled_consumer_disconnect() {
    let report = run_counted("stalled-consumer-disconnect");
    assert!(report.status.contains("error PeerTimeout"), "{report:?}");
}

#[test]
fn half_open_and_slow_loris() {
    assert_lossless(&run_counted("half-open-and-slow-loris"));
}

#[test]
fn fd_exhaustion() {
    assert_lossless(&run_counted("fd-exhaustion"));
}

#[test]
fn store_kill_clone() {
    assert_eq!(run("store-kill-clone").converged, Some(true));
}

#[test]
fn store_partition() {
    assert_eq!(run("store-partition").converged, Some(true));
}

#[test]
fn the_tool_reports_a_scenario_as_json_and_refuses_unknown_ones() {
    let args = ["faults", "--scenario", "slow-consumer", "--messages", "50"];
    let mut tool = common::Tool::spawn(HARNESS, &[&args[..], &["--json"]].concat());
    assert_eq!(tool.wait().code(), Some(0), "{}", tool.stderr_so_far());
    let report: serde_json::Value =
        serde_json::from_str(&tool.rest_of_stdout().join("\n")).unwrap();
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["scenario"], "slow-consumer");
    assert_eq!(scenario["counts"]["published"], 100);
    assert_eq!(scenario["counts"]["delivered"], 100);
    let (status, stderr) = common::run_to_end(HARNESS, &["faults", "--scenario", "nope"]);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("kill-subscriber"), "{stderr}");
}
