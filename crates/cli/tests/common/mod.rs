//! Running the built tools as child processes, with every wait bounded and every
//! child killed when its handle drops (so a failing test leaves nothing behind).
#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Upper bound of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running tool. Killed on drop.
pub struct Tool {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Tool {
    /// Starts `binary` with `args`, stdin/stdout/stderr piped.
    pub fn spawn(binary: &str, args: &[&str]) -> Tool {
        let mut child = Command::new(binary)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Tool {
            child,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin (for writing lines; drop it to send EOF).
    pub fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin already taken")
    }

    /// The next `n` stdout lines, waiting at most [`WAIT`] in total.
    pub fn stdout_lines(&self, n: usize) -> Vec<String> {
        take_lines(&self.stdout, n)
    }

    /// Waits at most [`WAIT`] for a stderr line containing `needle`; the line.
    pub fn await_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no {needle:?} on stderr of {}", self.pid()),
            }
        }
    }

    /// Everything on stderr so far (without waiting).
    pub fn stderr_so_far(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits at most [`WAIT`] for the process to exit; its status.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process {} did not exit in time; stderr: {}",
                self.pid(),
                self.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Remaining stdout lines after exit.
    pub fn rest_of_stdout(&self) -> Vec<String> {
        self.stdout.iter().collect()
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn take_lines(lines: &Receiver<String>, n: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < n {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => got.push(line),
            Err(_) => panic!("got {} of {n} lines: {got:?}", got.len()),
        }
    }
    got
}

/// Runs `binary` with `args` to completion (bounded), stdin closed; its status and
/// stderr.
pub fn run_to_end(binary: &str, args: &[&str]) -> (ExitStatus, String) {
    let mut tool = Tool::spawn(binary, args);
    drop(tool.stdin());
    let status = tool.wait();
    let stderr = tool.stderr.iter().collect::<Vec<_>>().join("\n");
    (status, stderr)
}

/// Reads the port a tool wrote to `path`, waiting at most [`WAIT`] for the file.
pub fn read_port(path: &Path) -> u16 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().parse().expect("port file holds a port");
        }
        assert!(Instant::now() < deadline, "no port file {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh path for a port file in `dir`.
pub fn port_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(format!("{name}.port"))
}

/// Writes `lines` to `stdin`, then closes it.
pub fn feed(mut stdin: ChildStdin, lines: &[&str]) {
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
}

/// Asserts that `args` is rejected with exit code 2 and a usage message naming `needle`.
pub fn assert_usage_error(binary: &str, args: &[&str], needle: &str) {
    let (status, stderr) = run_to_end(binary, args);
    assert_eq!(status.code(), Some(2), "args {args:?}: {stderr}");
    assert!(
        stderr.starts_with("error:") && stderr.contains("--help"),
        "args {args:?}: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "args {args:?}: expected {needle:?} in {stderr}"
    );
}
