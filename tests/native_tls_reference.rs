//! Our TLS contexts ([`TlsContext`]) against the real Broker's: the reference
//! `broker-node` (TLS on, its default) over loopback, anonymous and with certificates
//! ([`pki`]). As connector we complete the TLS handshake as client and read Broker's
//! `probe` through it; as acceptor we complete it as server and read the `hello` of a
//! connecting broker-node. Skipped, with a message, when the reference is missing.

mod pki;
mod reference;

use std::time::Duration;

use broker::actors::tls::TlsContext;
use broker::actors::TlsConfig;
use broker_wire::native::{EndpointId, Handshake, Hello, NativeCodec};
use pki::Pki;
use reference::{connect, free_port, Node, NODE_ID, STARTUP};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};

/// Bound of every read.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// One side's TLS material: ours and the matching broker-node config lines.
struct Mode {
    ours: TlsConfig,
    node: String,
    /// The cipher the link must end up with, when the mode fixes it.
    cipher: Option<&'static str>,
}

/// Broker's default: TLS without certificates, on both sides.
fn anonymous() -> Mode {
    Mode {
        ours: TlsConfig::default(),
        node: String::new(),
        cipher: Some("AECDH-AES256-SHA"),
    }
}

/// Mutual TLS: we are `a`, broker-node is `b` with its passphrase-protected key, both
/// signed by `ca`.
fn certificates(pki: &Pki) -> Mode {
    let file = |name: &str| pki.file(name).display().to_string();
    let node = format!(
        "broker {{ ssl {{ certificate = \"{}\"\nkey = \"{}\"\npassphrase = \"secret\"\ncafile = \"{}\" }} }}",
        file("b.pem"),
        file("b-encrypted.key"),
        file("ca.pem"),
    );
    Mode {
        ours: pki.tls("a.pem", "a.key", "ca.pem", None),
        node,
        cipher: None,
    }
}

fn context(mode: &Mode) -> TlsContext {
    TlsContext::new(&mode.ours, false)
        .expect("our TLS context")
        .expect("TLS is on")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The first handshake message read from `stream`.
async fn first_message(stream: &mut (impl AsyncRead + Unpin)) -> Handshake {
    let codec = NativeCodec::default();
    let mut buffer = Vec::new();
    loop {
        if let Some((message, _)) = codec.decode_handshake(&buffer).unwrap() {
            return message;
        }
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut chunk))
            .await
            .expect("broker-node sends its first message in time")
            .expect("reading through TLS");
        assert!(n > 0, "broker-node closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Checks what the TLS handshake negotiated with broker-node.
fn check_session(ssl: &openssl::ssl::SslRef, mode: &Mode) {
    if let Some(cipher) = mode.cipher {
        let negotiated = ssl.current_cipher().map(|c| c.name());
        assert_eq!(negotiated, Some(cipher));
        assert_eq!(ssl.version_str(), "TLSv1.2");
    } else {
        let peer = ssl
            .peer_certificate()
            .expect("broker-node presents its certificate");
        let cn = peer
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
            .next()
            .map(|e| e.data().as_slice().to_vec());
        assert_eq!(cn.as_deref(), Some(&b"b"[..]));
    }
}

/// We connect to a listening broker-node: TLS client, then Broker's probe.
fn connector_reads_probe(mode: Mode) {
    let port = free_port();
    let _node = Node::pong("tls-listen", Some(port), &mode.node);
    let stream = connect(port);
    stream.set_nonblocking(true).unwrap();
    runtime().block_on(async {
        let stream = TcpStream::from_std(stream).unwrap();
        let mut tls = tokio::time::timeout(STARTUP, context(&mode).connect(stream))
            .await
            .expect("TLS handshake in time")
            .expect("TLS handshake with broker-node");
        check_session(tls.ssl(), &mode);
        assert_eq!(first_message(&mut tls).await, Handshake::Probe);
    });
}

/// A broker-node connects to us: TLS server, then its hello.
fn acceptor_reads_hello(mode: Mode) {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = format!("{}\npeers = [\"tcp://127.0.0.1:{port}\"]", mode.node);
        let _node = Node::pong("tls-connect", None, &config);
        let (stream, _) = tokio::time::timeout(STARTUP, listener.accept())
            .await
            .expect("broker-node connects in time")
            .unwrap();
        let mut tls = tokio::time::timeout(STARTUP, context(&mode).accept(stream))
            .await
            .expect("TLS handshake in time")
            .expect("TLS handshake with broker-node");
        check_session(tls.ssl(), &mode);
        let node: EndpointId = NODE_ID.parse().unwrap();
        assert_eq!(
            first_message(&mut tls).await,
            Handshake::Hello(Hello::new(node))
        );
    });
}

#[test]
fn anonymous_connector_reads_brokers_probe() {
    if reference::available() {
        connector_reads_probe(anonymous());
    }
}

#[test]
fn anonymous_acceptor_reads_brokers_hello() {
    if reference::available() {
        acceptor_reads_hello(anonymous());
    }
}

#[test]
fn certificate_connector_reads_brokers_probe() {
    if reference::available() {
        let pki = Pki::new();
        connector_reads_probe(certificates(&pki));
    }
}

#[test]
fn certificate_acceptor_reads_brokers_hello() {
    if reference::available() {
        let pki = Pki::new();
        acceptor_reads_hello(certificates(&pki));
    }
}
