//! The reference Broker (a real, current Broker: `broker-node`, wire-identical to Zeek
//! 5.0 – 8.x) for interop tests, found and run only through `scripts/reference-broker`,
//! which locates it (`BROKER_REFERENCE` overrides where) and makes its library
//! loadable. Tests skip, printing why, when it is missing.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// The endpoint id every broker-node started here uses.
pub const NODE_ID: &str = "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1";
/// How long a broker-node may take to come up or to accept a connection.
pub const STARTUP: Duration = Duration::from_secs(15);
/// How long a script may take to print an expected line.
pub const LINE_WAIT: Duration = Duration::from_secs(10);

fn wrapper() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference-broker")
}

/// Whether the reference is there; prints why not (the test then returns: skipped).
pub fn available() -> bool {
    let out = Command::new(wrapper())
        .output()
        .expect("scripts/reference-broker runs");
    match out.status.code() {
        Some(0) => true,
        Some(77) => {
            eprintln!(
                "skipped: {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
            false
        }
        _ => panic!(
            "scripts/reference-broker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// A running broker-node, killed on drop.
pub struct Node {
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

impl Node {
    /// Starts broker-node in pong mode (id [`NODE_ID`], topic /test) with the
    /// config-file lines `config`; with a port it listens there, otherwise `config`
    /// names the peers it connects to. Waits (bounded) until it says it is up.
    pub fn pong(name: &str, port: Option<u16>, config: &str) -> Node {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("broker-ref-{name}-{}-{unique}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("node.cfg");
        fs::write(
            &cfg,
            format!(
                "topics = [\"/test\"]\nverbose = true\nendpoint-id = \"{NODE_ID}\"\n{config}\n"
            ),
        )
        .unwrap();
        let log = dir.join("node.log");
        // The wrapper execs broker-node: the child is broker-node itself.
        let mut command = Command::new(wrapper());
        command
            .arg("broker-node")
            .arg(format!("--config-file={}", cfg.display()))
            .args(["-m", "pong"])
            .stdout(fs::File::create(&log).unwrap())
            .stderr(Stdio::null());
        if let Some(port) = port {
            command.args(["-p", &port.to_string()]);
        }
        let mut node = Node {
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
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains(ready) {
                return node;
            }
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("broker-node exited ({status}): {text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "broker-node not ready: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

/// Connects to a node, retrying (bounded) while it is refused: broker-node reports
/// that it listens a moment before it does.
pub fn connect(port: u16) -> TcpStream {
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

/// A loopback port nobody listens on right now, for broker-node to listen on.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A script of `tests/reference` run with the reference's Python bindings (Debian's
/// /usr/bin/python3), fed commands on stdin, its output read by line; killed on drop.
pub struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Script {
    /// Starts `tests/reference/<script>` with `args` and environment variables `env`.
    pub fn start(script: &str, args: &[&str], env: &[(&str, String)]) -> Script {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(root.join("scripts/reference-broker"))
            .arg("/usr/bin/python3")
            .arg(root.join("tests/reference").join(script))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("scripts/reference-broker runs");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// The next line starting with `prefix` (others skipped), within [`LINE_WAIT`].
    pub fn line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + LINE_WAIT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(line) => skipped.push(line),
                Err(_) => panic!("the reference printed no {prefix:?} line, only {skipped:?}"),
            }
        }
    }

    pub fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("the reference reads commands");
        stdin.flush().unwrap();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
