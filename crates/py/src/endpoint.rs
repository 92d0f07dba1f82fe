//! `broker.Endpoint`: peering, publishing, and the factories of subscribers and
//! publishers. Blocking calls run without the GIL and give way to Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use broker_actors::{Config, Endpoint, ErrorCode, SlowPeerPolicy, TlsConfig};
use broker_wire::frame::{InvalidNodeId, NodeId};
use broker_wire::Topic;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::config::Configuration;
use crate::convert::to_payload;
use crate::error::broker_error;
use crate::publisher::PyPublisher;
use crate::status::PeerInfo;
use crate::subscriber::{PyStatusSubscriber, PySubscriber};
use crate::topic::{topic_from, topics_from, PyTopic};
use crate::wait::{drive, duration_from};

/// How long `await_peer` waits without a timeout: Broker's `await_peer_timeout`.
const AWAIT_PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoint configuration a Python `Configuration` describes.
fn config_from(py: Python<'_>, cfg: &Configuration) -> Config {
    let options = cfg.options.borrow(py);
    let path = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
    let tls = TlsConfig {
        cafile: path(&cfg.openssl_cafile),
        capath: path(&cfg.openssl_capath),
        certificate: path(&cfg.openssl_certificate),
        key: path(&cfg.openssl_key),
        passphrase: (!cfg.openssl_passphrase.is_empty()).then(|| cfg.openssl_passphrase.clone()),
    };
    // The setter admits only Broker's names.
    let web_socket_overflow = SlowPeerPolicy::from_broker_name(&options.web_socket_overflow_policy)
        .unwrap_or(Config::default().web_socket_overflow);
    Config {
        ttl: options.ttl,
        forward: options.forward,
        disable_ssl: options.disable_ssl,
        tls,
        web_socket_port: options.web_socket_port,
        web_socket_address: options.web_socket_address.clone(),
        web_socket_buffer: options.web_socket_buffer_size,
        web_socket_overflow,
        metrics_port: cfg.metrics_port,
        metrics_address: cfg.metrics_address.clone(),
        // The setter admits only durations.
        keepalive: Duration::try_from_secs_f64(options.keepalive_interval)
            .unwrap_or(Config::default().keepalive),
        ..Config::default()
    }
}

/// Broker 1.4's `retry` in seconds: zero or less means no retry.
fn retry_from(retry: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    let retry = duration_from(retry)?;
    Ok((!retry.is_zero()).then_some(retry))
}

/// `broker.Endpoint(cfg=None)`.
#[pyclass(name = "Endpoint", module = "broker", frozen, subclass)]
pub struct PyEndpoint {
    inner: Endpoint,
}

impl PyEndpoint {
    /// The Rust endpoint.
    pub fn inner(&self) -> &Endpoint {
        &self.inner
    }
}

impl Drop for PyEndpoint {
    /// An endpoint dropped without `shutdown()` still flushes and closes its peerings
    /// (bounded), but without the GIL: other Python threads, perhaps the very ones
    /// draining a peer's subscriber, go on meanwhile.
    fn drop(&mut self) {
        Python::attach(|py| py.detach(|| self.inner.shutdown()));
    }
}

#[pymethods]
impl PyEndpoint {
    #[new]
    #[pyo3(signature = (cfg = None))]
    fn new(py: Python<'_>, cfg: Option<PyRef<'_, Configuration>>) -> PyResult<Self> {
        let config = cfg
            .map_or_else(Config::default, |cfg| config_from(py, &cfg))
            .with_env()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let inner = py
            .detach(|| Endpoint::new(config))
            .map_err(|e| broker_error(ErrorCode::Unspecified, e.to_string()))?;
        Ok(PyEndpoint { inner })
    }

    /// The endpoint's unique id.
    fn node_id(&self) -> String {
        self.inner.node_id().to_string()
    }

    /// Listens for peers; returns the bound port (OS-chosen for 0), or 0 on failure.
    #[pyo3(signature = (address = String::new(), port = 0))]
    fn listen(&self, py: Python<'_>, address: String, port: u16) -> PyResult<u16> {
        let bound = drive(py, self.inner.listen_async(&address, port))?;
        Ok(bound.unwrap_or(0))
    }

