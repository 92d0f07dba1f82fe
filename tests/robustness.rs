//! Bad input, half-open handshakes, version mismatch, ordering of statuses and data,
//! reconnection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use broker::actors::{Config, Endpoint, EndpointError, ErrorCode, StatusCode, StatusEvent};
use broker::wire::frame::{Hello, NodeId};
use broker::wire::native::{
    DropConn, EndpointId, Handshake, Hello as NativeHello, MessageType, NativeCodec,
};
use broker::{Data, Topic};
use common::*;

/// Reads until the endpoint closes the connection; fails if it stays open past WAIT.
fn assert_closed_by_endpoint(mut stream: TcpStream) {
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("connection not closed by the endpoint: {e}"),
        }
    }
}

fn first_error(status: &broker::actors::StatusSubscriber) -> broker::actors::ErrorStatus {
    match next_event(status) {
        StatusEvent::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn hello() -> Hello {
    Hello::new(NodeId([9; 16]), vec![])
}

/// Broker's handshake messages, framed.
fn native_frames(messages: &[Handshake]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        NativeCodec::default()
            .encode_handshake(message, &mut out)
            .unwrap();
    }
    out
}

/// A plaintext endpoint's configuration: these tests speak the frame protocol on raw
/// sockets (TLS-level garbage is covered by `tests/tls.rs`).
fn plaintext() -> Config {
    Config {
        disable_ssl: true,
        ..Config::default()
    }
}

/// An endpoint with a peer and a working subscription, to show it keeps serving.
fn serving_pair() -> (Net, broker::actors::Subscriber) {
    let net = Net::build(vec![plaintext(), plaintext()], &[(1, 0)]);
    let sub = net.nodes[1].make_subscriber(vec![Topic::from("/ok")], 16);
    await_subscription(&net.nodes[0], "/ok");
    (net, sub)
}

fn still_serving(net: &Net, sub: &broker::actors::Subscriber) {
    net.nodes[0].publish(Topic::from("/ok"), Data::Count(1));
    assert_eq!(receive(sub, 1), vec![(Topic::from("/ok"), Data::Count(1))]);
}

#[test]
fn garbage_on_the_port_closes_that_connection_only() {
    let (net, sub) = serving_pair();
    let errors = net.nodes[0].make_status_subscriber(false);
    let mut stream = TcpStream::connect(("127.0.0.1", net.ports[0])).unwrap();
    stream
        .write_all(b"\x00\x00\x00\x10GET / HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_closed_by_endpoint(stream);
    assert_eq!(first_error(&errors).code, ErrorCode::PeerInvalid);
    still_serving(&net, &sub);
}

#[test]
fn oversized_frame_closes_that_connection_only() {
    let (net, sub) = serving_pair();
    let errors = net.nodes[0].make_status_subscriber(false);
    let mut stream = TcpStream::connect(("127.0.0.1", net.ports[0])).unwrap();
    stream.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert_closed_by_endpoint(stream);
    let error = first_error(&errors);
    assert_eq!(error.code, ErrorCode::PeerInvalid);
    assert!(
        error.message.contains("exceeds the cap"),
        "{}",
        error.message
    );
    still_serving(&net, &sub);
}

#[test]
fn unknown_frame_after_handshake_closes_the_peering() {
    let (net, sub) = serving_pair();
    let statuses = net.nodes[0].make_status_subscriber(true);
    let mut stream = TcpStream::connect(("127.0.0.1", net.ports[0])).unwrap();
    raw_handshake(&mut stream, hello());
    assert_eq!(wait_peered(&statuses, 1), [1, 1]);
    stream.write_all(&[0, 0, 0, 2, 0xee, 0x01]).unwrap();
    let error = first_error(&statuses);
    assert_eq!(error.code, ErrorCode::PeerInvalid);
    assert_closed_by_endpoint(stream);
    still_serving(&net, &sub);
}

#[test]
fn half_open_handshake_times_out() {
    let config = Config {
        handshake_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let endpoint = Endpoint::new(config).unwrap();
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let silent = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_closed_by_endpoint(silent);
}

#[test]
fn version_mismatch_is_incompatible_on_both_sides() {
    // Inbound: a client offering only versions we do not speak is refused with
    // drop_conn 2, as Broker refuses it, and an error here.
    let endpoint = Endpoint::new(plaintext()).unwrap();
    let errors = endpoint.make_status_subscriber(false);
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let sender = EndpointId([0x51; 16]);
    client
        .write_all(&native_frames(&[Handshake::Hello(NativeHello {
            sender,
            min_version: 200,
            max_version: 201,
        })]))
        .unwrap();
    assert_eq!(first_error(&errors).code, ErrorCode::PeerIncompatible);
    assert_eq!(read_body(&mut client)[0], MessageType::Probe as u8);
    match Handshake::decode(&read_body(&mut client)).unwrap() {
        Handshake::DropConn(drop) => {
            assert_eq!(drop.code, ErrorCode::PeerIncompatible.code());
            assert_eq!(drop.description, "unsupported versions offered");
        }
        other => panic!("expected drop_conn, got {other:?}"),
    }
    assert_closed_by_endpoint(client);

    // Outbound: a server refusing our versions with drop_conn 2 is incompatible, at once.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_port = server.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        assert_eq!(read_body(&mut conn)[0], MessageType::Hello as u8);
        let refusal = DropConn {
            sender,
            code: ErrorCode::PeerIncompatible.code(),
            description: "unsupported versions offered".into(),
        };
        conn.write_all(&native_frames(&[Handshake::DropConn(refusal)]))
            .unwrap();
        let mut sink = Vec::new();
        conn.set_read_timeout(Some(WAIT)).unwrap();
        let _ = conn.read_to_end(&mut sink);
    });
    let result = endpoint.peer("127.0.0.1", server_port, None);
    assert!(
        matches!(result, Err(EndpointError::PeerIncompatible { .. })),
        "{result:?}"
    );
    assert_eq!(first_error(&errors).code, ErrorCode::PeerIncompatible);
    endpoint.shutdown();
    fake.join().unwrap();
}

#[test]
fn peer_added_comes_before_any_data_from_that_peer() {
    let publisher = Endpoint::new(Config::default()).unwrap();
    let port = publisher.listen("127.0.0.1", 0).unwrap();
    let receiver = Endpoint::new(Config::default()).unwrap();
    let statuses = receiver.make_status_subscriber(true);
    let sub = receiver.make_subscriber(vec![Topic::from("/early")], 64);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                publisher.publish(Topic::from("/early"), Data::Count(0));
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        receiver.peer("127.0.0.1", port, None).unwrap();
        let first = sub.get(Some(WAIT));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(first.is_some());
        let before: Vec<_> = statuses.poll();
        assert!(
            before
                .iter()
                .any(|e| matches!(e, StatusEvent::Status(s) if s.code == StatusCode::PeerAdded)),
            "PeerAdded was not there when the first message was: {before:?}"
        );
    });
}

