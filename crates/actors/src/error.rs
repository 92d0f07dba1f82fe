//! Errors of the endpoint API.

use broker_wire::WireError;
use thiserror::Error;

/// Every way an endpoint operation can fail.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// The endpoint's thread could not be started.
    #[error("cannot start the endpoint: {0}")]
    Start(#[source] std::io::Error),
    /// Binding a listening socket failed.
    #[error("cannot listen on {address}:{port}: {source}")]
    Listen {
        /// The requested address.
        address: String,
        /// The requested port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Connecting to a peer failed.
    #[error("unable to connect to remote peer {address}:{port}: {reason}")]
    PeerUnavailable {
        /// The peer's address.
        address: String,
        /// The peer's port.
        port: u16,
        /// What went wrong.
        reason: String,
    },
    /// The peer speaks another version of the protocol.
    #[error("incompatible peer {address}:{port}: {reason}")]
    PeerIncompatible {
        /// The peer's address.
        address: String,
        /// The peer's port.
        port: u16,
        /// What differs.
        reason: String,
    },
    /// The peer sent something that is not our protocol.
    #[error("invalid peer {address}:{port}: {source}")]
    PeerInvalid {
        /// The peer's address.
        address: String,
        /// The peer's port.
        port: u16,
        /// The decoding failure.
        #[source]
        source: WireError,
    },
    /// Connecting to a WebSocket server failed, or it refused our subscriptions.
    #[error("unable to connect to WebSocket server {url}: {reason}")]
    WebSocketUnavailable {
        /// The server's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The peering was cancelled (unpeer or shutdown) before it completed.
    #[error("peering with {address}:{port} was cancelled")]
    Cancelled {
        /// The peer's address.
        address: String,
        /// The peer's port.
        port: u16,
    },
    /// The TLS configuration cannot be used (a file is unreadable, a passphrase wrong).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// No descriptor could be had for a queue's flare: the process is out of file
    /// descriptors.
    #[error("cannot create an eventfd for a {queue}: {source}")]
    Descriptor {
        /// What the descriptor was for: "subscriber", "status subscriber", "publisher".
        queue: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint has been shut down.
    #[error("the endpoint has been shut down")]
    ShutDown,
}
