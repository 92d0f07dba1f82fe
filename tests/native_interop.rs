//! broker-rs endpoints peering with the real Broker (the reference's Python bindings,
//! `tests/reference/echo.py`, in a subprocess) over Broker's native protocol: Broker
//! listening and broker-rs peering and the reverse, plaintext and both sides' TLS
//! defaults (anonymous), every data kind and a Zeek event with metadata both ways,
//! unpeering and a killed peer seen as PeerRemoved / PeerLost on our side. Skipped,
//! with a message, when the reference is missing.

mod common;
mod pki;
mod reference;

use std::net::IpAddr;
use std::time::Instant;

use broker::actors::{Config, Endpoint, EndpointError, StatusCode, StatusEvent, StatusSubscriber};
use broker::wire::zeek::{Event, EventView};
use broker::wire::{Port, Protocol, Timespan, Timestamp};
use broker::{Data, Topic};
use common::{receive, wait_statuses, WAIT};
use reference::Script;

/// The reference endpoint of `echo.py` with `args`.
fn echo(args: &[&str]) -> Script {
    Script::start("echo.py", args, &[])
}

/// The same, with environment variables `env` (the certificates of "certs").
fn echo_with(args: &[&str], env: &[(&str, String)]) -> Script {
    Script::start("echo.py", args, env)
}

fn endpoint(tls: bool) -> (Endpoint, StatusSubscriber) {
    let config = Config {
        disable_ssl: !tls,
        ..Config::default()
    };
    let endpoint = Endpoint::new(config).expect("endpoint");
    let statuses = endpoint.make_status_subscriber(true);
    (endpoint, statuses)
}

fn security(tls: bool) -> &'static str {
    if tls {
        "tls"
    } else {
        "plain"
    }
}

/// Waits for a status of `code`, skipping other events.
fn expect_status(statuses: &StatusSubscriber, code: StatusCode) {
    assert_eq!(wait_statuses(statuses, code, 1), 1, "no {code:?} status");
}

fn addr(text: &str) -> Data {
    Data::Address(text.parse::<IpAddr>().unwrap())
}

/// A value of every kind, nested as Broker's golden vectors nest them.
fn every_kind() -> Vec<Data> {
    vec![
        Data::None,
        Data::Boolean(true),
        Data::Count(u64::MAX),
        Data::Integer(-5),
        Data::Real(1.5),
        Data::from("hi"),
        addr("192.168.9.8"),
        addr("2001:db8::1"),
        Data::Subnet("192.168.9.0/24".parse().unwrap()),
        Data::Port(Port::new(8080, Protocol::Tcp)),
        Data::Port(Port::new(53, Protocol::Udp)),
        Data::Timestamp(Timestamp(1_700_000_000_123_456_000)),
        Data::Timespan(Timespan(-12_345_000)),
        Data::EnumValue("Foo::BAR".into()),
        Data::Set([Data::from("a"), Data::Count(2), Data::None].into()),
        Data::Table(
            [
                (Data::from("b"), Data::Vector(vec![])),
                (Data::from("a"), Data::Count(1)),
            ]
            .into(),
        ),
        Data::Vector(vec![Data::Vector(vec![Data::Count(1)])]),
    ]
}

/// Every kind to the reference and back, then a Zeek event with metadata each way.
fn exchange(ours: &Endpoint, reference: &mut Script) {
    let pongs = ours.make_subscriber(
        vec![Topic::from("/rs/pong"), Topic::from("/rs/from-ref")],
        64,
    );
    // No wait of our own: the reference subscribed before peering, so its filter came
    // with Broker's handshake and the first publish right after `peer()` (or PeerAdded)
    // must reach it.
    let kinds = every_kind();
    for (i, value) in kinds.iter().enumerate() {
        ours.publish(Topic::from(format!("/rs/ping/{i}").as_str()), value.clone());
    }
    let echoed = receive(&pongs, kinds.len());
    let expected: Vec<(Topic, Data)> = kinds
        .into_iter()
        .enumerate()
        .map(|(i, value)| (Topic::from(format!("/rs/pong/{i}").as_str()), value))
        .collect();
    assert_eq!(
        echoed, expected,
        "every kind survives Broker's decoding and encoding"
    );

    let event = Event::new("ping", vec![Data::from("from broker-rs"), Data::Count(7)])
        .with_metadata(1, Data::Timestamp(Timestamp(1_700_000_000_500_000_000)))
        .with_metadata(200, Data::from("user"));
    ours.publish(Topic::from("/rs/ping/event"), event.to_data());
    let seen = reference.line("EVENT");
    // Broker decoded an event with its arguments and both metadata entries.
    let expected = "EVENT ping ['from broker-rs', Count(7)] [(Count(1), datetime.datetime(2023, \
                    11, 14, 22, 13, 20, 500000, tzinfo=datetime.timezone.utc)), (Count(200), 'user')]";
    assert_eq!(seen, expected);
    let (_, echoed) = pongs.get(Some(WAIT)).expect("the event echoed");
    assert_eq!(echoed, event.to_data());

    reference.command("event");
    let (topic, data) = pongs.get(Some(WAIT)).expect("the reference's event");
    assert_eq!(topic, Topic::from("/rs/from-ref"));
    let view = EventView::parse(&data).expect("a Zeek event");
    assert_eq!(view.to_event().name, "pong");
    let metadata: Vec<(u64, Data)> = view.metadata().map(|(k, v)| (k, v.clone())).collect();
    assert_eq!(
        metadata,
        vec![(1, Data::Timestamp(Timestamp(1_700_000_000_500_000_000)))]
    );
}

