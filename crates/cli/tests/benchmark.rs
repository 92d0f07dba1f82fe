//! broker-benchmark end to end: a server and a client over loopback.

mod common;

use common::{assert_usage_error, port_file, read_port, Tool};

const BENCHMARK: &str = env!("CARGO_BIN_EXE_broker-benchmark");

fn summary_of(lines: Vec<String>) -> serde_json::Value {
    let last = lines.last().expect("a summary line");
    let value: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{last}: {e}"));
    value["summary"].clone()
}

#[test]
fn client_and_server_agree_on_the_events_sent() {
    for event_type in ["1", "2", "3"] {
        let dir = tempfile::tempdir().unwrap();
        let file = port_file(&dir, "server");
        let mut server = Tool::spawn(
            BENCHMARK,
            &[
                "--server",
                "--local-port",
                "0",
                "--port-file",
                file.to_str().unwrap(),
                "--max-received",
                "300",
                "--json",
            ],
        );
        let address = format!("127.0.0.1:{}", read_port(&file));
        let mut client = Tool::spawn(
            BENCHMARK,
            &[
                "--peers",
                &address,
                "-t",
                event_type,
                "--batch-rate",
                "0",
                "--batch-size",
                "50",
                "--max-received",
                "300",
                "--json",
            ],
        );
        assert!(server.wait().success(), "{}", server.stderr_so_far());
        assert!(client.wait().success(), "{}", client.stderr_so_far());
        let server_summary = summary_of(server.rest_of_stdout());
        assert_eq!(
            server_summary["received"], 300,
            "type {event_type}: {server_summary}"
        );
        let client_summary = summary_of(client.rest_of_stdout());
        assert!(
            client_summary["sent"].as_u64().unwrap() >= 300,
            "{client_summary}"
        );
    }
}

#[test]
fn ramp_up_and_in_flight_limit_shape_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let file = port_file(&dir, "server");
    let _server = Tool::spawn(
        BENCHMARK,
        &[
            "--server",
            "--local-port",
            "0",
            "--port-file",
            file.to_str().unwrap(),
        ],
    );
    let address = format!("127.0.0.1:{}", read_port(&file));
    let mut client = Tool::spawn(
        BENCHMARK,
        &[
            "--peers",
            &address,
            "--batch-rate",
            "20",
            "--batch-size",
            "1",
            "--batch-size-increase-interval",
            "0.5",
            "--batch-size-increase-amount",
            "10",
            "--max-in-flight",
            "100000",
            "--duration",
            "2.5",
            "--json",
        ],
    );
    assert!(client.wait().success(), "{}", client.stderr_so_far());
    let lines = client.rest_of_stdout();
    let ticks: Vec<serde_json::Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(ticks.len() >= 2, "one line per second: {lines:?}");
    let sizes: Vec<u64> = ticks
        .iter()
        .map(|t| t["batch_size"].as_u64().unwrap())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] < w[1]),
        "the batch size grows: {sizes:?}"
    );
    assert!(summary_of(lines)["sent"].as_u64().unwrap() > 20);
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_usage_error(BENCHMARK, &["-t", "4", "--server"], "--event-type");
    assert_usage_error(BENCHMARK, &["--batch-size", "1"], "--peers");
}
