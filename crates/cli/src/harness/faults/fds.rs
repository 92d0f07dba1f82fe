//! File descriptors exhausted: [`Exhaustion`] uses up a process's descriptors (the
//! harness's child nodes do it on command), and the scenario checks that an endpoint
//! out of descriptors reports errors instead of panicking, keeps its established
//! peerings working, and peers again once descriptors return.

use std::fs::File;
use std::io;

use broker_wire::Topic;

use super::{Ledger, Options, Outcome, Scenario, WAIT};
use crate::error::CliError;
use crate::harness::child::ChildNode;
use crate::harness::node::{LocalNode, Node};
use crate::harness::topology::NodeSpec;

const TOPIC: &str = "/faults/fds";

/// The soft descriptor limit while exhausted, at most: bounds the files opened.
const EXHAUSTED_LIMIT: libc::rlim_t = 1024;

/// The subscriber's process runs out of descriptors while peered, then gets them back.
pub const FD_EXHAUSTION: Scenario = Scenario {
    name: "fd-exhaustion",
    promise: "an endpoint out of file descriptors keeps its established peerings \
              (delivered exactly once), reports failed peerings as error statuses, does not \
              panic, and completes pending and new peerings once descriptors return",
    run: fd_exhaustion,
};

/// This process's descriptors, used up: the soft limit lowered (to at most 1024) and
/// `/dev/null` opened until `EMFILE`. Dropping it closes them and restores the limit.
pub struct Exhaustion {
    held: Vec<File>,
    limit: libc::rlimit,
}

fn nofile_limit() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, nothing else.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => Ok(limit),
        _ => Err(io::Error::last_os_error()),
    }
}

fn set_nofile_limit(limit: &libc::rlimit) -> io::Result<()> {
    // SAFETY: setrlimit only reads the struct it is given.
    match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Raises this process's soft descriptor limit towards `wanted` as far as the hard
/// limit allows (the half-open scenario holds thousands of sockets); the limit now.
pub fn raise_limit(wanted: u64) -> io::Result<u64> {
    let limit = nofile_limit()?;
    if limit.rlim_cur >= wanted as libc::rlim_t {
        return Ok(limit.rlim_cur as u64);
    }
    let raised = limit.rlim_max.min(wanted as libc::rlim_t);
    set_nofile_limit(&libc::rlimit {
        rlim_cur: raised,
        rlim_max: limit.rlim_max,
    })?;
    Ok(raised as u64)
}

impl Exhaustion {
    /// Uses up this process's descriptors.
    pub fn start() -> io::Result<Exhaustion> {
        let limit = nofile_limit()?;
        set_nofile_limit(&libc::rlimit {
            rlim_cur: limit.rlim_cur.min(EXHAUSTED_LIMIT),
            rlim_max: limit.rlim_max,
        })?;
        let mut exhaustion = Exhaustion {
            held: Vec::new(),
            limit,
        };
        loop {
            match File::open("/dev/null") {
                Ok(file) => exhaustion.held.push(file),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return Ok(exhaustion),
                Err(e) => return Err(e), // dropping `exhaustion` gives everything back
            }
        }
    }

    /// Number of descriptors it holds.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

impl Drop for Exhaustion {
    fn drop(&mut self) {
        self.held.clear();
        let _ = set_nofile_limit(&self.limit);
    }
}

fn fd_exhaustion(options: &Options, out: &mut Outcome) -> Result<(), CliError> {
    let (topic, n) = (Topic::new(TOPIC), options.messages);
    let mut subscriber = ChildNode::new("subscriber", &options.program);
    let spec = NodeSpec {
        subscribe: vec![TOPIC.to_owned()],
        ..NodeSpec::named("subscriber")
    };
    let port = subscriber.start(&spec)?;
    let [mut publisher, mut newcomer, mut remote] =
        ["publisher", "newcomer", "remote"].map(LocalNode::new);
    for node in [&mut publisher, &mut newcomer] {
        node.start(&NodeSpec::named(node.name()))?;
    }
    let remote_port = remote.start(&NodeSpec::named("remote"))?;
    publisher.peer(port)?;
    let mut ledger = Ledger::default();
    if !out.wait("publisher is routed", WAIT, || publisher.routed(&topic)) {
        return Ok(());
    }
    let held = subscriber.exhaust_fds()?;
    out.note(format!(
        "subscriber out of descriptors ({held} opened to get there)"
    ));
    ledger.publish(&mut publisher, &topic, n, true)?;
    ledger.await_promised(subscriber.received(), WAIT);
    newcomer.peer(port)?;
    subscriber.peer(remote_port)?;
    out.wait("subscriber reports its failed peering", WAIT, || {
        subscriber
            .statuses()
            .iter()
            .any(|s| s.starts_with("error "))
    });
    let alive = subscriber.alive();
    out.check(alive, "subscriber survives without descriptors", alive);
    subscriber.release_fds()?;
    out.wait(
        "the waiting newcomer peers once descriptors return",
        WAIT,
        || newcomer.routed(&topic),
    );
    out.wait("the subscriber's own peering succeeds", WAIT, || {
        subscriber.peered() == 3
    });
    ledger.publish(&mut newcomer, &topic, n, true)?;
    out.tally(&ledger, subscriber.received(), WAIT);
    let alive = subscriber.alive();
    out.check(alive, "subscriber alive at the end", alive);
    out.statuses("subscriber", &subscriber.statuses());
    Ok(())
}
