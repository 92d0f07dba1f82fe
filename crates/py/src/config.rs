//! Module-level odds and ends: `BrokerOptions`, `Configuration`, `Version`, `now()`.

use std::time::Duration;

use broker_actors::{Config, SlowPeerPolicy};
use broker_wire::frame::PROTOCOL_VERSION;
use pyo3::prelude::*;

use crate::values::Timestamp;

/// `broker.BrokerOptions`: options of an endpoint, with Broker's defaults. Forwarding
/// has two names: 1.4's `forward` and today's `disable_forwarding`, its negation; both
/// read and write the one setting.
#[pyclass(module = "broker")]
#[derive(Clone)]
pub struct BrokerOptions {
    /// Whether to peer in plaintext instead of TLS.
    #[pyo3(get, set)]
    pub disable_ssl: bool,
    /// Hops a published message may travel.
    #[pyo3(get, set)]
    pub ttl: u16,
    /// Whether to forward messages between peers.
    #[pyo3(get, set)]
    pub forward: bool,
    /// Accepted for compatibility; there is no `broker.conf` to read.
    #[pyo3(get, set)]
    pub ignore_broker_conf: bool,
    /// Accepted for compatibility; the clock is always the real one.
    #[pyo3(get, set)]
    pub use_real_time: bool,
    /// Serve WebSocket clients from the start on this port (Broker's
    /// `broker.web-socket.port`); `None`: only `Endpoint.web_socket_listen` does.
    #[pyo3(get, set)]
    pub web_socket_port: Option<u16>,
    /// The address to serve them on (`""` = all interfaces).
    #[pyo3(get, set)]
    pub web_socket_address: String,
    /// Messages buffered per WebSocket client before the overflow policy applies
    /// (Broker's `broker.web-socket-buffer-size`).
    #[pyo3(get, set)]
    pub web_socket_buffer_size: usize,
    /// What happens to a WebSocket client whose buffer is full: `"disconnect"`
    /// (Broker's default), `"drop_newest"` or `"drop_oldest"` (Broker's
    /// `web-socket-overflow-policy`).
    #[pyo3(get)]
    pub web_socket_overflow_policy: String,
    /// Seconds between liveness probes of a silent peer, which is lost after three
    /// (ours; Broker has no probes). 0 sends none: idle peerings cost nothing, and a
    /// dead peer is noticed only when TCP notices.
    #[pyo3(get)]
    pub keepalive_interval: f64,
}

#[pymethods]
impl BrokerOptions {
    #[new]
    fn new() -> Self {
        BrokerOptions {
            disable_ssl: false,
            ttl: 20,
            forward: true,
            ignore_broker_conf: false,
            use_real_time: true,
            web_socket_port: None,
            web_socket_address: String::new(),
            web_socket_buffer_size: 512,
            web_socket_overflow_policy: "disconnect".to_owned(),
            keepalive_interval: Config::default().keepalive.as_secs_f64(),
        }
    }

    #[setter]
    fn set_keepalive_interval(&mut self, seconds: f64) -> PyResult<()> {
        if Duration::try_from_secs_f64(seconds).is_err() {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "keepalive_interval must be a number of seconds >= 0, not {seconds}"
            )));
        }
        self.keepalive_interval = seconds;
        Ok(())
    }

    #[setter]
    fn set_web_socket_overflow_policy(&mut self, policy: String) -> PyResult<()> {
        if SlowPeerPolicy::from_broker_name(&policy).is_none() {
            let names = SlowPeerPolicy::BROKER_NAMES;
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "web_socket_overflow_policy must be one of {names:?}, not {policy:?}"
            )));
        }
        self.web_socket_overflow_policy = policy;
        Ok(())
    }

    /// Whether this endpoint does not forward messages between its peers (today's
    /// name; `not forward`).
    #[getter]
    fn get_disable_forwarding(&self) -> bool {
        !self.forward
    }

    #[setter]
    fn set_disable_forwarding(&mut self, disable: bool) {
        self.forward = !disable;
    }
}

/// `broker.Configuration`: options plus the TLS files of an endpoint.
#[pyclass(module = "broker", get_all, set_all)]
pub struct Configuration {
    /// The endpoint options; shared, so that `cfg.options.ttl = 5` changes `cfg`.
    pub options: Py<BrokerOptions>,
    /// File of trusted CA certificates (PEM); empty for none.
    pub openssl_cafile: String,
    /// Directory of trusted CA certificates; empty for none.
    pub openssl_capath: String,
    /// This endpoint's certificate (PEM); empty for none.
    pub openssl_certificate: String,
    /// This endpoint's private key (PEM); empty for none.
    pub openssl_key: String,
    /// Passphrase of an encrypted key; empty for none.
    pub openssl_passphrase: String,
    /// Accepted for compatibility; the runtime sizes itself.
    pub max_threads: u32,
    /// Port serving the endpoint's metrics to Prometheus (`GET /metrics`); `None` (the
    /// default) for none, 0 for any free port (`Endpoint.metrics_port()` tells which).
    /// Broker's `broker.metrics.port`; `BROKER_METRICS_PORT` overrides it, as in Broker.
    pub metrics_port: Option<u16>,
    /// Address the metrics port binds to; empty (the default) for all interfaces.
    pub metrics_address: String,
}

#[pymethods]
impl Configuration {
    #[new]
    #[pyo3(signature = (opts = None))]
    fn new(py: Python<'_>, opts: Option<BrokerOptions>) -> PyResult<Self> {
        Ok(Configuration {
            options: Py::new(py, opts.unwrap_or_else(BrokerOptions::new))?,
            openssl_cafile: String::new(),
            openssl_capath: String::new(),
            openssl_certificate: String::new(),
            openssl_key: String::new(),
            openssl_passphrase: String::new(),
            max_threads: 0,
            metrics_port: None,
            metrics_address: String::new(),
        })
    }
}

/// `broker.Version`: the version of the Broker API this package implements.
#[pyclass(module = "broker", frozen)]
pub struct Version;

#[pymethods]
impl Version {
    /// Major version of the Broker API implemented.
    #[classattr]
    const MAJOR: u32 = 1;
    /// Minor version.
    #[classattr]
    const MINOR: u32 = 4;
    /// Patch level.
    #[classattr]
    const PATCH: u32 = 0;
    /// Version of the wire protocol.
    #[classattr]
    const PROTOCOL: u32 = PROTOCOL_VERSION;

    /// `"MAJOR.MINOR.PATCH"`.
    #[staticmethod]
    fn string() -> String {
        format!("{}.{}.{}", Self::MAJOR, Self::MINOR, Self::PATCH)
    }

    /// Whether peers speaking protocol versions `a` and `b` (default: ours) can peer.
    #[staticmethod]
    #[pyo3(signature = (a, b = PROTOCOL_VERSION))]
    fn compatible(a: u32, b: u32) -> bool {
        a == b
    }
}

/// The current time, a `broker.Timestamp`.
#[pyfunction]
pub fn now() -> Timestamp {
    Timestamp(broker_wire::Timestamp::now())
}
