//! The handshake machine and codecs against the real Broker: the reference
//! `broker-node` (Broker 2.8, wire-identical to Zeek 5.0 – 8.x) over loopback TCP,
//! with us as connector (originator and responder) and as acceptor, then a data
//! ping/pong and a ping/pong in phase 3. Skipped, with a message, when the reference
//! is missing (`BROKER_REFERENCE` overrides /work/shared/reference/broker-2.8).

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_wire::native::{
    Content, EndpointId, Envelope, HandshakeMachine, NativeCodec, Next, Reservation, Role,
};
use broker_wire::{Data, Topic};

const N: &str = "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1";
const P: &str = "00000000-0000-4000-8000-000000000000";
const Q: &str = "ffffffff-ffff-4fff-bfff-ffffffffffff";
const STARTUP: Duration = Duration::from_secs(15);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a data pong before pinging again.
const RENDEZVOUS_RETRY: Duration = Duration::from_millis(100);

fn id(text: &str) -> EndpointId {
    text.parse().unwrap()
}

fn reference() -> Option<PathBuf> {
    let dir = std::env::var_os("BROKER_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/reference/broker-2.8"));
    if dir.join("bin/broker-node").exists() {
        Some(dir)
    } else {
        eprintln!("skipped: reference Broker not found at {}", dir.display());
        None
    }
}

