//! TLS peerings with certificate material as Broker users make it with the `openssl`
//! CLI ([`pki`]): a v3 CA signing v1 leaves, PKCS#1, PKCS#8 and legacy encrypted keys,
//! a self-signed pair; authenticated, anonymous and plaintext endpoints.

mod common;
mod pki;

use std::process::Command;

use broker::actors::{Config, Endpoint, EndpointError, ErrorCode, StatusEvent};
use broker::{Data, Topic};
use common::*;
use pki::Pki;

fn config(pki: &Pki, cert: &str, key: &str, ca: &str, passphrase: Option<&str>) -> Config {
    Config {
        tls: pki.tls(cert, key, ca, passphrase),
        ..Config::default()
    }
}

fn anonymous() -> Config {
    Config::default()
}

fn plaintext() -> Config {
    Config {
        disable_ssl: true,
        ..Config::default()
    }
}

/// Peers a client with a listening server and checks a message crosses.
fn peers_and_talks(server: Config, client: Config) {
    let server = Endpoint::new(server).unwrap();
    let client = Endpoint::new(client).unwrap();
    let sub = server.make_subscriber(vec![Topic::from("/tls")], 16);
    let port = server.listen("127.0.0.1", 0).unwrap();
    client.peer("127.0.0.1", port, None).unwrap();
    await_subscription(&client, "/tls");
    client.publish(Topic::from("/tls"), Data::from("secret"));
    assert_eq!(
        receive(&sub, 1),
        vec![(Topic::from("/tls"), Data::from("secret"))]
    );
}

/// Checks that peering fails on both sides with an error and that nothing crosses.
fn refuses(server: Config, client: Config) {
    let server = Endpoint::new(server).unwrap();
    let client = Endpoint::new(client).unwrap();
    let server_errors = server.make_status_subscriber(false);
    let client_errors = client.make_status_subscriber(false);
    let sub = server.make_subscriber(vec![Topic::from("/tls")], 16);
    let port = server.listen("127.0.0.1", 0).unwrap();
    let result = client.peer("127.0.0.1", port, None);
    assert!(result.is_err(), "peering must fail, got {result:?}");
    for errors in [&server_errors, &client_errors] {
        match next_event(errors) {
            StatusEvent::Error(e) => assert!(
                matches!(e.code, ErrorCode::PeerInvalid | ErrorCode::PeerUnavailable),
                "{e:?}"
            ),
            other => panic!("expected an error, got {other:?}"),
        }
    }
    assert!(client.peers().is_empty() && server.peers().is_empty());
    client.publish(Topic::from("/tls"), Data::from("secret"));
    assert_quiet(&sub);
}

#[test]
fn leaves_are_x509_v1() {
    let pki = Pki::new();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(pki.file("a.pem"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Version: 1 (0x0)"));
}

#[test]
fn ca_signed_peers_authenticate_each_other() {
    let pki = Pki::new();
    peers_and_talks(
        config(&pki, "a.pem", "a.key", "ca.pem", None),
        config(&pki, "b.pem", "b-encrypted.key", "ca.pem", Some("secret")),
    );
    peers_and_talks(
        config(&pki, "b.pem", "b-encrypted.key", "ca.pem", Some("secret")),
        config(&pki, "a.pem", "a-pkcs8.key", "ca.pem", None),
    );
}

#[test]
fn self_signed_certificate_is_its_own_ca() {
    let pki = Pki::new();
    let self_signed = || config(&pki, "self.pem", "self.key", "self.pem", None);
    peers_and_talks(self_signed(), self_signed());
}

#[test]
fn anonymous_tls_and_plaintext_peer_with_their_own_kind() {
    peers_and_talks(anonymous(), anonymous());
    peers_and_talks(plaintext(), plaintext());
}

#[test]
fn mismatched_ca_fails_in_both_directions() {
    let pki = Pki::new();
    let trusted = || config(&pki, "a.pem", "a.key", "ca.pem", None);
    let foreign = || {
        config(
            &pki,
            "b.pem",
            "b-encrypted.key",
            "other-ca.pem",
            Some("secret"),
        )
    };
    refuses(trusted(), foreign());
    refuses(foreign(), trusted());
}

#[test]
fn unauthenticated_side_fails_in_both_directions() {
    let pki = Pki::new();
    let authenticated = || config(&pki, "a.pem", "a.key", "ca.pem", None);
    refuses(authenticated(), anonymous());
    refuses(anonymous(), authenticated());
}

#[test]
fn tls_and_plaintext_never_talk() {
    refuses(anonymous(), plaintext());
    refuses(plaintext(), anonymous());
}

#[test]
fn unusable_key_material_fails_endpoint_creation_naming_the_file() {
    let pki = Pki::new();
    let wrong = config(&pki, "b.pem", "b-encrypted.key", "ca.pem", Some("wrong"));
    match Endpoint::new(wrong) {
        Err(EndpointError::Tls(e)) => assert!(e.to_string().contains("b-encrypted.key"), "{e}"),
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }
    let missing = config(&pki, "missing.pem", "a.key", "ca.pem", None);
    match Endpoint::new(missing) {
        Err(EndpointError::Tls(e)) => assert!(e.to_string().contains("missing.pem"), "{e}"),
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }
}

/// A connection closed under the TLS handshake (say, a retry into a partition whose
/// proxy accepts and drops) means the peer is unavailable, not invalid: the peer sent
/// nothing wrong. Dropped at once, or after reading the client's first flight.
#[test]
fn a_connection_closed_during_the_tls_handshake_is_unavailable_not_invalid() {
    for read_first in [false, true] {
        let dropper = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dropper.local_addr().unwrap().port();
        let accepting = std::thread::spawn(move || {
            let (mut stream, _) = dropper.accept().unwrap();
            if read_first {
                stream.set_read_timeout(Some(WAIT)).unwrap();
                let _ = std::io::Read::read(&mut stream, &mut [0u8; 4096]);
            }
        });
        let client = Endpoint::new(anonymous()).unwrap();
        let errors = client.make_status_subscriber(false);
        let result = client.peer("127.0.0.1", port, None);
        assert!(
            matches!(result, Err(EndpointError::PeerUnavailable { .. })),
            "{result:?}"
        );
        match next_event(&errors) {
            StatusEvent::Error(e) => assert_eq!(e.code, ErrorCode::PeerUnavailable, "{e:?}"),
            other => panic!("expected an error, got {other:?}"),
        }
        accepting.join().unwrap();
    }
}

/// A client that connects to a TLS listener and leaves is no peer, as over plaintext:
/// no status (a port scan must not flood the status subscribers); garbage still is one.
#[test]
fn a_client_leaving_during_the_tls_handshake_is_not_reported() {
    let server = Endpoint::new(anonymous()).unwrap();
    let errors = server.make_status_subscriber(false);
    let port = server.listen("127.0.0.1", 0).unwrap();
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
    let mut garbage = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let garbage_port = garbage.local_addr().unwrap().port();
    std::io::Write::write_all(&mut garbage, &[0xff; 64]).unwrap();
    match next_event(&errors) {
        StatusEvent::Error(e) => {
            assert_eq!(e.code, ErrorCode::PeerInvalid, "{e:?}");
            let network = e.context.and_then(|c| c.network).expect("where from");
            assert_eq!(
                network.port, garbage_port,
                "the first error is the garbage's"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}
