//! One process per node: [`ChildNode`] runs a node as a child process (the harness
//! binary's hidden `--node NAME` mode, [`serve`]) and drives it with JSON lines.
//!
//! The harness writes one [`Command`] per line to the child's stdin; the child
//! answers each with one [`Reply`] line on stdout, and in between writes a
//! [`Reply::Message`] line for every message it receives, which the harness records
//! as an in-process node would. Latencies use wall-clock send and arrival times.
//! The child exits when its stdin closes, so it does not outlive the harness; `kill`
//! sends it SIGKILL.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use broker_wire::Topic;
use serde::{Deserialize, Serialize};

use super::faults::fds::Exhaustion;
use super::node::{LocalNode, Node, Received, Sink, StoreExpectation, StoreWrite};
use super::topology::NodeSpec;
use crate::error::CliError;
use crate::json::{from_json, to_json};

/// Bound of waiting for a child's answer to a command.
const REPLY_WAIT: Duration = Duration::from_secs(10);

/// A command to a child node, one JSON line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Start the endpoint; answered with [`Reply::Port`].
    Start {
        /// Topic prefixes to subscribe to.
        subscribe: Vec<String>,
        /// Topic prefixes to forward.
        forward: Vec<String>,
    },
    /// Peer with `127.0.0.1:port`, retrying.
    Peer {
        /// The port.
        port: u16,
    },
    /// Publish `count` payloads numbered from `first` on `topic`.
    Publish {
        /// Topic.
        topic: String,
        /// First sequence number.
        first: u64,
        /// Number of messages.
        count: u64,
    },
    /// Count the peerings in the `Peered` state; answered with [`Reply::Peered`].
    Peered,
    /// Attach the masters (or, with `clones`, the clones) of these stores, waiting at
    /// most `timeout_ms` for each clone's master.
    AttachStores {
        /// Stores whose master the node holds.
        master: Vec<String>,
        /// Stores the node holds a clone of.
        clone: Vec<String>,
        /// Attach the clones rather than the masters.
        clones: bool,
        /// Bound of waiting for a clone's master, in milliseconds.
        timeout_ms: u64,
    },
    /// Write to a store.
    Put(StoreWrite),
    /// Compare a replica with what it should hold; answered with
    /// [`Reply::Deviations`].
    CheckStore(StoreExpectation),
    /// Whether a peer subscribes to a prefix of `topic`; answered with
    /// [`Reply::Routed`].
    Routed {
        /// The topic.
        topic: String,
    },
    /// The status events seen so far; answered with [`Reply::Statuses`].
    Statuses,
    /// Use up the process's file descriptors (see [`Exhaustion`]); answered with
    /// [`Reply::Held`].
    ExhaustFds,
    /// Give the descriptors back.
    ReleaseFds,
}

/// A line from a child node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The endpoint listens on this port.
    Port(u16),
    /// Number of peerings in the `Peered` state.
    Peered(usize),
    /// Whether a peer subscribes to the topic asked about.
    Routed(bool),
    /// Status events seen, described.
    Statuses(Vec<String>),
    /// Descriptors held to exhaust the process's limit.
    Held(usize),
    /// How a replica differs from what it should hold; `None` without a replica.
    Deviations(Option<Vec<String>>),
    /// The command is done.
    Done,
    /// The command failed.
    Error(String),
    /// A message arrived (not an answer to a command).
    Message {
        /// Its topic.
        topic: String,
        /// Its value, in the JSON notation of `--json`.
        data: serde_json::Value,
        /// Wall-clock arrival time, nanoseconds since the Unix epoch.
        arrival_ns: u64,
    },
}

/// Runs node `name` in this process, driven by [`Command`] lines on stdin, until
/// stdin closes.
pub fn serve(name: &str) -> Result<(), CliError> {
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let write = move |reply: &Reply| -> std::io::Result<()> {
        let line = serde_json::to_string(reply).expect("replies serialize");
        let mut out = stdout.lock().expect("stdout lock poisoned");
        writeln!(out, "{line}")?;
        out.flush()
    };
    let messages = write.clone();
    let sink: Sink = Arc::new(move |topic, data, arrival| {
        // A failed write means the harness is gone; stdin closing ends the node.
        // A value JSON cannot carry (NaN, non-UTF-8) reaches the harness as nil, so it
        // still counts as delivered.
        let _ = messages(&Reply::Message {
            topic: topic.as_str().to_owned(),
            data: to_json(data)
                .unwrap_or_else(|_| to_json(&broker_wire::Data::None).expect("nil encodes")),
            arrival_ns: arrival.as_nanos() as u64,
        });
    });
    let mut node = LocalNode::with_sink(name, sink);
    let mut exhaustion = None;
    for line in std::io::stdin().lock().lines() {
        let reply = match serde_json::from_str::<Command>(&line?) {
            Ok(command) => execute(&mut node, &mut exhaustion, command)
                .unwrap_or_else(|e| Reply::Error(e.to_string())),
            Err(e) => Reply::Error(format!("bad command: {e}")),
        };
        write(&reply)?;
    }
    Ok(())
}

