//! Zeek's WebSocket API, JSON v1 (`/v1/messages/json`), as a kind of link: a server
//! whose clients the endpoint treats like peers (each with an id of its own, its
//! subscriptions as its filter, `PeerAdded`/`PeerLost`, never its own messages back,
//! its messages published on its behalf), and connections to WebSocket servers
//! (Broker's, Zeek's) that exchange messages like a peer.
//!
//! # Layout
//! - `encoding`: the link's [`Encoding`](crate::link::Encoding): one JSON text per
//!   message, each sent as one text frame.
//! - `session`: a connection after its handshake, either role: its link, writer and
//!   reader; the Core learns of its start and end.
//! - `server`: the listening socket, TLS, the HTTP upgrade, the client's
//!   subscriptions and the ack.
//! - `client`: connecting to a server: TCP, TLS for `wss://`, the upgrade with an
//!   application name, our subscriptions, the server's ack or error.
//!
//! The JSON itself is `broker_wire::json`; the framing is tokio-tungstenite's.

mod client;
mod encoding;
mod server;
pub(crate) mod session;

pub(crate) use client::{open, OpenError};
pub(crate) use server::serve;
pub(crate) use session::Session;

/// The `type` of WebSocket peers in statuses, as Broker names it.
pub(crate) const PEER_TYPE: &str = "web-socket";
