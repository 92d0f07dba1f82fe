//! Endpoint configuration, with Broker 1.4's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// Broker's `openssl_*` options: PEM files as OpenSSL writes them. With none set
/// (and `disable_ssl` off) peerings are encrypted but not authenticated; any one set
/// asks for mutual authentication, as in Broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// File of CA certificates to authenticate peers against.
    pub cafile: Option<PathBuf>,
    /// Directory of CA certificates.
    pub capath: Option<PathBuf>,
    /// This endpoint's certificate.
    pub certificate: Option<PathBuf>,
    /// The certificate's private key.
    pub key: Option<PathBuf>,
    /// Passphrase of the private key.
    pub passphrase: Option<String>,
}

impl TlsConfig {
    /// Whether any authentication material is configured (Broker's
    /// `authentication_enabled`: any of the five options).
    pub fn is_authenticated(&self) -> bool {
        self.cafile.is_some()
            || self.capath.is_some()
            || self.certificate.is_some()
            || self.key.is_some()
            || self.passphrase.is_some()
    }
}

/// What to do when a peer's outgoing buffer is full because the peer stopped reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowPeerPolicy {
    /// Wait for room: publishers block, forwarding pauses. Loses nothing.
    Block,
    /// Wait at most `after`, then drop the peering (`PeerLost` plus a `PeerTimeout`
    /// error); a re-peer starts afresh.
    Disconnect {
        /// How long a full buffer is tolerated.
        after: Duration,
    },
    /// Drop messages for that peer, counting them, with one error status per episode.
    Drop,
    /// Make room by dropping the oldest messages queued for that peer (whole queued
    /// batches, control frames kept), counting them, with one error status per episode:
    /// the peer gets the newest messages once it reads again (Zeek 8's `drop_oldest`).
    DropOldest,
}

impl SlowPeerPolicy {
    /// Broker's names of its overflow policies (`broker.peer-overflow-policy`,
    /// `broker.web-socket-overflow-policy`).
    pub const BROKER_NAMES: [&'static str; 3] = ["disconnect", "drop_newest", "drop_oldest"];

    /// The policy Broker calls `name`; its `disconnect` acts as soon as the buffer is
    /// full. `None` for a name Broker does not have.
    pub fn from_broker_name(name: &str) -> Option<Self> {
        match name {
            "disconnect" => Some(SlowPeerPolicy::Disconnect {
                after: Duration::ZERO,
            }),
            "drop_newest" => Some(SlowPeerPolicy::Drop),
            "drop_oldest" => Some(SlowPeerPolicy::DropOldest),
            _ => None,
        }
    }

    /// Whether the policy drops messages rather than wait or disconnect.
    pub fn drops(self) -> bool {
        matches!(self, SlowPeerPolicy::Drop | SlowPeerPolicy::DropOldest)
    }
}

/// Everything an endpoint can be configured with. `Default` gives Broker's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Hops a published message may travel.
    pub ttl: u16,
    /// Whether this endpoint forwards messages between its peers.
    pub forward: bool,
    /// Plaintext peerings instead of TLS.
    pub disable_ssl: bool,
    /// Speak Broker's native protocol with every peer, broker-rs endpoints included,
    /// instead of selecting broker-rs's own encoding inside Broker's handshake when
    /// both ends are broker-rs (for benchmarks and tests of the native link).
    pub native_only: bool,
    /// Certificates for TLS.
    pub tls: TlsConfig,
    /// Largest frame accepted from a peer, in bytes.
    pub max_frame_len: usize,
    /// Default subscriber queue capacity, and the floor of any requested capacity.
    pub subscriber_queue: usize,
    /// Messages buffered per peer before backpressure (or the slow-peer policy) applies.
    pub peer_buffer: usize,
    /// Handling of peers that stop reading.
    pub slow_peer: SlowPeerPolicy,
    /// How long a new connection may take to complete its handshake.
    pub handshake_timeout: Duration,
    /// Interval of liveness probes; a peer silent for three intervals is lost. Zero
    /// sends none and loses no peer for silence, as Broker (which has no probes): a dead
    /// peer is then noticed only when TCP notices, and an idle peering costs nothing
    /// (each probe and answer costs the prober ~30-65 µs of CPU: ~1 % of a core for
    /// 1,000 idle TLS peerings at the default 5 s).
    pub keepalive: Duration,
    /// Capacity of each status subscriber's queue; newer events are shed beyond it
    /// (counted, then reported by an error event once there is room).
    pub status_queue: usize,
    /// Capacity of each publisher's buffer, in messages.
    pub publisher_buffer: usize,
    /// Serve WebSocket clients from the start on this port (Broker's
    /// `broker.web-socket.port`), as `Endpoint::web_socket_listen` would.
    pub web_socket_port: Option<u16>,
    /// The address to serve them on (`""` = all interfaces; Broker's
    /// `broker.web-socket.address`).
    pub web_socket_address: String,
    /// Messages buffered per WebSocket client before `web_socket_overflow` applies
    /// (Broker's `broker.web-socket-buffer-size`).
    pub web_socket_buffer: usize,
    /// Handling of WebSocket clients that stop reading. Broker's default, `disconnect`,
    /// drops the client as soon as its buffer is full (`Disconnect` after zero); see
    /// [`SlowPeerPolicy::from_broker_name`] for the others.
    pub web_socket_overflow: SlowPeerPolicy,
    /// Port serving the endpoint's metrics to Prometheus (`GET /metrics`); `None` (the
    /// default) serves none, `Some(0)` any free port (see `Endpoint::metrics_port`).
    /// Broker's `broker.metrics.port`; [`Config::with_env`] reads `BROKER_METRICS_PORT`.
    pub metrics_port: Option<u16>,
    /// Address the metrics port binds to; empty (the default) for all interfaces, as
    /// Broker's `broker.metrics.address`.
    pub metrics_address: String,
}

/// The environment variable naming the metrics port, as in Broker.
pub const METRICS_PORT_ENV: &str = "BROKER_METRICS_PORT";

/// A configuration value from the environment that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {variable}: {value:?} ({expected})")]
pub struct EnvError {
    /// The variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What it should be.
    pub expected: &'static str,
}

impl Config {
    /// This configuration with what Broker reads from the environment applied over it:
    /// `BROKER_METRICS_PORT` (a non-zero port number) sets [`Config::metrics_port`].
    pub fn with_env(mut self) -> Result<Config, EnvError> {
        if let Ok(value) = std::env::var(METRICS_PORT_ENV) {
            match value.trim().parse::<u16>() {
                Ok(port) if port != 0 => self.metrics_port = Some(port),
                _ => {
                    return Err(EnvError {
                        variable: METRICS_PORT_ENV,
                        value,
                        expected: "a non-zero port number",
                    })
                }
            }
        }
        Ok(self)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ttl: 20,
            forward: true,
            disable_ssl: false,
            native_only: false,
            tls: TlsConfig::default(),
            max_frame_len: 16 << 20,
            subscriber_queue: 1024,
            peer_buffer: 8192,
            slow_peer: SlowPeerPolicy::Block,
            handshake_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(5),
            status_queue: 1024,
            publisher_buffer: 1024,
            web_socket_port: None,
            web_socket_address: String::new(),
            web_socket_buffer: 512,
            web_socket_overflow: SlowPeerPolicy::Disconnect {
                after: Duration::ZERO,
            },
            metrics_port: None,
            metrics_address: String::new(),
        }
    }
}