fn execute(
    node: &mut LocalNode,
    exhaustion: &mut Option<Exhaustion>,
    command: Command,
) -> Result<Reply, CliError> {
    Ok(match command {
        Command::Start { subscribe, forward } => {
            let spec = NodeSpec {
                subscribe,
                forward,
                ..NodeSpec::named(node.name())
            };
            Reply::Port(node.start(&spec)?)
        }
        Command::Peer { port } => {
            node.peer(port)?;
            Reply::Done
        }
        Command::Publish {
            topic,
            first,
            count,
        } => {
            node.publish(&Topic::new(topic.as_str()), first, count)?;
            Reply::Done
        }
        Command::Peered => Reply::Peered(node.peered()),
        Command::AttachStores {
            master,
            clone,
            clones,
            timeout_ms,
        } => {
            let spec = NodeSpec {
                master,
                clone,
                ..NodeSpec::named(node.name())
            };
            node.attach_stores(&spec, clones, Duration::from_millis(timeout_ms))?;
            Reply::Done
        }
        Command::Put(write) => {
            node.put(&write)?;
            Reply::Done
        }
        Command::CheckStore(expected) => Reply::Deviations(node.store_deviations(&expected)?),
        Command::Routed { topic } => Reply::Routed(node.routed(&Topic::new(topic.as_str()))),
        Command::Statuses => Reply::Statuses(node.statuses()),
        Command::ExhaustFds => {
            *exhaustion = None;
            let held = Exhaustion::start()?;
            let count = held.held();
            *exhaustion = Some(held);
            Reply::Held(count)
        }
        Command::ReleaseFds => {
            *exhaustion = None;
            Reply::Done
        }
    })
}

/// A node in a child process. Killed on drop.
pub struct ChildNode {
    name: String,
    program: PathBuf,
    running: Option<Running>,
    received: Arc<Mutex<Received>>,
    /// Status events of earlier runs, and of this run as last asked.
    statuses: (Vec<String>, Vec<String>),
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Reply>,
    reader: JoinHandle<()>,
}

impl ChildNode {
    /// A node that runs as `program --node NAME` (the harness binary); not started.
    pub fn new(name: &str, program: &Path) -> ChildNode {
        ChildNode {
            name: name.to_owned(),
            program: program.to_owned(),
            running: None,
            received: Arc::default(),
            statuses: Default::default(),
        }
    }

    /// Makes the child use up its file descriptors; how many it holds.
    pub fn exhaust_fds(&mut self) -> Result<usize, CliError> {
        match self.request(&Command::ExhaustFds)? {
            Reply::Held(count) => Ok(count),
            other => Err(self.error(&format!("unexpected answer {other:?}"))),
        }
    }

    /// Makes the child give its file descriptors back.
    pub fn release_fds(&mut self) -> Result<(), CliError> {
        self.command(&Command::ReleaseFds, REPLY_WAIT)
    }

    /// Whether the child process is still alive (it may have died of a panic).
    pub fn alive(&mut self) -> bool {
        self.running
            .as_mut()
            .is_some_and(|r| matches!(r.child.try_wait(), Ok(None)))
    }

    /// Sends `command` and waits (bounded) for the answer. A child that fails to
    /// answer is killed.
    fn request(&mut self, command: &Command) -> Result<Reply, CliError> {
        self.request_within(command, REPLY_WAIT)
    }

    /// [`ChildNode::request`] for a command that may take up to `wait` to answer.
    fn request_within(&mut self, command: &Command, wait: Duration) -> Result<Reply, CliError> {
        let Some(running) = &mut self.running else {
            return Err(self.error("not running"));
        };
        let line = serde_json::to_string(command).expect("commands serialize");
        let sent = writeln!(running.stdin, "{line}").and_then(|()| running.stdin.flush());
        let reply = match sent {
            Ok(()) => running
                .replies
                .recv_timeout(wait)
                .map_err(|e| format!("no answer: {e}")),
            Err(e) => Err(e.to_string()),
        };
        match reply {
            Ok(Reply::Error(e)) => Err(self.error(&e)),
            Ok(reply) => Ok(reply),
            Err(e) => {
                self.kill();
                Err(self.error(&e))
            }
        }
    }

    fn error(&self, reason: &str) -> CliError {
        CliError::Child {
            node: self.name.clone(),
            reason: reason.to_owned(),
        }
    }

