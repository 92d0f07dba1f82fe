//! Connections that never complete a handshake: 1,000 half-open ones and a slow-loris
//! one sending its `Hello` a byte at a time, against one listener while established
//! peers keep publishing and a new peer arrives.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_actors::Config;
use broker_wire::native::{EndpointId, Handshake, Hello, NativeCodec};
use broker_wire::Topic;

use super::fds::raise_limit;
use super::stream::Stream;
use super::{Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::node::{LocalNode, Node};
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/connections";

/// Connections that connect and then say nothing (fewer if the descriptor limit
/// cannot be raised to hold both ends of each in this process).
const HALF_OPEN: usize = 1000;

/// Descriptors kept for everything else of the scenario.
const SPARE_FDS: u64 = 512;

/// The listener's handshake timeout: what bounds every silent connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// The slow-loris connection's pace.
const LORIS_PACE: Duration = Duration::from_millis(200);

/// 1,000 half-open connections and a slow-loris handshake against one listener.
pub const HALF_OPEN_AND_SLOW_LORIS: Scenario = Scenario {
    name: "half-open-and-slow-loris",
    promise: "the listener closes every connection that does not complete its handshake \
              within the handshake timeout, while established peers keep publishing and a \
              new peer peers (all delivered exactly once)",
    run: half_open_and_slow_loris,
};

/// Whether the other end closed `stream` (reading what it sent meanwhile).
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Sends a valid hello (Broker's, which every connection starts with) to `address` one
/// byte per [`LORIS_PACE`]; how many bytes went out before the listener closed the
/// connection, or `None` if it never did.
fn slow_loris(address: SocketAddr) -> std::io::Result<Option<usize>> {
    let hello = Handshake::Hello(Hello::new(EndpointId::from_random([7; 16])));
    let mut bytes = Vec::new();
    NativeCodec::default()
        .encode_handshake(&hello, &mut bytes)
        .expect("a hello encodes");
    let mut stream = TcpStream::connect(address)?;
    stream.set_nonblocking(true)?;
    for (sent, byte) in bytes.iter().enumerate() {
        if closed(&mut stream) || stream.write_all(&[*byte]).is_err() {
            return Ok(Some(sent));
        }
        std::thread::sleep(LORIS_PACE);
    }
    Ok(None)
}

fn half_open_and_slow_loris(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let limit = raise_limit(2 * HALF_OPEN as u64 + SPARE_FDS)?;
    let half_open = HALF_OPEN.min((limit.saturating_sub(SPARE_FDS) / 2) as usize);
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let config = Config {
        disable_ssl: true,
        handshake_timeout: HANDSHAKE_TIMEOUT,
        ..Config::default()
    };
    let [mut subscriber, mut publisher, mut newcomer] = ["subscriber", "publisher", "newcomer"]
        .map(|name| LocalNode::new(name).configured(config.clone(), 4096));
    let spec = NodeSpec {
        subscribe: vec![TOPIC.to_owned()],
        ..NodeSpec::named("subscriber")
    };
    let port = subscriber.start(&spec)?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    for node in [&mut publisher, &mut newcomer] {
        node.start(&NodeSpec::named(node.name()))?;
    }
    publisher.peer(port)?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    if !out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        return Ok(());
    }
    let endpoint = publisher.endpoint().expect("started").clone();
    let stream = Stream::promised(endpoint, "publisher", topic.clone(), ledger.clone());
    let opened_at = Instant::now();
    let mut silent: Vec<TcpStream> = (0..half_open)
        .filter_map(|_| TcpStream::connect_timeout(&address, Duration::from_secs(5)).ok())
        .filter(|s| s.set_nonblocking(true).is_ok())
        .collect();
    out.check(
        silent.len() == half_open,
        "half-open connections opened",
        format!("{} (descriptor limit {limit})", silent.len()),
    );
    let loris = std::thread::spawn(move || slow_loris(address));
    newcomer.peer(port)?;
    if out.wait("a new peer peers during the flood", WAIT, || {
        newcomer.routed(&topic)
    }) {
        let lock = || ledger.lock().expect("ledger lock poisoned");
        lock().publish(&mut newcomer, &topic, n, true)?;
    }
    out.wait("listener closes every half-open connection", WAIT, || {
        silent.retain_mut(|s| !closed(s));
        silent.is_empty()
    });
    out.note(format!(
        "{half_open} half-open closed after {} ms (handshake timeout {} ms)",
        opened_at.elapsed().as_millis(),
        HANDSHAKE_TIMEOUT.as_millis()
    ));
    match loris.join().expect("the slow-loris thread does not panic") {
        Ok(Some(sent)) => {
            out.check(true, "listener closes the slow-loris connection", sent);
            out.note(format!("slow loris cut after {sent} bytes"));
        }
        Ok(None) => out.check(false, "listener closes the slow-loris connection", "never"),
        Err(e) => out.check(false, "slow-loris connection", e),
    }
    drop(stream);
    let ledger = ledger.lock().expect("ledger lock poisoned").clone();
    out.tally(&ledger, subscriber.received(), WAIT);
    let statuses = subscriber.statuses();
    // The timeouts are summed up, not a status each (which would fill status queues).
    let unavailable = statuses
        .iter()
        .filter(|s| *s == "error PeerUnavailable")
        .count();
    out.check(
        unavailable < half_open / 10 + 2,
        "failed handshakes are summed up, not a status each",
        format!("{unavailable} statuses for {half_open} half-open connections"),
    );
    out.statuses("subscriber", &statuses);
    Ok(())
}
