//! broker-pipe end to end: two processes over loopback.

mod common;

use common::{assert_usage_error, feed, port_file, read_port, Tool};

const PIPE: &str = env!("CARGO_BIN_EXE_broker-pipe");

/// A subscriber listening on a free port, and its port.
fn subscriber(dir: &tempfile::TempDir, extra: &[&str]) -> (Tool, String) {
    let file = port_file(dir, "subscriber");
    let mut args = vec![
        "--mode",
        "subscribe",
        "--topic",
        "/test",
        "--local-port",
        "0",
    ];
    let file_arg = file.to_str().unwrap().to_owned();
    args.extend(["--port-file", &file_arg]);
    args.extend(extra);
    let tool = Tool::spawn(PIPE, &args);
    let port = read_port(&file);
    (tool, format!("127.0.0.1:{port}"))
}

#[test]
fn lines_published_are_printed_by_the_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sub, address) = subscriber(&dir, &["--message-cap", "3"]);
    let mut publisher = Tool::spawn(
        PIPE,
        &[
            "--mode", "publish", "--topic", "/test/a", "--peers", &address,
        ],
    );
    feed(publisher.stdin(), &["hello", "two words", "third"]);
    assert!(publisher.wait().success(), "{}", publisher.stderr_so_far());
    assert_eq!(
        sub.stdout_lines(3),
        ["/test/a hello", "/test/a two words", "/test/a third"]
    );
    assert!(sub.wait().success());
}

#[test]
fn json_values_keep_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sub, address) = subscriber(&dir, &["--message-cap", "3", "--json"]);
    let mut publisher = Tool::spawn(
        PIPE,
        &[
            "--mode", "publish", "--topic", "/test", "--peers", &address, "--json",
        ],
    );
    let values = [
        r#"{"@data-type":"count","data":3}"#,
        r#"{"@data-type":"vector","data":[{"@data-type":"integer","data":1},{"@data-type":"real","data":2.5},{"@data-type":"port","data":"80/tcp"},{"@data-type":"none","data":{}}]}"#,
        r#"{"@data-type":"set","data":[{"@data-type":"address","data":"::1"}]}"#,
    ];
    feed(
        publisher.stdin(),
        &[
            "not json",
            r#"{"@data-type":"phone","data":"555-0123"}"#,
            values[0],
            values[1],
            values[2],
        ],
    );
    assert!(publisher.wait().success());
    let errors = publisher.stderr_so_far();
    assert_eq!(errors.matches("skipping line").count(), 2, "{errors}");
    assert!(errors.contains(r#"unknown @data-type "phone""#), "{errors}");
    let expected: Vec<String> = values
        .iter()
        .map(|v| format!(r#"{{"type":"data-message","topic":"/test",{}"#, &v[1..]))
        .collect();
    assert_eq!(sub.stdout_lines(3), expected);
    assert!(sub.wait().success());
}

#[test]
fn json_messages_recorded_by_a_subscriber_replay_to_their_own_topics() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sub, address) = subscriber(&dir, &["--message-cap", "3", "--json"]);
    let mut publisher = Tool::spawn(
        PIPE,
        &[
            "--mode", "publish", "--topic", "/test", "--peers", &address, "--json",
        ],
    );
    let recorded = [
        r#"{"type":"data-message","topic":"/test/one","@data-type":"count","data":1}"#,
        r#"{"type":"data-message","topic":"/test/two","@data-type":"timespan","data":"1500ms"}"#,
    ];
    // Field order is free and `type` optional on input, as for WebSocket clients.
    let reordered = r#"{"data":"1.5s","@data-type":"timespan","topic":"/test/two"}"#;
    feed(
        publisher.stdin(),
        &[
            recorded[0],
            reordered,
            r#"{"@data-type":"integer","data":3}"#,
        ],
    );
    assert!(publisher.wait().success());
    assert_eq!(
        sub.stdout_lines(3),
        [
            recorded[0],
            recorded[1],
            r#"{"type":"data-message","topic":"/test","@data-type":"integer","data":3}"#
        ]
    );
    assert!(sub.wait().success());
}

#[test]
fn subscriber_exits_cleanly_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sub, _) = subscriber(&dir, &[]);
    sub.interrupt();
    assert!(sub.wait().success());
}

#[test]
fn rate_mode_prints_rates_instead_of_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sub, address) = subscriber(&dir, &["--rate"]);
    let mut publisher = Tool::spawn(
        PIPE,
        &["--mode", "publish", "--topic", "/test", "--peers", &address],
    );
    let lines: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    feed(
        publisher.stdin(),
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(publisher.wait().success());
    // Rates until (nearly) all 200 were counted; each line is a number, not a message.
    // A rate is messages over the reporter's measured interval, which is a little over a
    // second, so rates sum to slightly less than the count. Bounded: one line a second.
    let mut total = 0.0;
    for _ in 0..30 {
        if total >= 190.0 {
            break;
        }
        let line = sub.stdout_lines(1).remove(0);
        total += line
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("not a rate: {line}"));
    }
    assert!(total >= 190.0, "counted {total} of 200 messages");
    sub.interrupt();
    assert!(sub.wait().success());
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_usage_error(PIPE, &["--mode", "shout", "--topic", "/t"], "--mode");
    assert_usage_error(PIPE, &["--mode", "publish"], "--topic");
    assert_usage_error(
        PIPE,
        &["--mode", "publish", "--topic", "/t", "--peers", "nohost"],
        "invalid peer address",
    );
    assert_usage_error(
        PIPE,
        &[
            "--mode",
            "publish",
            "--topic",
            "/t",
            "--message-cap",
            "lots",
        ],
        "--message-cap",
    );
}

#[test]
fn lines_travel_over_the_websocket_api() {
    // The subscriber serves WebSocket clients (anonymous TLS, as Broker by default);
    // the publisher is a client of it.
    let mut sub = Tool::spawn(
        PIPE,
        &[
            "--mode",
            "subscribe",
            "--topic",
            "/test",
            "--web-socket-port",
            "0",
            "--message-cap",
            "2",
        ],
    );
    let announced = "listening for WebSocket clients on port ";
    let line = sub.await_stderr(announced);
    let port = line.split(announced).nth(1).unwrap().trim().to_owned();
    let url = format!("wss://127.0.0.1:{port}/v1/messages/json");
    let mut publisher = Tool::spawn(
        PIPE,
        &[
            "--mode",
            "publish",
            "--topic",
            "/test/ws",
            "--web-socket-peers",
            &url,
        ],
    );
    feed(publisher.stdin(), &["over", "websocket"]);
    assert!(publisher.wait().success(), "{}", publisher.stderr_so_far());
    assert!(
        publisher
            .stderr_so_far()
            .contains(&format!("connected to {url}")),
        "{}",
        publisher.stderr_so_far()
    );
    assert_eq!(sub.stdout_lines(2), ["/test/ws over", "/test/ws websocket"]);
    assert!(sub.wait().success());
}