    /// Sends a command that is answered with [`Reply::Done`] within `wait`; nothing
    /// when killed.
    fn command(&mut self, command: &Command, wait: Duration) -> Result<(), CliError> {
        if self.running.is_none() {
            return Ok(());
        }
        match self.request_within(command, wait)? {
            Reply::Done => Ok(()),
            other => Err(self.error(&format!("unexpected answer {other:?}"))),
        }
    }
}

impl Node for ChildNode {
    fn name(&self) -> &str {
        &self.name
    }

    fn start(&mut self, spec: &NodeSpec) -> Result<u16, CliError> {
        self.kill();
        let mut child = std::process::Command::new(&self.program)
            .args(["--node", &self.name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| self.error(&format!("cannot start {}: {e}", self.program.display())))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let (stdin, stdout) = stdin.zip(stdout).expect("both piped");
        let (send, replies) = mpsc::channel();
        let (received, me) = (self.received.clone(), self.name.clone());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(Ok(reply)) = line.map(|l| serde_json::from_str::<Reply>(&l)) else {
                    break;
                };
                if let Reply::Message {
                    topic,
                    data,
                    arrival_ns,
                } = reply
                {
                    let Ok(data) = from_json(&data) else { continue };
                    let mut received = received.lock().expect("received lock poisoned");
                    let arrival = Duration::from_nanos(arrival_ns);
                    received.record(&me, Topic::new(topic.as_str()), &data, arrival);
                } else if send.send(reply).is_err() {
                    break;
                }
            }
        });
        self.running = Some(Running {
            child,
            stdin,
            replies,
            reader,
        });
        let start = Command::Start {
            subscribe: spec.subscribe.clone(),
            forward: spec.forward.clone(),
        };
        match self.request(&start)? {
            Reply::Port(port) => Ok(port),
            other => Err(self.error(&format!("unexpected answer {other:?}"))),
        }
    }

    fn running(&self) -> bool {
        self.running.is_some()
    }

    fn kill(&mut self) {
        let (earlier, latest) = &mut self.statuses;
        earlier.append(latest);
        if let Some(mut running) = self.running.take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
            // The child's stdout is closed now: the reader ends.
            let _ = running.reader.join();
        }
    }

    fn peer(&mut self, port: u16) -> Result<(), CliError> {
        self.command(&Command::Peer { port }, REPLY_WAIT)
    }

    fn peered(&mut self) -> usize {
        if self.running.is_none() {
            return 0;
        }
        match self.request(&Command::Peered) {
            Ok(Reply::Peered(n)) => n,
            _ => 0,
        }
    }

    fn publish(&mut self, topic: &Topic, first: u64, count: u64) -> Result<(), CliError> {
        self.command(
            &Command::Publish {
                topic: topic.as_str().to_owned(),
                first,
                count,
            },
            REPLY_WAIT,
        )
    }

    fn received(&self) -> &Mutex<Received> {
        &self.received
    }

    fn routed(&mut self, topic: &Topic) -> bool {
        if self.running.is_none() {
            return false;
        }
        let command = Command::Routed {
            topic: topic.as_str().to_owned(),
        };
        matches!(self.request(&command), Ok(Reply::Routed(true)))
    }

    fn statuses(&mut self) -> Vec<String> {
        if self.running.is_some() {
            if let Ok(Reply::Statuses(latest)) = self.request(&Command::Statuses) {
                self.statuses.1 = latest;
            }
        }
        [self.statuses.0.as_slice(), &self.statuses.1].concat()
    }

    fn attach_stores(
        &mut self,
        spec: &NodeSpec,
        clones: bool,
        timeout: Duration,
    ) -> Result<(), CliError> {
        let command = Command::AttachStores {
            master: spec.master.clone(),
            clone: spec.clone.clone(),
            clones,
            timeout_ms: timeout.as_millis() as u64,
        };
        // Each clone may wait `timeout` for its master.
        let clones_waiting = if clones { spec.clone.len() as u32 } else { 0 };
        self.command(&command, REPLY_WAIT + timeout * clones_waiting)
    }

    fn put(&mut self, write: &StoreWrite) -> Result<(), CliError> {
        self.command(&Command::Put(write.clone()), REPLY_WAIT)
    }

    fn store_deviations(
        &mut self,
        expected: &StoreExpectation,
    ) -> Result<Option<Vec<String>>, CliError> {
        if self.running.is_none() {
            return Ok(None);
        }
        match self.request(&Command::CheckStore(expected.clone()))? {
            Reply::Deviations(deviations) => Ok(deviations),
            other => Err(self.error(&format!("unexpected answer {other:?}"))),
        }
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        self.kill();
    }
}
