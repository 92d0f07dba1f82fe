//! TLS peerings with certificate material as Broker users make it with the `openssl`
//! CLI: a v3 CA signing v1 leaves, PKCS#1, PKCS#8 and legacy encrypted keys, a
//! self-signed pair; authenticated, anonymous and plaintext endpoints.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use broker::actors::{Config, Endpoint, EndpointError, ErrorCode, StatusEvent, TlsConfig};
use broker::{Data, Topic};
use common::*;

/// A directory of certificates and keys written by the `openssl` CLI.
struct Pki {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI (scripts/bootstrap installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    fn new() -> Pki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("broker-tls-{}-{unique}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "other-ca", "self"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN={ca}"),
                ],
            );
        }
        for leaf in ["a", "b"] {
            let (key, csr, pem) = (
                format!("{leaf}.key"),
                format!("{leaf}.csr"),
                format!("{leaf}.pem"),
            );
            openssl(&dir, &["genrsa", "-traditional", "-out", &key, "2048"]);
            openssl(
                &dir,
                &[
                    "req",
                    "-new",
                    "-key",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN={leaf}"),
                ],
            );
            // No extensions: OpenSSL writes an X.509 v1 certificate.
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "30",
                ],
            );
        }
        openssl(
            &dir,
            &[
                "rsa",
                "-in",
                "b.key",
                "-des3",
                "-traditional",
                "-passout",
                "pass:secret",
                "-out",
                "b-encrypted.key",
            ],
        );
        openssl(
            &dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "a.key",
                "-out",
                "a-pkcs8.key",
            ],
        );
        Pki { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn config(&self, cert: &str, key: &str, ca: &str, passphrase: Option<&str>) -> Config {
        Config {
            tls: TlsConfig {
                cafile: Some(self.file(ca)),
                capath: None,
                certificate: Some(self.file(cert)),
                key: Some(self.file(key)),
                passphrase: passphrase.map(str::to_owned),
            },
            ..Config::default()
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
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
        pki.config("a.pem", "a.key", "ca.pem", None),
        pki.config("b.pem", "b-encrypted.key", "ca.pem", Some("secret")),
    );
    peers_and_talks(
        pki.config("b.pem", "b-encrypted.key", "ca.pem", Some("secret")),
        pki.config("a.pem", "a-pkcs8.key", "ca.pem", None),
    );
}

#[test]
fn self_signed_certificate_is_its_own_ca() {
    let pki = Pki::new();
    let config = || pki.config("self.pem", "self.key", "self.pem", None);
    peers_and_talks(config(), config());
}

#[test]
fn anonymous_tls_and_plaintext_peer_with_their_own_kind() {
    peers_and_talks(anonymous(), anonymous());
    peers_and_talks(plaintext(), plaintext());
}

#[test]
fn mismatched_ca_fails_in_both_directions() {
    let pki = Pki::new();
    let trusted = || pki.config("a.pem", "a.key", "ca.pem", None);
    let foreign = || pki.config("b.pem", "b-encrypted.key", "other-ca.pem", Some("secret"));
    refuses(trusted(), foreign());
    refuses(foreign(), trusted());
}

#[test]
fn unauthenticated_side_fails_in_both_directions() {
    let pki = Pki::new();
    let authenticated = || pki.config("a.pem", "a.key", "ca.pem", None);
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
    let wrong = pki.config("b.pem", "b-encrypted.key", "ca.pem", Some("wrong"));
    match Endpoint::new(wrong) {
        Err(EndpointError::Tls(e)) => assert!(e.to_string().contains("b-encrypted.key"), "{e}"),
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }
    let missing = pki.config("missing.pem", "a.key", "ca.pem", None);
    match Endpoint::new(missing) {
        Err(EndpointError::Tls(e)) => assert!(e.to_string().contains("missing.pem"), "{e}"),
        other => panic!("expected a TLS error, got {:?}", other.map(|_| ())),
    }
}
