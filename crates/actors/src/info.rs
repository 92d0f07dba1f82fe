//! Descriptions of endpoints and peerings, as `peers()` and statuses report them.

pub use broker_wire::codes::{PeerFlags, PeerStatus};
use broker_wire::frame::NodeId;

/// Where an endpoint was reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkInfo {
    /// Address as given to `peer`, or the remote address of an inbound connection.
    pub address: String,
    /// Port as given to `peer`, or the remote port of an inbound connection.
    pub port: u16,
}

/// An endpoint: its identity and, if known, where it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointInfo {
    /// The endpoint's identity.
    pub node: NodeId,
    /// Its network location, when the endpoint is a peer reached over the network.
    pub network: Option<NetworkInfo>,
}

/// One peering as `Endpoint::peers` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer.
    pub peer: EndpointInfo,
    /// Its flags. Broker 1.4 reports `Remote | Outbound | Inbound` on both sides.
    pub flags: PeerFlags,
    /// Its stage.
    pub status: PeerStatus,
}

/// The node of an endpoint not (yet) known, e.g. in the context of a failed
/// connection attempt: the nil UUID.
pub const UNKNOWN_NODE: NodeId = NodeId::NIL;