/// Our only peer's node id is exactly the UUID Broker prints for itself (`line` is
/// echo.py's "NODE <id>").
fn assert_is_broker_node(ours: &Endpoint, line: &str) {
    let peers = ours.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(format!("NODE {}", peers[0].peer.node), line);
}

fn we_peer_with_a_listening_broker(tls: bool) {
    if !reference::available() {
        return;
    }
    let mut reference = echo(&["listen", security(tls)]);
    let node = reference.line("NODE");
    let port: u16 = reference.line("PORT")["PORT ".len()..].parse().unwrap();
    let (ours, statuses) = endpoint(tls);
    ours.peer("127.0.0.1", port, None)
        .expect("peered with Broker");
    expect_status(&statuses, StatusCode::PeerAdded);
    assert_is_broker_node(&ours, &node);
    exchange(&ours, &mut reference);
    assert!(ours.unpeer("127.0.0.1", port));
    expect_status(&statuses, StatusCode::PeerRemoved);
    reference.line("STATUS SC.PeerLost");
}

fn broker_peers_with_us(tls: bool) {
    if !reference::available() {
        return;
    }
    let (ours, statuses) = endpoint(tls);
    let port = ours.listen("127.0.0.1", 0).unwrap();
    let mut reference = echo(&["peer", &port.to_string(), security(tls)]);
    let node = reference.line("NODE");
    reference.line("PEERED");
    expect_status(&statuses, StatusCode::PeerAdded);
    assert_is_broker_node(&ours, &node);
    exchange(&ours, &mut reference);
    // A killed Broker is a lost peer.
    drop(reference);
    expect_status(&statuses, StatusCode::PeerLost);
}

#[test]
fn we_peer_with_a_listening_broker_in_plaintext() {
    we_peer_with_a_listening_broker(false);
}

#[test]
fn we_peer_with_a_listening_broker_over_anonymous_tls() {
    we_peer_with_a_listening_broker(true);
}

#[test]
fn broker_peers_with_us_in_plaintext() {
    broker_peers_with_us(false);
}

#[test]
fn broker_peers_with_us_over_anonymous_tls() {
    broker_peers_with_us(true);
}

#[test]
fn broker_unpeering_is_a_lost_peer_here() {
    if !reference::available() {
        return;
    }
    let (ours, statuses) = endpoint(false);
    let port = ours.listen("127.0.0.1", 0).unwrap();
    let mut reference = echo(&["peer", &port.to_string(), "plain"]);
    reference.line("PEERED");
    expect_status(&statuses, StatusCode::PeerAdded);
    reference.command(&format!("unpeer {port}"));
    expect_status(&statuses, StatusCode::PeerLost);
}

#[test]
fn we_peer_with_a_listening_broker_over_mutual_tls() {
    if !reference::available() {
        return;
    }
    let pki = pki::Pki::new();
    let file = |name: &str| pki.file(name).display().to_string();
    let env = [
        ("ECHO_CERT", file("b.pem")),
        ("ECHO_KEY", file("b-encrypted.key")),
        ("ECHO_CA", file("ca.pem")),
        ("ECHO_PASSPHRASE", "secret".to_owned()),
    ];
    let mut reference = echo_with(&["listen", "certs"], &env);
    let port: u16 = reference.line("PORT")["PORT ".len()..].parse().unwrap();
    let config = Config {
        tls: pki.tls("a.pem", "a.key", "ca.pem", None),
        ..Config::default()
    };
    let ours = Endpoint::new(config).expect("endpoint");
    let statuses = ours.make_status_subscriber(true);
    ours.peer("127.0.0.1", port, None)
        .expect("peered with Broker");
    expect_status(&statuses, StatusCode::PeerAdded);
    exchange(&ours, &mut reference);
}

#[test]
fn tls_on_one_side_only_fails_promptly_both_ways() {
    if !reference::available() {
        return;
    }
    // We speak TLS, the listening Broker plaintext.
    let reference = echo(&["listen", "plain"]);
    let port: u16 = reference.line("PORT")["PORT ".len()..].parse().unwrap();
    let (ours, statuses) = endpoint(true);
    let started = Instant::now();
    let result = ours.peer("127.0.0.1", port, None);
    assert!(
        matches!(result, Err(EndpointError::PeerUnavailable { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < WAIT,
        "the failure took {:?}",
        started.elapsed()
    );
    match statuses.get(Some(WAIT)) {
        Some(StatusEvent::Error(error)) => {
            assert_eq!(
                error.code,
                broker::actors::ErrorCode::PeerInvalid,
                "{error:?}"
            )
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // A plaintext Broker peering with our TLS listener fails on its side; we report it.
    let port = ours.listen("127.0.0.1", 0).unwrap();
    let reference = echo(&["peer", &port.to_string(), "plain"]);
    reference.line("FAILED");
    match statuses.get(Some(WAIT)) {
        Some(StatusEvent::Error(error)) => {
            assert_eq!(
                error.code,
                broker::actors::ErrorCode::PeerInvalid,
                "{error:?}"
            )
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(ours.peers().is_empty());
}
