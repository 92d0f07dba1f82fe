//! A TCP forwarder between two nodes of a topology: peerings go through it so the
//! harness can cut a link (partition), restore it (heal), retarget it when a
//! node restarts on a new port, and slip bytes of its own into a connection (garbage
//! or truncated frames).

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A forwarder from a loopback port to a target port; stops when dropped.
pub struct Proxy {
    port: u16,
    shared: Arc<ProxyState>,
}

struct ProxyState {
    target: AtomicU16,
    blocked: AtomicBool,
    stopped: AtomicBool,
    /// Every live forwarded connection, to cut them on partition or write into them.
    /// Locked by the accept thread (adding) and by `partition`/`inject`/`drop`.
    live: Mutex<Vec<Forwarded>>,
}

/// Both ends of one forwarded connection.
struct Forwarded {
    /// The dialer's side.
    dialer: TcpStream,
    /// Towards the target (the listening node).
    listener: TcpStream,
}

impl Proxy {
    /// Starts forwarding from a free loopback port to `127.0.0.1:target`.
    pub fn start(target: u16) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(ProxyState {
            target: AtomicU16::new(target),
            blocked: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
        });
        let state = shared.clone();
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, &state))?;
        Ok(Proxy { port, shared })
    }

    /// The port peers connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forwards new connections to `target` from now on.
    pub fn retarget(&self, target: u16) {
        self.shared.target.store(target, Ordering::SeqCst);
    }

    /// Cuts every live connection and refuses new ones until [`Proxy::heal`].
    pub fn partition(&self) {
        self.shared.blocked.store(true, Ordering::SeqCst);
        self.shared.cut_all();
    }

    /// Accepts connections again.
    pub fn heal(&self) {
        self.shared.blocked.store(false, Ordering::SeqCst);
    }

    /// Writes `bytes` into every live connection towards the listening node, as if
    /// the dialer had sent them, then (with `end`) ends that direction: the listener
    /// reads the dialer's bytes, these, and then end of stream. Returns the number of
    /// connections written to.
    pub fn inject(&self, bytes: &[u8], end: bool) -> usize {
        let mut live = self.shared.live.lock().expect("proxy lock poisoned");
        live.retain_mut(|forwarded| {
            let written = forwarded.listener.write_all(bytes).is_ok();
            if end {
                let _ = forwarded.listener.shutdown(Shutdown::Write);
            }
            written
        });
        live.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        // Wakes the accept thread so it sees the flag.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
    }
}

impl ProxyState {
    fn cut_all(&self) {
        for forwarded in self.live.lock().expect("proxy lock poisoned").drain(..) {
            let _ = forwarded.dialer.shutdown(Shutdown::Both);
            let _ = forwarded.listener.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, state: &ProxyState) {
    for inbound in listener.incoming() {
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(inbound) = inbound else { continue };
        if state.blocked.load(Ordering::SeqCst) {
            continue; // dropped: the peer sees the connection fail and retries later
        }
        let target = SocketAddr::from(([127, 0, 0, 1], state.target.load(Ordering::SeqCst)));
        let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
            continue;
        };
        // The nodes write whole frames: forward each at once, as a direct link would
        // (Nagle's algorithm held small frames behind unacknowledged ones, tens of ms).
        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
        let clones = (|| {
            Ok::<_, io::Error>((
                inbound.try_clone()?,
                outbound.try_clone()?,
                inbound.try_clone()?,
                outbound.try_clone()?,
            ))
        })();
        let Ok((inbound_live, outbound_live, inbound2, outbound2)) = clones else {
            continue;
        };
        state
            .live
            .lock()
            .expect("proxy lock poisoned")
            .push(Forwarded {
                dialer: inbound_live,
                listener: outbound_live,
            });
        std::thread::spawn(move || pump(inbound, outbound2));
        std::thread::spawn(move || pump(outbound, inbound2));
    }
}

/// Copies `from` to `to` until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
