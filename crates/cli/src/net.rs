//! The network options every tool shares (`--peers`, `--local-port`, ...) and
//! starting an endpoint from them.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint};
use broker_wire::Topic;

use crate::error::CliError;
use crate::interrupt::Interrupt;

/// A peer's `host:port`; IPv6 hosts in brackets (`[::1]:9999`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddr {
    /// Host name or address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl FromStr for PeerAddr {
    type Err = CliError;

    fn from_str(text: &str) -> Result<Self, CliError> {
        let bad = || CliError::PeerAddress(text.to_owned());
        let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || (host.contains(':') && !text.starts_with('[')) {
            return Err(bad());
        }
        Ok(PeerAddr {
            host: host.to_owned(),
            port: port.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where an endpoint listens and whom it peers with.
#[derive(Debug, Clone, clap::Args)]
pub struct NetworkArgs {
    /// Peers to connect to: comma-separated host:port list.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,...")]
    pub peers: Vec<PeerAddr>,
    /// Listen on this port (0 = any free port). The bound port is printed on stderr.
    #[arg(long, value_name = "PORT")]
    pub local_port: Option<u16>,
    /// Address to listen on ("" = all interfaces).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub listen_address: String,
    /// Also write the bound port to this file (written atomically).
    #[arg(long, value_name = "FILE", requires = "local_port")]
    pub port_file: Option<PathBuf>,
    /// Seconds between attempts to reach a peer that is down or was lost.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub retry: f64,
    /// Also serve WebSocket clients (Zeek's JSON API, on `listen_address`) on this
    /// port (0 = any free port). The bound port is printed on stderr.
    #[arg(long, value_name = "PORT")]
    pub web_socket_port: Option<u16>,
    /// Serve the endpoint's metrics to Prometheus on this port (`GET /metrics`; 0 = any
    /// free port, printed on stderr). Off unless given here or in BROKER_METRICS_PORT.
    #[arg(long, env = "BROKER_METRICS_PORT", value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Address the metrics port binds to ("" = all interfaces).
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub metrics_address: String,
}

impl NetworkArgs {
    /// Starts an endpoint with Broker's defaults and the metrics port asked for.
    pub fn start_endpoint(&self) -> Result<Endpoint, CliError> {
        let endpoint = Endpoint::new(Config {
            metrics_port: self.metrics_port,
            metrics_address: self.metrics_address.clone(),
            ..Config::default()
        })?;
        if let Some(port) = endpoint.metrics_port() {
            eprintln!("metrics on port {port}");
        }
        Ok(endpoint)
    }

    /// Listens and peers as asked. A peer that is not reachable yet is only
    /// reported: it is retried in the background. Make subscribers before calling
    /// this, so that peers learn of them in the handshake.
    pub fn connect(&self, endpoint: &Endpoint) -> Result<(), CliError> {
        if let Some(port) = self.local_port {
            let bound = endpoint.listen(&self.listen_address, port)?;
            eprintln!("listening on port {bound}");
            if let Some(path) = &self.port_file {
                write_atomically(path, &format!("{bound}\n"))?;
            }
        }
        if let Some(port) = self.web_socket_port {
            let bound = endpoint.web_socket_listen(&self.listen_address, port)?;
            eprintln!("listening for WebSocket clients on port {bound}");
        }
        let retry = self.retry_interval();
        for peer in &self.peers {
            match endpoint.peer(&peer.host, peer.port, retry) {
                Ok(()) => eprintln!("peered with {peer}"),
                Err(e) => eprintln!("{e}; retrying every {}s", self.retry),
            }
        }
        Ok(())
    }

    /// The interval between attempts to reach a peer.
    pub fn retry_interval(&self) -> Option<Duration> {
        Some(Duration::from_secs_f64(self.retry.max(0.01)))
    }
}

/// Writes `contents` to `path` through a temporary file, so readers never see a
/// partial write.
pub fn write_atomically(path: &std::path::Path, contents: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(|e| CliError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::file(path, e))
}

/// Waits until a direct peer subscribes to a prefix of `topic`, at most `timeout`;
/// whether one did. Publishing earlier would send the first messages to nobody.
pub fn await_subscription(
    endpoint: &Endpoint,
    topic: &Topic,
    timeout: Duration,
    interrupt: &Interrupt,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        // In slices, so that an interrupt is seen soon.
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(INTERRUPT_CHECK);
        if endpoint.await_peer_subscription(topic, slice) {
            return true;
        }
        if Instant::now() >= deadline || interrupt.is_set() {
            return false;
        }
    }
}

/// Longest wait for a subscription without looking at the interrupt flag.
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses_parse() {
        let v4: PeerAddr = "127.0.0.1:9999".parse().unwrap();
        assert_eq!((v4.host.as_str(), v4.port), ("127.0.0.1", 9999));
        let v6: PeerAddr = "[::1]:80".parse().unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 80));
        assert_eq!(v6.to_string(), "[::1]:80");
        for bad in ["localhost", ":80", "::1:80", "host:99999", "host:x"] {
            assert!(bad.parse::<PeerAddr>().is_err(), "{bad}");
        }
    }
}