/// A running broker-node, killed on drop.
struct Node {
    child: Child,
    dir: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// LD_LIBRARY_PATH for the reference, restoring the `libbroker.so.4` symlink in
/// `dir` where the copy turned it into a text file naming its target.
fn library_path(reference: &Path, dir: &Path) -> String {
    let lib = reference.join("lib");
    let soname = fs::read(lib.join("libbroker.so.4")).unwrap();
    if soname.starts_with(b"\x7fELF") {
        return lib.display().to_string();
    }
    let target = lib.join(String::from_utf8_lossy(&soname).trim());
    std::os::unix::fs::symlink(target, dir.join("libbroker.so.4")).unwrap();
    format!("{}:{}", dir.display(), lib.display())
}

/// Starts broker-node in pong mode (id N, topic /test) with extra config lines; with a
/// port it listens there. Waits (bounded) until it is up.
fn start_node(reference: &Path, name: &str, port: Option<u16>, config: &str) -> Node {
    let dir = std::env::temp_dir().join(format!("native-ref-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("node.cfg");
    fs::write(
        &cfg,
        format!(
            "broker {{ disable-ssl = true }}\ntopics = [\"/test\"]\nverbose = true\n\
             endpoint-id = \"{N}\"\n{config}\n"
        ),
    )
    .unwrap();
    let log = dir.join("node.log");
    let mut command = Command::new(reference.join("bin/broker-node"));
    command
        .arg(format!("--config-file={}", cfg.display()))
        .args(["-m", "pong"])
        .env("LD_LIBRARY_PATH", library_path(reference, &dir))
        .stdout(fs::File::create(&log).unwrap())
        .stderr(Stdio::null());
    if let Some(port) = port {
        command.env("BROKER_PORT", port.to_string());
    }
    let node = Node {
        child: command.spawn().expect("broker-node starts"),
        dir,
    };
    let ready = if port.is_some() {
        "listen for peers"
    } else {
        "connect to"
    };
    let started = Instant::now();
    while started.elapsed() < STARTUP {
        if fs::read_to_string(&log).unwrap_or_default().contains(ready) {
            return node;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "broker-node not ready: {}",
        fs::read_to_string(&log).unwrap_or_default()
    );
}

/// Connects to the node, retrying (bounded) while it is refused: broker-node reports
/// that it listens a moment before it does.
fn connect(port: u16) -> TcpStream {
    let started = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(e) if started.elapsed() < STARTUP => {
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("broker-node does not accept connections: {e}"),
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A framed connection over a TCP stream.
struct Link {
    stream: TcpStream,
    buffer: Vec<u8>,
    codec: NativeCodec,
}

impl Link {
    fn new(stream: TcpStream) -> Self {
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Link {
            stream,
            buffer: Vec::new(),
            codec: NativeCodec::default(),
        }
    }

    /// The next frame body.
    fn next_body(&mut self) -> Vec<u8> {
        self.try_next_body().expect("peer answers in time")
    }

    /// The next frame body, or `None` if none arrives within the read timeout.
    fn try_next_body(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some((body, used)) = self.codec.split_frame(&self.buffer).unwrap() {
                let body = body.to_vec();
                self.buffer.drain(..used);
                return Some(body);
            }
            let mut chunk = [0; 4096];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) => panic!("reading from broker-node: {e}"),
            };
            assert!(n > 0, "peer closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    fn send_step(&mut self, messages: &[broker_wire::native::Handshake]) {
        let mut out = Vec::new();
        for message in messages {
            self.codec.encode_handshake(message, &mut out).unwrap();
        }
        self.stream.write_all(&out).unwrap();
    }

    fn send_envelope(&mut self, envelope: &Envelope) {
        let mut out = Vec::new();
        self.codec.encode_envelope(envelope, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// Runs the handshake to the end, granting the reservation.
    fn handshake(&mut self, role: Role, own: EndpointId, filter: Vec<Topic>) -> Next {
        let (mut machine, first) = HandshakeMachine::start(role, own, filter);
        self.send_step(&[first]);
        loop {
            let body = self.next_body();
            let mut step = machine.receive(&body);
            if let Next::Reserve { .. } = step.next {
                self.send_step(&step.send);
                step = machine.reserved(Reservation::Granted);
            }
            self.send_step(&step.send);
            if step.next != Next::Continue {
                return step.next;
            }
        }
    }

    /// The next envelope whose content satisfies `wanted`.
    fn expect(&mut self, wanted: impl Fn(&Content) -> bool) -> Envelope {
        loop {
            let envelope = Envelope::decode(&self.next_body()).expect("Broker's envelope decodes");
            if wanted(&envelope.content) {
                return envelope;
            }
        }
    }

    /// A ping gets Broker's pong, and a data ping on /test gets its data pong. The data
    /// ping is repeated until answered, as broker-node's own ping mode does: its pong
    /// mode subscribes only after peering, so the first pings may find no subscriber.
    fn exchange_pings(&mut self, own: EndpointId) {
        let ping = Envelope::control(own, id(N), Content::Ping(b"foo".to_vec()));
        self.send_envelope(&ping);
        let pong = self.expect(|c| matches!(c, Content::Pong(_)));
        assert_eq!(
            pong,
            ping.pong().unwrap(),
            "pong: sender and receiver swapped"
        );
        let data = Data::Vector(vec!["ping".into(), Data::Count(7), "xyz".into()]);
        let expected = Data::Vector(vec!["pong".into(), Data::Count(7)]);
        self.stream
            .set_read_timeout(Some(RENDEZVOUS_RETRY))
            .unwrap();
        let started = Instant::now();
        let answer = loop {
            assert!(
                started.elapsed() < STARTUP,
                "broker-node never answered the data ping"
            );
            self.send_envelope(&Envelope::publish(own, "/test".into(), data.clone()));
            if let Some(answer) = self.try_expect_data() {
                break answer;
            }
        };
        assert_eq!(
            answer,
            Envelope::publish(id(N), "/test".into(), expected),
            "broker-node answers pings with pongs on the same topic"
        );
    }

    /// The next data envelope, or `None` if the connection goes quiet first.
    fn try_expect_data(&mut self) -> Option<Envelope> {
        loop {
            let envelope =
                Envelope::decode(&self.try_next_body()?).expect("Broker's envelope decodes");
            if matches!(envelope.content, Content::Data(_)) {
                return Some(envelope);
            }
        }
    }
}

fn established(peer: &str, filter: &[&str], originator: bool) -> Next {
    Next::Established {
        peer: id(peer),
        filter: filter.iter().copied().map(Topic::from).collect(),
        originator,
    }
}

#[test]
fn connector_peers_with_broker_node_as_originator_and_responder() {
    let Some(reference) = reference() else { return };
    let port = free_port();
    let _node = start_node(&reference, "connector", Some(port), "");
    for (own, originator) in [(P, true), (Q, false)] {
        let mut link = Link::new(connect(port));
        let next = link.handshake(Role::Connector, id(own), vec!["/test".into()]);
        assert_eq!(next, established(N, &["/test"], originator));
        link.exchange_pings(id(own));
    }
}

#[test]
fn acceptor_peers_with_connecting_broker_node() {
    let Some(reference) = reference() else { return };
    for (own, originator) in [(P, true), (Q, false)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = format!("peers = [\"tcp://127.0.0.1:{port}\"]");
        let _node = start_node(&reference, &format!("acceptor-{own}"), None, &config);
        let (stream, _) = listener.accept().unwrap();
        let mut link = Link::new(stream);
        let next = link.handshake(Role::Acceptor, id(own), vec!["/test".into()]);
        assert_eq!(next, established(N, &["/test"], originator));
        link.exchange_pings(id(own));
    }
}
