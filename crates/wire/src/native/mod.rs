//! Broker's native peering protocol, as Broker 2.3 through 2.8 (Zeek 5.0 – 8.x) speak
//! it over TCP (optionally TLS): codecs and a sans-I/O handshake, no sockets.
//!
//! - [`codes`]: the numbers only this wire has (magic, version, message types, data
//!   tags, command indices); `ec` codes and port protocols are the crate-wide
//!   [`ErrorCode`](crate::codes::ErrorCode) and [`Protocol`](crate::codes::Protocol).
//! - [`ids`]: [`EndpointId`] (a 16-byte UUID) and [`EntityId`].
//! - [`bin`]: `format::bin` v1 primitives (integers, varints, strings, filters, ids).
//! - [`data`]: `data` values ([`Data`](crate::Data), all 15 kinds) in `format::bin` v1.
//! - [`handshake`]: the seven handshake messages ([`Handshake`]).
//! - [`envelope`]: the phase-3 [`Envelope`] (data, command, routing_update, ping, pong,
//!   BYE pings).
//! - [`command`]: store commands ([`InternalCommand`], all 14 kinds).
//! - [`framing`]: [`NativeCodec`], the `u32` length prefix with a size cap.
//! - [`machine`]: [`HandshakeMachine`], both roles, tie-break, redundant connections.
//! - [`error`]: [`NativeError`], with the [`ErrorCode`](crate::codes::ErrorCode) each
//!   error is answered with.
//!
//! The protocol is described in `docs/wire.md` ("Native protocol").

pub mod bin;
pub mod codes;
pub mod command;
pub mod data;
pub mod envelope;
pub mod error;
pub mod framing;
pub mod handshake;
pub mod ids;
pub mod machine;

pub use codes::{CommandKind, DataTag, MessageType, BROKER_RS_VERSION, MAGIC, PROTOCOL_VERSION};
pub use command::{Command, InternalCommand};
pub use envelope::{Content, Envelope, Header};
pub use error::{Malformation, NativeError};
pub use framing::NativeCodec;
pub use handshake::{DropConn, Handshake, Hello};
pub use ids::{EndpointId, EntityId};
pub use machine::{Closed, HandshakeError, HandshakeMachine, Next, Reservation, Role, Step};
