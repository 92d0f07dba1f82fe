//! The frames two endpoints exchange over one connection.
//!
//! A frame body is the postcard encoding of [`Frame`]: the variant index (see
//! [`tag`]) as a varint, then the variant's fields in declaration order. Integers
//! other than `u8` are varints (signed ones zigzagged), fixed-size arrays are raw
//! bytes, strings and sequences are a varint length followed by the items.
//! See `docs/wire.md` for the layout of every frame and the version rules.

use serde::{Deserialize, Serialize};

use crate::data::{deserialize_bytes, serialize_bytes, Data};
use crate::error::WireError;
use crate::limits::budgeted_vec;
use crate::topic::Topic;

/// Magic number opening every handshake: `BRKR`.
pub const MAGIC: [u8; 4] = *b"BRKR";

/// Version of this protocol. Peers with different versions refuse each other.
pub const PROTOCOL_VERSION: u32 = 3;

/// The variant index of each [`Frame`] on the wire: the first byte of every frame
/// body. [`HELLO`](tag::HELLO) is 0 forever; the others are fixed per
/// [`PROTOCOL_VERSION`].
pub mod tag {
    /// [`Frame::Hello`](super::Frame::Hello); frozen across all versions.
    pub const HELLO: u8 = 0;
    /// [`Frame::Filter`](super::Frame::Filter).
    pub const FILTER: u8 = 1;
    /// [`Frame::Batch`](super::Frame::Batch).
    pub const BATCH: u8 = 2;
    /// [`Frame::Ping`](super::Frame::Ping).
    pub const PING: u8 = 3;
    /// [`Frame::Pong`](super::Frame::Pong).
    pub const PONG: u8 = 4;
    /// [`Frame::Goodbye`](super::Frame::Goodbye).
    pub const GOODBYE: u8 = 5;
    /// [`Frame::Store`](super::Frame::Store).
    pub const STORE: u8 = 6;
    /// [`Frame::Reach`](super::Frame::Reach); since version 3.
    pub const REACH: u8 = 7;
}

/// The identity of an endpoint, Broker's `endpoint_id`: a UUID (a random v4 one for
/// broker-rs endpoints), 16 bytes in RFC byte order, printed and parsed as Broker 2.x
/// does (`8-4-4-4-12` lowercase hex digits). The same id travels on Broker's native wire
/// (there named [`EndpointId`](crate::native::EndpointId)), so a Broker peer's id is
/// exactly its UUID. Ordered bytewise, as Broker's tie-break compares them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct NodeId(pub [u8; 16]);

impl NodeId {
    /// The nil id: "no endpoint", e.g. the receiver of a broadcast or the peer of a
    /// connection attempt that never reached a handshake.
    pub const NIL: NodeId = NodeId([0; 16]);

    /// A fresh random (version 4) id.
    pub fn random() -> Self {
        NodeId(uuid::Uuid::new_v4().into_bytes())
    }

    /// The version 4 id made of `random` bytes (version and variant bits overwritten).
    pub fn from_random(random: [u8; 16]) -> Self {
        NodeId(
            uuid::Builder::from_random_bytes(random)
                .into_uuid()
                .into_bytes(),
        )
    }

    /// Whether this is the nil id.
    pub fn is_nil(&self) -> bool {
        *self == Self::NIL
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&uuid::Uuid::from_bytes(self.0).hyphenated(), f)
    }
}

/// Text that is no endpoint id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint id {0:?}: expected a UUID as 8-4-4-4-12 hex digits")]
pub struct InvalidNodeId(pub String);

impl std::str::FromStr for NodeId {
    type Err = InvalidNodeId;

    /// Parses what `Display` prints (hex digits in either case); no other UUID form.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hyphenated = text.len() == uuid::fmt::Hyphenated::LENGTH;
        match uuid::Uuid::try_parse(text) {
            Ok(id) if hyphenated => Ok(NodeId(id.into_bytes())),
            _ => Err(InvalidNodeId(text.to_owned())),
        }
    }
}

/// The first frame each side sends on a new connection.
///
/// Layout: `00 | "BRKR" | version: varint u32 | node: 16 bytes |
/// filter: varint count, then each topic as varint length + bytes`. The tag, the
/// magic and the version come first and keep this layout in every protocol version,
/// so [`peek_hello_version`] recognises any peer's handshake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`MAGIC`].
    pub magic: [u8; 4],
    /// The sender's [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The sender's identity.
    pub node: NodeId,
    /// The sender's subscription filter.
    #[serde(deserialize_with = "budgeted_vec")]
    pub filter: Vec<Topic>,
}

impl Hello {
    /// The handshake of this protocol version for `node` subscribed to `filter`.
    pub fn new(node: NodeId, filter: Vec<Topic>) -> Self {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            node,
            filter,
        }
    }
}

