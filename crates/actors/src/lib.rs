//! Broker endpoints as actix actors: peering over TCP, publish/subscribe with
//! multi-hop forwarding, flow control end to end.
//!
//! [`Endpoint`] is the handle embedders use (the Python bindings included). It owns a
//! thread running an actix system; blocking calls work from any thread, async variants
//! from async code. See `docs/architecture.md` for the actors and the message flow.
//!
//! # Layout
//! - [`endpoint`]: the [`Endpoint`] handle, its blocking and async API;
//!   `endpoint/stores.rs`: `attach_master` / `attach_clone`.
//! - [`core`]: the core actor, its messages and handlers: peer table, filters,
//!   subscriptions, outbound peerings and retries, statuses; publishes the routing
//!   snapshot. Its work is split into `core/peering.rs` (outbound targets, attempts,
//!   retries, handshakes, lost peers), `core/filters.rs` (subscribers, forwarded
//!   topics, the routing snapshot) and `core/statuses.rs` (status subscribers).
//! - [`listener`]: the listener actor, accepting connections and running handshakes.
//! - [`peer`]: the peer actor, one per connection: reader and writer tasks, keepalive.
//! - [`connection`]: connecting, TLS and the handshake, over any
//!   `AsyncRead + AsyncWrite`.
//! - [`tls`]: OpenSSL contexts from Broker's `openssl_*` options: authenticated,
//!   anonymous (encrypted only) or none.
//! - `link`: what one connection is, whatever it speaks: its outbox, its writer slot
//!   (`link/writer.rs`, shared by the write task and inline senders), its encoding
//!   (`link/encoding.rs`), the slow-peer policy.
//! - `routing`: the data path: the routing snapshot (a watch), encoding once per
//!   encoding in use, feeding subscribers.
//! - `reports`: the narrow channel from the data path and store actors to the core.
//! - [`dedup`]: per-origin sliding windows that make rings and meshes deliver once.
//! - [`framing`]: frames on a byte stream (length prefix, cap, batch assembly).
//! - [`subscriber`]: [`Subscriber`] and [`StatusSubscriber`].
//! - [`publisher`]: the [`Publisher`] handle; `publish_buffer`: the buffers behind it
//!   and `Endpoint::publish*`, drained in batches or sent inline when traffic is sparse.
//! - [`queue`]: the bounded queue behind all of the above, for threads and tasks.
//! - [`flare`]: descriptors readable while a queue is pending (or has room).
//! - [`store`]: the store runtime: [`Store`], the handle; the master and clone actors
//!   behind it (started by the core), what a handle and its actor share, and how the
//!   actors take writes and publish without waiting on a peer while holding its input.
//!   Its shared types ([`Role`], [`CloneOptions`], [`AttachError`]) sit at its root.
//! - `websocket`: Zeek's WebSocket API (JSON v1) as a kind of link: the server for
//!   WebSocket clients, their sessions, their encoding.
//! - [`metrics`]: the counters the data path keeps, the [`Metrics`] an endpoint shows
//!   (`Endpoint::metrics`, `endpoint/metrics.rs`) and the metrics port serving them.
//! - [`config`], [`info`], [`status`], [`error`]: configuration, peer descriptions,
//!   status codes, errors.

pub mod config;
mod connection;
mod core;
mod dedup;
pub mod endpoint;
pub mod error;
mod flare;
mod framing;
pub mod info;
mod link;
mod listener;
pub mod metrics;
mod peer;
mod publish_buffer;
pub mod publisher;
mod queue;
mod reach;
mod reports;
mod routing;
pub mod status;
pub mod store;
pub mod subscriber;
pub mod tls;
mod websocket;

pub use config::{Config, EnvError, SlowPeerPolicy, TlsConfig, METRICS_PORT_ENV};
pub use endpoint::Endpoint;
pub use error::EndpointError;
pub use info::{
    EndpointInfo, LinkType, NetworkInfo, PeerFlags, PeerInfo, PeerStatus, UNKNOWN_NODE,
};
pub use metrics::{MetricFamily, MetricKind, Metrics};
pub use publisher::Publisher;
pub use status::{ErrorCode, ErrorStatus, Status, StatusCode, StatusEvent};
pub use store::{AttachError, CloneOptions, PendingPutUnique, QueryError, Role, Store};
pub use subscriber::{StatusSubscriber, Subscriber};
pub use tls::TlsError;