    /// Listens for WebSocket clients (Zeek's JSON API on `/v1/messages/json`), with TLS
    /// unless `disable_ssl`; returns the bound port (OS-chosen for 0), or 0 on failure.
    #[pyo3(signature = (address = String::new(), port = 0))]
    fn web_socket_listen(&self, py: Python<'_>, address: String, port: u16) -> PyResult<u16> {
        let bound = drive(py, self.inner.web_socket_listen_async(&address, port))?;
        Ok(bound.unwrap_or(0))
    }

    /// Connects to a WebSocket server (`ws://` or `wss://` URL: Broker's or Zeek's),
    /// subscribing there to `topics` and sending it what is published here under a
    /// prefix of `send` (all by default); `True` once connected, `False` if the first
    /// attempt fails. With `retry` > 0 seconds (default 10), failed or lost
    /// connections are retried.
    #[pyo3(signature = (url, topics, send = None, retry = None))]
    fn web_socket_peer(
        &self,
        py: Python<'_>,
        url: String,
        topics: &Bound<'_, PyAny>,
        send: Option<&Bound<'_, PyAny>>,
        retry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let topics = topics_from(topics)?;
        let send = match send {
            Some(send) => topics_from(send)?,
            None => vec![Topic::from("")],
        };
        let retry = retry
            .map(retry_from)
            .transpose()?
            .unwrap_or(Some(Duration::from_secs(10)));
        let connecting = self.inner.web_socket_peer_async(&url, topics, send, retry);
        Ok(drive(py, connecting)?.is_ok())
    }

    /// Stops connecting to the WebSocket server at `url` and closes the connection;
    /// `True` if there was either.
    fn web_socket_unpeer(&self, py: Python<'_>, url: String) -> PyResult<bool> {
        drive(py, self.inner.web_socket_unpeer_async(&url))
    }

    /// Peers with a remote endpoint; `True` once peered, `False` if the first attempt
    /// fails. With `retry` > 0 seconds, failed or lost peerings are retried.
    #[pyo3(signature = (addr, port, retry = None))]
    fn peer(
        &self,
        py: Python<'_>,
        addr: String,
        port: u16,
        retry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let retry = retry
            .map(retry_from)
            .transpose()?
            .unwrap_or(Some(Duration::from_secs(10)));
        // Awaited here, GIL released, interruptible: no helper thread per call.
        let peering = self.inner.peer_async(&addr, port, retry);
        Ok(drive(py, peering)?.is_ok())
    }

    /// Like `peer`, without waiting.
    #[pyo3(signature = (addr, port, retry = None))]
    fn peer_nosync(
        &self,
        addr: String,
        port: u16,
        retry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let retry = retry
            .map(retry_from)
            .transpose()?
            .unwrap_or(Some(Duration::from_secs(10)));
        self.inner.peer_nosync(&addr, port, retry);
        Ok(())
    }

    /// Removes a peering; `True` if it existed.
    fn unpeer(&self, py: Python<'_>, address: String, port: u16) -> PyResult<bool> {
        drive(py, self.inner.unpeer_async(&address, port))
    }

    /// Like `unpeer`, without waiting.
    fn unpeer_nosync(&self, address: String, port: u16) {
        self.inner.unpeer_nosync(&address, port);
    }