/// Reads the protocol version from a frame body that should hold a [`Hello`],
/// relying only on the part of its layout frozen across versions (tag, magic,
/// version). Fails with [`WireError::Incompatible`] if the body is not a handshake.
pub fn peek_hello_version(body: &[u8]) -> Result<u32, WireError> {
    let incompatible = |what: &str| WireError::Incompatible(format!("first frame {what}"));
    match body.split_first() {
        Some((&tag::HELLO, rest)) if rest.starts_with(&MAGIC) => {
            let (version, _) = postcard::take_from_bytes::<u32>(&rest[MAGIC.len()..])
                .map_err(|_| incompatible("has no valid protocol version"))?;
            Ok(version)
        }
        Some((&tag::HELLO, _)) => Err(incompatible("lacks the magic number")),
        _ => Err(incompatible("is not a handshake")),
    }
}

/// One published message as it travels between endpoints.
///
/// Layout: `origin (16 bytes) | id varint | ttl varint | topic (varint
/// length + bytes) | data`. `(origin, id)` identifies the message so that endpoints
/// on a ring can drop copies they have already seen. Its value is a [`Data`], or, on
/// the way out, a [`Payload`](crate::data::Payload) that may be encoded already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataMessage<D = Data> {
    /// The endpoint that published the message.
    pub origin: NodeId,
    /// Sequence number of the message at its origin; `(origin, id)` is unique.
    pub id: u64,
    /// Hops the message may still travel.
    pub ttl: u16,
    /// The topic it was published under.
    pub topic: Topic,
    /// The payload.
    pub data: D,
}

/// One change of the endpoints its sender reaches: `node` is now reachable from the
/// sender along `path`, or no longer reachable if `path` is empty.
///
/// Layout: `node (16 bytes) | path: varint count, then 16 bytes per hop`. `path` lists
/// the hops after the sender, ending with `node` itself, so its length is the hop count
/// and a receiver finding itself on it knows the path is none for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    /// The endpoint reached (or no longer reached).
    pub node: NodeId,
    /// The hops from the sender to `node`, `node` last; empty: unreachable.
    #[serde(deserialize_with = "budgeted_vec")]
    pub path: Vec<NodeId>,
}

/// Store traffic, reserved for the data stores: the variant and its tag are fixed,
/// the payload is opaque to this crate until the stores define typed commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StoreFrame {
    /// A command for the store named `store`.
    ///
    /// Layout: `00 | store (varint length + bytes) | payload (varint length + bytes)`.
    Command {
        /// The name of the store.
        store: String,
        /// The command, in a format owned by the stores.
        #[serde(
            serialize_with = "serialize_bytes",
            deserialize_with = "deserialize_bytes"
        )]
        payload: Vec<u8>,
    },
}

/// Everything that travels on a connection after the length prefix. The variant
/// order is the wire tag (see [`tag`]): append new variants, never reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// Handshake; always the first frame, in both directions. Tag 0, frozen.
    Hello(Hello),
    /// The sender's new subscription filter, replacing the previous one.
    ///
    /// Layout: `01 | varint count | topics`.
    Filter(#[serde(deserialize_with = "budgeted_vec")] Vec<Topic>),
    /// A batch of published messages, in publish order.
    ///
    /// Layout: `02 | varint count | messages` (see [`DataMessage`]); a batch can be
    /// assembled from messages encoded once (see `codec::write_batch_frame`).
    Batch(#[serde(deserialize_with = "budgeted_vec")] Vec<DataMessage>),
    /// Liveness probe; the receiver answers with `Pong` of the same nonce.
    ///
    /// Layout: `03 | nonce varint`.
    Ping(u64),
    /// Answer to `Ping`.
    ///
    /// Layout: `04 | nonce varint`.
    Pong(u64),
    /// Orderly close: the sender will send nothing more.
    ///
    /// Layout: `05`.
    Goodbye,
    /// Data store traffic. Layout: `06 | store frame`.
    Store(StoreFrame),
    /// Changes of the set of endpoints the sender reaches through the overlay (control
    /// plane only), sent when it changes; the first one after the handshake holds the
    /// whole set.
    ///
    /// Layout: `07 | varint count | changes` (see [`Reach`]).
    Reach(#[serde(deserialize_with = "budgeted_vec")] Vec<Reach>),
}

impl Frame {
    /// The frame's wire tag, the first byte of its body.
    pub fn tag(&self) -> u8 {
        match self {
            Frame::Hello(_) => tag::HELLO,
            Frame::Filter(_) => tag::FILTER,
            Frame::Batch(_) => tag::BATCH,
            Frame::Ping(_) => tag::PING,
            Frame::Pong(_) => tag::PONG,
            Frame::Goodbye => tag::GOODBYE,
            Frame::Store(_) => tag::STORE,
            Frame::Reach(_) => tag::REACH,
        }
    }
}
