//! The handshake machine and codecs against the real Broker: the reference
//! `broker-node` (Broker 2.8, wire-identical to Zeek 5.0 – 8.x) over loopback TCP,
//! with us as connector (originator and responder) and as acceptor, then a data
//! ping/pong and a ping/pong in phase 3, in plaintext. Skipped, with a message, when the
//! reference is missing (see [`reference`]).

mod reference;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use broker_wire::native::{
    Content, EndpointId, Envelope, HandshakeMachine, NativeCodec, Next, Reservation, Role,
    PROTOCOL_VERSION,
};
use broker_wire::{Data, Topic};
use reference::{connect, free_port, Node, NODE_ID as N, STARTUP};

const P: &str = "00000000-0000-4000-8000-000000000000";
const Q: &str = "ffffffff-ffff-4fff-bfff-ffffffffffff";
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a data pong before pinging again.
const RENDEZVOUS_RETRY: Duration = Duration::from_millis(100);

fn id(text: &str) -> EndpointId {
    text.parse().unwrap()
}

/// Plaintext, as the handshake tests speak it.
const PLAIN: &str = "broker { disable-ssl = true }";

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
        version: PROTOCOL_VERSION,
    }
}

#[test]
fn connector_peers_with_broker_node_as_originator_and_responder() {
    if !reference::available() {
        return;
    }
    let port = free_port();
    let _node = Node::pong("connector", Some(port), PLAIN);
    for (own, originator) in [(P, true), (Q, false)] {
        let mut link = Link::new(connect(port));
        let next = link.handshake(Role::Connector, id(own), vec!["/test".into()]);
        assert_eq!(next, established(N, &["/test"], originator));
        link.exchange_pings(id(own));
    }
}

#[test]
fn acceptor_peers_with_connecting_broker_node() {
    if !reference::available() {
        return;
    }
    for (own, originator) in [(P, true), (Q, false)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = format!("{PLAIN}\npeers = [\"tcp://127.0.0.1:{port}\"]");
        let _node = Node::pong(&format!("acceptor-{own}"), None, &config);
        let (stream, _) = listener.accept().unwrap();
        let mut link = Link::new(stream);
        let next = link.handshake(Role::Acceptor, id(own), vec!["/test".into()]);
        assert_eq!(next, established(N, &["/test"], originator));
        link.exchange_pings(id(own));
    }
}
