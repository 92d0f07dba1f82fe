//! Descriptions of peers and the statuses/errors status subscribers yield:
//! `NetworkInfo`, `OptionalNetworkInfo`, `EndpointInfo`, `PeerInfo`, `Status`, `Error`.

use broker_actors::{
    EndpointInfo as RustEndpointInfo, ErrorStatus, NetworkInfo as RustNetworkInfo,
};
use broker_actors::{PeerInfo as RustPeerInfo, Status as RustStatus, StatusEvent};
use broker_wire::frame::NodeId;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::enums::{EC, PEER_FLAGS, PEER_STATUS, SC};

/// `broker.NetworkInfo`: where a peer was reached.
#[pyclass(module = "broker", frozen, get_all, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NetworkInfo {
    /// The address.
    pub address: String,
    /// The port.
    pub port: u16,
}

#[pymethods]
impl NetworkInfo {
    #[new]
    fn new(address: String, port: u16) -> Self {
        NetworkInfo { address, port }
    }

    fn __str__(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    fn __repr__(&self) -> String {
        format!("NetworkInfo({:?}, {})", self.address, self.port)
    }
}

/// `EndpointInfo.network`: a `NetworkInfo` that may be absent (Broker 1.4's optional).
#[pyclass(module = "broker", frozen)]
#[derive(Clone)]
pub struct OptionalNetworkInfo(Option<NetworkInfo>);

#[pymethods]
impl OptionalNetworkInfo {
    /// Whether there is a network location.
    fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The network location; `ValueError` if there is none.
    fn get(&self) -> PyResult<NetworkInfo> {
        self.0
            .clone()
            .ok_or_else(|| PyValueError::new_err("no network information"))
    }

    fn __bool__(&self) -> bool {
        self.0.is_some()
    }

    fn __str__(&self) -> String {
        match &self.0 {
            Some(info) => format!("*{}", info.__str__()),
            None => "null".to_owned(),
        }
    }
}

/// Broker 1.4's text for a node that is not known (yet).
fn node_text(node: &NodeId) -> String {
    if node.is_nil() {
        "invalid-node".to_owned()
    } else {
        node.to_string()
    }
}

/// `broker.EndpointInfo`: an endpoint's identity and network location.
#[pyclass(module = "broker", frozen)]
#[derive(Clone)]
pub struct EndpointInfo {
    /// The endpoint's node id, as `Endpoint.node_id()` prints it.
    #[pyo3(get)]
    pub id: String,
    /// Where it was reached.
    #[pyo3(get)]
    pub network: OptionalNetworkInfo,
    /// `"native"` (a peer, or reached through peers) or `"web-socket"`: Broker's
    /// `endpoint_info::type`.
    #[pyo3(get, name = "type")]
    pub link: &'static str,
}

impl From<&RustEndpointInfo> for EndpointInfo {
    fn from(info: &RustEndpointInfo) -> Self {
        let network = info
            .network
            .as_ref()
            .map(|n: &RustNetworkInfo| NetworkInfo {
                address: n.address.clone(),
                port: n.port,
            });
        EndpointInfo {
            id: node_text(&info.node),
            network: OptionalNetworkInfo(network),
            link: info.link.as_str(),
        }
    }
}

#[pymethods]
impl EndpointInfo {
    /// The node id: a method in both Brokers, where `id` is ours.
    fn node_id(&self) -> &str {
        &self.id
    }

    fn __str__(&self) -> String {
        format!("{}, {}", self.id, self.network.__str__())
    }
}

/// `broker.PeerInfo`: one peering as `Endpoint.peers()` reports it.
#[pyclass(module = "broker", frozen, get_all)]
pub struct PeerInfo {
    /// The peer.
    pub peer: EndpointInfo,
    /// A `PeerFlags`.
    pub flags: Py<PyAny>,
    /// A `PeerStatus`.
    pub status: Py<PyAny>,
}

impl PeerInfo {
    /// Converts a peering description.
    pub fn new(py: Python<'_>, info: &RustPeerInfo) -> PyResult<Self> {
        Ok(PeerInfo {
            peer: EndpointInfo::from(&info.peer),
            flags: PEER_FLAGS.member(py, info.flags.bits())?.unbind(),
            status: PEER_STATUS.member(py, info.status.code())?.unbind(),
        })
    }
}

#[pymethods]
impl PeerInfo {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PeerInfo({}, {}, {})",
            self.peer.__str__(),
            self.flags.bind(py).str()?,
            self.status.bind(py).str()?
        ))
    }
}

/// `broker.Status`: an informational status.
#[pyclass(module = "broker", frozen)]
pub struct Status(RustStatus);

#[pymethods]
impl Status {
    /// The status code, an `SC`.
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        SC.member(py, self.0.code.code())
    }

    /// The endpoint concerned, if any.
    fn context(&self) -> Option<EndpointInfo> {
        self.0.context.as_ref().map(EndpointInfo::from)
    }

    /// Human-readable text.
    fn message(&self) -> &str {
        &self.0.message
    }

    fn __str__(&self) -> String {
        // Broker 1.4 prints the code's C++ name.
        let name = self.0.code.name();
        match &self.0.context {
            Some(info) => {
                // As both Brokers print it; without a network, as Broker 2.8 does.
                let network = info
                    .network
                    .as_ref()
                    .map(|n| format!("{}:{}, ", n.address, n.port))
                    .unwrap_or_default();
                format!(
                    "{name}({}, {network}{:?})",
                    node_text(&info.node),
                    self.0.message
                )
            }
            None => format!("{name}({:?})", self.0.message),
        }
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}

/// `broker.Error`: an error status.
#[pyclass(module = "broker", frozen)]
pub struct Error(ErrorStatus);

#[pymethods]
impl Error {
    /// The error code, an `EC`.
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        EC.member(py, self.0.code.code())
    }

    /// The endpoint concerned, if any.
    fn context(&self) -> Option<EndpointInfo> {
        self.0.context.as_ref().map(EndpointInfo::from)
    }

    /// Human-readable text.
    fn message(&self) -> &str {
        &self.0.message
    }

    fn __str__(&self) -> String {
        let code = self.0.code.code();
        match &self.0.context {
            Some(info) => {
                let info = EndpointInfo::from(info);
                let network = info.network.__str__();
                format!(
                    "error({code}, 'broker', ({}, {network}, {:?}))",
                    info.id, self.0.message
                )
            }
            None => format!("error({code}, 'broker', ({:?}))", self.0.message),
        }
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}

/// A received status event as a Python `Status` or `Error`.
pub fn event_to_py(py: Python<'_>, event: StatusEvent) -> PyResult<Bound<'_, PyAny>> {
    match event {
        StatusEvent::Status(status) => Ok(Bound::new(py, Status(status))?.into_any()),
        StatusEvent::Error(error) => Ok(Bound::new(py, Error(error))?.into_any()),
    }
}
