//! Broker's data model and wire protocol, free of any async runtime.
//!
//! # Layout
//! - [`data`]: [`Data`], Broker's value type, and the scalar helpers [`Port`],
//!   [`Timestamp`], [`Timespan`]; inside it `order` (total order, equality, hashing),
//!   `display` (Broker's notation) and `encoding` (serde, straight into containers).
//! - [`codes`]: Broker's code tables (error and status codes, peer statuses and flags,
//!   backends, port protocols, value types), each defined once with Broker's numbers and
//!   C++ and Python names.
//! - [`topic`]: [`Topic`], raw-prefix matching and Broker's `/` join.
//! - [`zeek`]: typed views of Zeek message layouts (events and friends) over [`Data`].
//! - [`frame`]: the frames two endpoints exchange over a connection, their wire tags
//!   and the handshake's frozen prefix.
//! - [`codec`]: length-prefixed postcard encoding of frames, with a size cap checked
//!   before any allocation, and batch frames assembled from messages encoded once.
//! - [`json`]: the JSON of the WebSocket API (v1): values and messages, both ways.
//! - [`limits`]: the nesting depth limit of [`Data`] and the preallocation budget
//!   that keep decoding hostile input cheap.
//! - [`error`]: [`WireError`], every way encoding or decoding can fail.
//! - [`native`]: Broker's own peering protocol (Broker 2.3+, Zeek 5 – 8): its codecs
//!   and a sans-I/O handshake machine.
//!
//! The protocol itself is specified in `docs/wire.md`.

pub mod codec;
pub mod codes;
pub mod data;
pub mod error;
pub mod frame;
pub mod json;
pub mod limits;
pub mod native;
pub mod topic;
pub mod zeek;

pub use data::{Data, Payload, Port, Protocol, Timespan, Timestamp};
pub use error::WireError;
pub use frame::{DataMessage, Frame, Hello, NodeId, MAGIC, PROTOCOL_VERSION};
pub use topic::Topic;