    /// The current peerings, as `PeerInfo`s.
    fn peers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let peers = py.detach(|| self.inner.peers());
        let peers = peers
            .iter()
            .map(|p| PeerInfo::new(py, p))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, peers)
    }

    /// The union of the direct peers' subscriptions, as `Topic`s.
    fn peer_subscriptions(&self, py: Python<'_>) -> Vec<PyTopic> {
        py.detach(|| self.inner.peer_subscriptions())
            .into_iter()
            .map(PyTopic)
            .collect()
    }

    /// Waits until a direct peer's subscription matches `topic` (a message published on
    /// it now reaches that peer), at most `timeout` (seconds or a `timedelta`; `None`:
    /// no limit); whether one does. Interruptible with Ctrl-C.
    #[pyo3(signature = (topic, timeout = None))]
    fn await_peer_subscription(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let topic = topic_from(topic)?;
        let timeout = timeout.map(duration_from).transpose()?;
        let waiting = self
            .inner
            .await_peer_subscription_async(&topic, timeout.unwrap_or(Duration::MAX));
        drive(py, waiting)
    }

    /// Waits until the endpoint with id `node` (a `node_id()` string) is reachable, at
    /// most `timeout` (seconds or a `timedelta`; `None`: Broker's default of 10 s); whether
    /// it is. Interruptible with Ctrl-C.
    #[pyo3(signature = (node, timeout = None))]
    fn await_peer(
        &self,
        py: Python<'_>,
        node: &str,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let node: NodeId = node
            .parse()
            .map_err(|e: InvalidNodeId| PyValueError::new_err(e.to_string()))?;
        let timeout = timeout.map(duration_from).transpose()?;
        let waiting = self
            .inner
            .await_peer_async(&node, timeout.unwrap_or(AWAIT_PEER_TIMEOUT));
        drive(py, waiting)
    }

    /// Forwards the topics between peers without subscribing locally.
    fn forward(&self, py: Python<'_>, topics: &Bound<'_, PyAny>) -> PyResult<()> {
        let topics = topics_from(topics)?;
        py.detach(|| self.inner.forward(topics));
        Ok(())
    }

    /// Publishes a value (any convertible value, or `Data`) under a topic; under
    /// backpressure, waits (Ctrl-C interrupts).
    fn publish(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        // With room in the endpoint's buffer this is a queue push, GIL held throughout.
        let Err(message) = self
            .inner
            .try_publish(topic_from(topic)?, to_payload(data)?)
        else {
            return Ok(());
        };
        // The async path is the interruptible one: Ctrl-C drops it where it waits. It needs
        // no runtime here: the endpoint's thread does the publishing.
        drive(py, self.inner.publish_batch_async(vec![message]))
    }

    /// Publishes `(topic, value)` pairs in one go; waits like `publish`.
    #[pyo3(signature = (*batch))]
    fn publish_batch(&self, py: Python<'_>, batch: &Bound<'_, PyTuple>) -> PyResult<()> {
        let messages = batch
            .iter()
            .map(|pair| {
                let pair = pair.downcast_into::<PyTuple>().map_err(|_| {
                    PyTypeError::new_err("publish_batch takes (topic, value) tuples")
                })?;
                let (topic, data) = (pair.get_item(0)?, pair.get_item(1)?);
                Ok((topic_from(&topic)?, to_payload(&data)?))
            })
            .collect::<PyResult<Vec<(Topic, _)>>>()?;
        drive(py, self.inner.publish_batch_async(messages))
    }

    /// A subscriber to the topics (a `str`, a `Topic`, or an iterable of them).
    #[pyo3(signature = (topics, qsize = 20))]
    fn make_subscriber(&self, topics: &Bound<'_, PyAny>, qsize: usize) -> PyResult<PySubscriber> {
        PySubscriber::new(self, topics, qsize)
    }

    /// A subscriber to errors, and to statuses if `receive_statuses`.
    #[pyo3(signature = (receive_statuses = false))]
    fn make_status_subscriber(&self, receive_statuses: bool) -> PyResult<PyStatusSubscriber> {
        PyStatusSubscriber::new(self, receive_statuses)
    }

    /// A publisher to one topic.
    fn make_publisher(&self, topic: &Bound<'_, PyAny>) -> PyResult<PyPublisher> {
        PyPublisher::new(self, topic)
    }

    /// Every figure the metrics port serves, now, keyed by metric name: a number, or for
    /// a labelled metric a dict from label value to number (docs/operations.md).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let metrics = py.detach(|| self.inner.metrics());
        let all = PyDict::new(py);
        for family in metrics.families {
            if family.label.is_some() {
                let values = PyDict::new(py);
                for (label, value) in family.values {
                    values.set_item(label, value)?;
                }
                all.set_item(family.name, values)?;
            } else {
                let value = family.values.first().map_or(0, |(_, v)| *v);
                all.set_item(family.name, value)?;
            }
        }
        Ok(all)
    }

    /// The port serving the metrics, or None.
    fn metrics_port(&self) -> Option<u16> {
        self.inner.metrics_port()
    }

    /// Flushes, closes peerings, releases sockets. Idempotent. Interrupted (Ctrl-C),
    /// the shutdown goes on, on the endpoint's thread.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        drive(py, self.inner.shutdown_async())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.shutdown(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        self.node_id()
    }
}
