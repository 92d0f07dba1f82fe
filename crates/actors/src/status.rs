//! Statuses and errors that status subscribers receive, with Broker 1.4's codes and
//! messages.

use crate::info::EndpointInfo;

/// Codes of informational statuses (Broker's `sc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    /// Anything else.
    Unspecified = 0,
    /// A peering completed its handshake.
    PeerAdded = 1,
    /// This endpoint removed a peering (`unpeer`).
    PeerRemoved = 2,
    /// A peering ended without this endpoint asking.
    PeerLost = 3,
    /// An endpoint became reachable.
    EndpointDiscovered = 4,
    /// An endpoint is no longer reachable.
    EndpointUnreachable = 5,
}

/// Codes of errors (Broker's `ec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    /// Anything else.
    Unspecified = 1,
    /// The peer speaks another protocol version.
    PeerIncompatible = 2,
    /// The peer sent invalid input.
    PeerInvalid = 3,
    /// A connection attempt failed.
    PeerUnavailable = 4,
    /// A peer stopped answering or reading.
    PeerTimeout = 6,
    /// A store master already exists.
    MasterExists = 7,
    /// No store master was found.
    NoSuchMaster = 8,
    /// A store key does not exist.
    NoSuchKey = 9,
    /// A store request timed out.
    RequestTimeOut = 10,
    /// A value has the wrong type for an operation.
    TypeClash = 11,
    /// Data is invalid.
    InvalidData = 12,
    /// A store backend failed.
    BackendFailure = 13,
    /// A clone's data is too old to answer.
    StaleData = 14,
}

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
    /// `PeerUnavailable`.
    pub const UNABLE_TO_CONNECT: &str = "unable to connect to remote peer";
    /// `PeerInvalid` after unpeering from an endpoint that is no peer.
    pub const UNKNOWN_PEER: &str = "cannot unpeer from unknown peer";
}