#[test]
fn reconnects_after_the_listener_restarts() {
    let first = Endpoint::new(Config::default()).unwrap();
    let port = first.listen("127.0.0.1", 0).unwrap();
    let client = Endpoint::new(Config::default()).unwrap();
    let statuses = client.make_status_subscriber(true);
    client
        .peer("127.0.0.1", port, Some(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(wait_peered(&statuses, 1), [1, 1]);
    first.shutdown();
    assert_eq!(wait_statuses(&statuses, StatusCode::PeerLost, 1), 1);

    let second = Endpoint::new(Config::default()).unwrap();
    let sub = second.make_subscriber(vec![Topic::from("/again")], 16);
    assert_eq!(second.listen("127.0.0.1", port).unwrap(), port);
    assert_eq!(
        wait_statuses(&statuses, StatusCode::PeerAdded, 1),
        1,
        "re-peered after the restart"
    );
    await_subscription(&client, "/again");
    client.publish(Topic::from("/again"), Data::Count(2));
    assert_eq!(receive(&sub, 1).len(), 1);
}

#[test]
fn a_peer_silent_after_the_handshake_is_lost() {
    let observed = Endpoint::new(Config {
        disable_ssl: true,
        keepalive: Duration::from_millis(50),
        ..Config::default()
    })
    .unwrap();
    let statuses = observed.make_status_subscriber(true);
    let port = observed.listen("127.0.0.1", 0).unwrap();
    // A raw peer: the handshake, then never a word (nor a Pong).
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw_handshake(&mut raw, hello());
    let (mut timed_out, mut lost) = (false, false);
    let deadline = std::time::Instant::now() + WAIT;
    while !(timed_out && lost) && std::time::Instant::now() < deadline {
        match statuses.get(Some(Duration::from_millis(100))) {
            Some(StatusEvent::Error(e)) => timed_out |= e.code == ErrorCode::PeerTimeout,
            Some(StatusEvent::Status(s)) => lost |= s.code == StatusCode::PeerLost,
            None => {}
        }
    }
    assert!(
        timed_out && lost,
        "PeerTimeout: {timed_out}, PeerLost: {lost}"
    );
    assert!(observed.peers().is_empty());
}
