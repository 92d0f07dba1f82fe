//! Identities on the native wire: [`EndpointId`], a 16-byte UUID, and [`EntityId`],
//! an endpoint plus a local object number (the publisher of a store command).

use std::fmt;
use std::str::FromStr;

use crate::frame::NodeId;

/// An endpoint's identity on Broker's native wire: a UUID (v4 when random), 16 bytes
/// in RFC byte order. Ordered bytewise, as Broker's tie-break compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EndpointId(pub [u8; 16]);

impl EndpointId {
    /// The nil id: "no endpoint", e.g. the receiver of a broadcast.
    pub const NIL: EndpointId = EndpointId([0; 16]);

    /// A version-4 UUID made of `random` bytes (version and variant bits overwritten).
    pub fn from_random(mut random: [u8; 16]) -> Self {
        random[6] = (random[6] & 0x0f) | 0x40;
        random[8] = (random[8] & 0x3f) | 0x80;
        EndpointId(random)
    }

    /// Whether this is the nil id.
    pub fn is_nil(&self) -> bool {
        *self == Self::NIL
    }
}

/// Bridges the 20-byte [`NodeId`] to the native wire: a broker-rs endpoint's node id
/// opens with its UUID (a v4 UUID made of its first 16 random bytes), so these 16
/// bytes are its [`EndpointId`] exactly.
impl From<&NodeId> for EndpointId {
    fn from(node: &NodeId) -> Self {
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&node.id[..16]);
        EndpointId(bytes)
    }
}

/// A Broker peer's node id: its UUID, four zero bytes, pid 0 (Broker has none on the
/// wire). `EndpointId::from(&NodeId::from(id)) == id`.
impl From<EndpointId> for NodeId {
    fn from(id: EndpointId) -> Self {
        let mut bytes = [0; 20];
        bytes[..16].copy_from_slice(&id.0);
        NodeId { id: bytes, pid: 0 }
    }
}

impl From<[u8; 16]> for EndpointId {
    fn from(bytes: [u8; 16]) -> Self {
        EndpointId(bytes)
    }
}

impl From<EndpointId> for [u8; 16] {
    fn from(id: EndpointId) -> Self {
        id.0
    }
}

/// Broker's text form: `8-4-4-4-12` lowercase hex digits.
impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Text that is not a UUID in `8-4-4-4-12` form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a UUID: {0:?}")]
pub struct InvalidEndpointId(pub String);

impl FromStr for EndpointId {
    type Err = InvalidEndpointId;

    fn from_str(text: &str) -> Result<Self, InvalidEndpointId> {
        let invalid = || InvalidEndpointId(text.to_owned());
        let dashes_at = [8, 13, 18, 23];
        let well_formed = text.len() == 36
            && text.char_indices().all(|(i, c)| {
                if dashes_at.contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !well_formed {
            return Err(invalid());
        }
        let digits: Vec<u8> = text.bytes().filter(|&c| c != b'-').collect();
        let mut bytes = [0; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| invalid())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(EndpointId(bytes))
    }
}

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
