//! Identities on the native wire: [`EndpointId`], a 16-byte UUID, and [`EntityId`], an
//! endpoint plus a local object number (the publisher of a store command).

/// An endpoint's identity on Broker's native wire: the endpoint's
/// [`NodeId`](crate::frame::NodeId) itself, a UUID in RFC byte order, so a Broker
/// peer's id is exactly the id broker-rs shows for it.
pub use crate::frame::NodeId as EndpointId;

/// Broker's `entity_id`: an object (a store frontend, 0 for the endpoint itself) on an
/// endpoint. On the wire: the 16-byte endpoint, then the object as a big-endian u64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EntityId {
    /// The endpoint hosting the object; nil for "no entity".
    pub endpoint: EndpointId,
    /// The object's number on that endpoint.
    pub object: u64,
}

impl EntityId {
    /// "No entity": nil endpoint, object 0.
    pub const NIL: EntityId = EntityId {
        endpoint: EndpointId::NIL,
        object: 0,
    };
}
