//! The frames two endpoints exchange over one connection.
//!
//! See `docs/wire.md` for the layout of every frame and the version rules.

use serde::{Deserialize, Serialize};

use crate::data::Data;
use crate::topic::Topic;

/// Magic number opening every handshake: `BRKR`.
pub const MAGIC: [u8; 4] = *b"BRKR";

/// Version of this protocol. Peers with different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = 1;

/// The identity of an endpoint: random bytes chosen at creation plus the process id,
/// printed as Broker 1.4 does (`40 hex digits#pid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId {
    /// Random bytes unique to the endpoint.
    pub id: [u8; 20],
    /// The id of the process hosting the endpoint.
    pub pid: u32,
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.id {
            write!(f, "{b:02X}")?;
        }
        write!(f, "#{}", self.pid)
    }
}

/// The first frame each side sends on a new connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The sender's identity.
    pub node: NodeId,
    /// The sender's subscription filter.
    pub filter: Vec<Topic>,
}

/// One published message as it travels between endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataMessage {
    /// The endpoint that published the message.
    pub origin: NodeId,
    /// Sequence number of the message at its origin; `(origin, id)` is unique.
    pub id: u64,
    /// Hops the message may still travel.
    pub ttl: u16,
    /// The topic it was published under.
    pub topic: Topic,
    /// The payload.
    pub data: Data,
}

/// Everything that travels on a connection after the length prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// Handshake; always the first frame, in both directions.
    Hello(Hello),
    /// The sender's new subscription filter, replacing the previous one.
    Filter(Vec<Topic>),
    /// A batch of published messages, in publish order.
    Batch(Vec<DataMessage>),
    /// Liveness probe; the receiver answers with `Pong` of the same nonce.
    Ping(u64),
    /// Answer to `Ping`.
    Pong(u64),
    /// Orderly close: the sender will send nothing more.
    Goodbye,
}
