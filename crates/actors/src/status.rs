//! Statuses and errors that status subscribers receive, with Broker 1.4's messages. The
//! codes are the tables of [`broker_wire::codes`].

pub use broker_wire::codes::{ErrorCode, StatusCode};

use crate::info::EndpointInfo;

/// An informational status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// What happened.
    pub code: StatusCode,
    /// The endpoint it concerns.
    pub context: Option<EndpointInfo>,
    /// Human-readable text, as Broker 1.4 words it.
    pub message: String,
}

/// An error status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorStatus {
    /// What went wrong.
    pub code: ErrorCode,
    /// The endpoint it concerns.
    pub context: Option<EndpointInfo>,
    /// Human-readable text.
    pub message: String,
}

/// What a status subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusEvent {
    /// A status (only for subscribers created with `receive_statuses`).
    Status(Status),
    /// An error (always).
    Error(ErrorStatus),
}

impl StatusEvent {
    /// A status event.
    pub(crate) fn status(code: StatusCode, context: Option<EndpointInfo>, message: &str) -> Self {
        StatusEvent::Status(Status {
            code,
            context,
            message: message.to_owned(),
        })
    }

    /// An error event.
    pub(crate) fn error(
        code: ErrorCode,
        context: Option<EndpointInfo>,
        message: impl Into<String>,
    ) -> Self {
        StatusEvent::Error(ErrorStatus {
            code,
            context,
            message: message.into(),
        })
    }
}

/// Broker 1.4's wording of each status.
pub(crate) mod text {
    /// `PeerAdded`.
    pub const HANDSHAKE_SUCCESSFUL: &str = "handshake successful";
    /// `PeerLost`.
    pub const LOST_CONNECTION: &str = "lost connection to remote peer";
    /// `PeerRemoved`.
    pub const REMOVED_CONNECTION: &str = "removed connection to remote peer";
    /// `EndpointDiscovered`.
    pub const FOUND_NEW_PEER: &str = "found a new peer in the network";
    /// `EndpointUnreachable`.
    pub const LOST_LAST_PATH: &str = "lost the last path";
    /// `PeerUnavailable`.
    pub const UNABLE_TO_CONNECT: &str = "unable to connect to remote peer";
    /// `PeerInvalid` after unpeering from an endpoint that is no peer.
    pub const UNKNOWN_PEER: &str = "cannot unpeer from unknown peer";
}
