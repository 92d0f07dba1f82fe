//! broker-node end to end: ping/pong, a relay between two pipes, replaying a recording,
//! a store master and clone.

mod common;

use common::{assert_usage_error, feed, port_file, read_port, Tool};

const NODE: &str = env!("CARGO_BIN_EXE_broker-node");
const PIPE: &str = env!("CARGO_BIN_EXE_broker-pipe");

/// Starts `binary` listening on a free port; the tool and its address.
fn listening(dir: &tempfile::TempDir, name: &str, binary: &str, args: &[&str]) -> (Tool, String) {
    let file = port_file(dir, name);
    let file_arg = file.to_str().unwrap().to_owned();
    let mut all = args.to_vec();
    all.extend(["--local-port", "0", "--port-file", &file_arg]);
    let tool = Tool::spawn(binary, &all);
    let port = read_port(&file);
    (tool, format!("127.0.0.1:{port}"))
}

#[test]
fn ping_reports_round_trips_of_every_pong() {
    let dir = tempfile::tempdir().unwrap();
    let (_pong, address) = listening(&dir, "pong", NODE, &["--mode", "pong", "--topics", "/pp"]);
    let mut ping = Tool::spawn(
        NODE,
        &[
            "--mode",
            "ping",
            "--topics",
            "/pp",
            "--peers",
            &address,
            "--num-pings",
            "5",
            "--json",
        ],
    );
    let summary: serde_json::Value = serde_json::from_str(&ping.stdout_lines(1)[0]).unwrap();
    assert_eq!(summary["pongs"], 5, "{summary}");
    assert_eq!(summary["rtt"]["samples"], 5);
    assert!(
        summary["rtt"]["median_us"].as_f64().unwrap() <= summary["rtt"]["p99_us"].as_f64().unwrap()
    );
    assert!(ping.wait().success());
}

#[test]
fn relay_forwards_between_its_peers_and_shows_what_passes() {
    let dir = tempfile::tempdir().unwrap();
    let (relay, address) = listening(
        &dir,
        "relay",
        NODE,
        &[
            "--mode",
            "relay",
            "--topics",
            "/r",
            "--name",
            "r1",
            "--verbose",
        ],
    );
    let mut sub = Tool::spawn(
        PIPE,
        &[
            "--mode",
            "subscribe",
            "--topic",
            "/r",
            "--peers",
            &address,
            "--message-cap",
            "2",
        ],
    );
    sub.await_stderr("peered with");
    let mut publisher = Tool::spawn(
        PIPE,
        &["--mode", "publish", "--topic", "/r/x", "--peers", &address],
    );
    feed(publisher.stdin(), &["one", "two"]);
    assert!(publisher.wait().success());
    assert_eq!(sub.stdout_lines(2), ["/r/x one", "/r/x two"]);
    assert!(sub.wait().success());
    assert_eq!(relay.stdout_lines(2), ["r1: /r/x one", "r1: /r/x two"]);
}

#[test]
fn generate_replays_a_recording_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("messages.jsonl");
    let lines: Vec<String> = (0..20)
        .map(|i| {
            format!(
                r#"{{"type":"data-message","topic":"/gen/{}","@data-type":"vector","data":[{{"@data-type":"integer","data":{i}}},{{"@data-type":"count","data":{i}}}]}}"#,
                i % 3
            )
        })
        .collect();
    std::fs::write(&recording, lines.join("\n") + "\n").unwrap();
    let (mut sub, address) = listening(
        &dir,
        "sub",
        PIPE,
        &[
            "--mode",
            "subscribe",
            "--topic",
            "/gen",
            "--json",
            "--message-cap",
            "20",
        ],
    );
    let mut generator = Tool::spawn(
        NODE,
        &[
            "--mode",
            "generate",
            "--peers",
            &address,
            "--generator-file",
            recording.to_str().unwrap(),
            "--send-rate",
            "500",
        ],
    );
    assert!(generator.wait().success(), "{}", generator.stderr_so_far());
    assert_eq!(sub.stdout_lines(20), lines);
    assert!(sub.wait().success());
}

#[test]
fn a_write_on_a_clone_shows_as_store_events_on_master_and_clone() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("kv.sqlite");
    let (master, address) = listening(
        &dir,
        "master",
        NODE,
        &[
            "--name",
            "m",
            "--store",
            "kv",
            "--master",
            "--backend",
            "sqlite",
            "--store-path",
            sqlite.to_str().unwrap(),
        ],
    );
    master.await_stderr("attached master of store kv");
    let clone = Tool::spawn(
        NODE,
        &[
            "--name",
            "c",
            "--store",
            "kv",
            "--clone",
            "--peers",
            &address,
            "--put",
            "color=red",
            "--put",
            r#"n={"@data-type":"count","data":3}"#,
            "--put",
            "color=blue",
            "--json",
        ],
    );
    clone.await_stderr("attached clone of store kv");
    assert_eq!(
        master.stdout_lines(3),
        [
            "m: kv insert color = red",
            "m: kv insert n = 3",
            "m: kv update color: red -> blue"
        ]
    );
    let s = |text: &str| serde_json::json!({"@data-type": "string", "data": text});
    let events: Vec<serde_json::Value> = clone
        .stdout_lines(3)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        events,
        [
            serde_json::json!({"name": "c", "store": "kv", "event": "insert", "key": s("color"), "value": s("red")}),
            serde_json::json!({"name": "c", "store": "kv", "event": "insert", "key": s("n"), "value": {"@data-type": "count", "data": 3}}),
            serde_json::json!({"name": "c", "store": "kv", "event": "update", "key": s("color"), "old": s("red"), "value": s("blue")}),
        ]
    );
    assert!(sqlite.exists());
}

#[test]
fn metrics_port_serves_prometheus_text() {
    let node = Tool::spawn(
        NODE,
        &["--mode", "pong", "--topics", "/pp", "--metrics-port", "0"],
    );
    let line = node.await_stderr("metrics on port");
    let port: u16 = line.rsplit(' ').next().unwrap().parse().unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.contains("\nbroker_connections{type=\"batch\"} 0\n"),
        "{response}"
    );
    node.interrupt();
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_usage_error(NODE, &["--mode", "generate"], "--generator-file");
    assert_usage_error(NODE, &["--mode", "flood"], "--mode");
    assert_usage_error(
        NODE,
        &["--mode", "ping", "--num-pings", "many"],
        "--num-pings",
    );
    assert_usage_error(NODE, &["--store", "kv"], "--master|--clone");
    assert_usage_error(NODE, &["--master"], "--store");
    assert_usage_error(
        NODE,
        &["--store", "kv", "--master", "--clone"],
        "cannot be used with",
    );
    assert_usage_error(
        NODE,
        &["--store", "kv", "--master", "--backend", "sqlite"],
        "--store-path",
    );
    assert_usage_error(
        NODE,
        &["--store", "kv", "--clone", "--put", "color"],
        "KEY=VALUE",
    );
}
