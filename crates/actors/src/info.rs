//! Descriptions of endpoints and peerings, as `peers()` and statuses report them.

pub use broker_wire::codes::{PeerFlags, PeerStatus};
use broker_wire::frame::NodeId;
use broker_wire::native::EndpointId;

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
/// connection attempt: all zeros.
pub const UNKNOWN_NODE: NodeId = NodeId {
    id: [0; 20],
    pid: 0,
};

/// A random node id: 20 bytes from the OS (the first 16 a v4 UUID), falling back to
/// hashed time and address.
pub(crate) fn fresh_node_id() -> NodeId {
    let mut id = [0u8; 20];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut id));
    if from_os.is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in id.chunks_mut(8) {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
            );
            let bytes = hasher.finish().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
    // The first 16 bytes are the endpoint's UUID on Broker's native wire.
    let uuid = EndpointId::from_random(id[..16].try_into().expect("16 of 20 bytes"));
    id[..16].copy_from_slice(&uuid.0);
    NodeId {
        id,
        pid: std::process::id(),
    }
}
