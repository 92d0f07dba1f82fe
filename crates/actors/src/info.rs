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

/// How an endpoint is connected to this one, as Broker's `endpoint_info::type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// A peering (Broker's native protocol, whatever encoding it selected), or an
    /// endpoint reached through peerings.
    Native,
    /// A client or server of Zeek's WebSocket API.
    WebSocket,
}

impl LinkType {
    /// Broker's name: `native` or `web-socket`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkType::Native => "native",
            LinkType::WebSocket => "web-socket",
        }
    }
}

/// An endpoint: its identity, how it is connected and, if known, where it was reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointInfo {
    /// The endpoint's identity.
    pub node: NodeId,
    /// Its network location, when the endpoint is a peer reached over the network.
    pub network: Option<NetworkInfo>,
    /// Whether it is a peer (or reached through peers) or a WebSocket link.
    pub link: LinkType,
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
