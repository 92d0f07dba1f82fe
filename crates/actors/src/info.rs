//! Descriptions of endpoints and peerings, as `peers()` and statuses report them.

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

/// The life-cycle stage of a peering (Broker's `peer_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PeerStatus {
    /// Known but nothing attempted yet.
    Initialized = 0,
    /// Connection attempt in progress.
    Connecting = 1,
    /// Connected, handshake in progress.
    Connected = 2,
    /// Handshake done: data flows.
    Peered = 3,
    /// Connection lost.
    Disconnected = 4,
    /// Lost and trying again.
    Reconnecting = 5,
}

bitflags::bitflags! {
    /// Properties of a peering (Broker's `peer_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PeerFlags: u8 {
        /// The peer lives in this process (unused by network peerings).
        const LOCAL = 1;
        /// The peer is reached over the network.
        const REMOTE = 2;
        /// This endpoint initiated the connection.
        const OUTBOUND = 4;
        /// The other endpoint initiated the connection.
        const INBOUND = 8;
    }
}

impl PeerFlags {
    /// Broker's `Invalid` flag value: no flag set.
    pub const INVALID: PeerFlags = PeerFlags::empty();
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
/// connection attempt: all zeros.
pub const UNKNOWN_NODE: NodeId = NodeId {
    id: [0; 20],
    pid: 0,
};
