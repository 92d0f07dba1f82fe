//! [`NativeError`]: every way encoding or decoding a native message can fail, with the
//! `ec` code and description Broker would send in a `drop_conn` for it.

use thiserror::Error;

use crate::codes::ErrorCode;

/// What is wrong with bytes that failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Malformation {
    /// The input ends inside a field.
    #[error("truncated")]
    Truncated,
    /// A length or count takes more than 5 varint bytes (more than 32 bits).
    #[error("varint longer than 5 bytes")]
    VarintTooLong,
    /// A `data` value starts with a tag above 14.
    #[error("unknown data tag {0}")]
    UnknownDataTag(u8),
    /// A port's protocol is above 3 (icmp).
    #[error("port protocol {0} is not 0-3")]
    PortProtocol(u8),
    /// A subnet's prefix length does not fit its address (IPv4 lengths are stored +96).
    #[error("subnet length {0} out of range")]
    SubnetLength(u8),
    /// A set holds the same element twice.
    #[error("duplicate set element")]
    DuplicateSetElement,
    /// A table holds the same key twice.
    #[error("duplicate table key")]
    DuplicateTableKey,
    /// Containers nest deeper than [`MAX_DEPTH`](crate::limits::MAX_DEPTH).
    #[error("value nests deeper than {0} levels")]
    TooDeep(usize),
    /// Bytes follow a value that must fill its payload.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A topic or enum name is not UTF-8.
    #[error("text is not UTF-8")]
    NotUtf8,
    /// A store command has an unknown variant index.
    #[error("unknown command index {0}")]
    UnknownCommand(u8),
}

/// Every way encoding or decoding a native frame can fail. A partial frame is not an
/// error: decoding returns `Ok(None)` and waits for more bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NativeError {
    /// The length prefix announces (or an encoding needs) more bytes than the cap.
    #[error("frame of {len} bytes exceeds the cap of {cap} bytes")]
    FrameTooLarge {
        /// The announced or needed body length.
        len: usize,
        /// The configured cap.
        cap: usize,
    },
    /// An empty frame where a handshake message must be.
    #[error("empty handshake frame")]
    EmptyFrame,
    /// A handshake tag or envelope type that is no message of this phase.
    #[error("invalid message type tag {0}")]
    UnknownMessageType(u8),
    /// A message failed to parse; `what` is Broker's name for it.
    #[error("failed to parse {what}: {reason}")]
    Malformed {
        /// The message or part being parsed (`hello_msg`, `data`, ...).
        what: &'static str,
        /// What is wrong.
        reason: Malformation,
    },
    /// A handshake message without Broker's magic number.
    #[error("wrong magic number {0:#010x}")]
    WrongMagic(u32),
    /// A hello whose version range excludes ours.
    #[error("unsupported versions offered: {min}-{max}")]
    UnsupportedVersions {
        /// The lowest version offered.
        min: u8,
        /// The highest version offered.
        max: u8,
    },
    /// A version_select picking another version than ours.
    #[error("unsupported version selected: {0}")]
    UnsupportedVersionSelected(u8),
    /// A drop_conn carrying a code that is no `ec`.
    #[error("drop_conn with unknown code {code}: {description}")]
    UnknownDropCode {
        /// The code received.
        code: u8,
        /// The description received.
        description: String,
    },
    /// A value to encode nests deeper than [`MAX_DEPTH`](crate::limits::MAX_DEPTH).
    #[error("value nests deeper than {0} levels")]
    TooDeep(usize),
    /// A topic longer than its u16 length field.
    #[error("topic of {0} bytes exceeds 65535")]
    TopicTooLong(usize),
    /// A string or sequence longer than its u32 varint length.
    #[error("length {0} exceeds u32")]
    LengthTooLarge(usize),
}

impl NativeError {
    /// The `ec` code Broker sends in a `drop_conn` when it receives such bytes.
    pub fn ec(&self) -> ErrorCode {
        match self {
            NativeError::WrongMagic(_) => ErrorCode::WrongMagicNumber,
            NativeError::UnsupportedVersions { .. }
            | NativeError::UnsupportedVersionSelected(_) => ErrorCode::PeerIncompatible,
            NativeError::UnknownDropCode { .. } => ErrorCode::Unspecified,
            _ => ErrorCode::InvalidMessage,
        }
    }

    /// The description Broker sends with [`ec`](Self::ec).
    pub fn description(&self) -> String {
        match self {
            NativeError::WrongMagic(_) => "wrong magic number".into(),
            NativeError::UnsupportedVersions { .. } => "unsupported versions offered".into(),
            NativeError::UnsupportedVersionSelected(_) => "unsupported version selected".into(),
            NativeError::UnknownDropCode { description, .. } => description.clone(),
            NativeError::EmptyFrame | NativeError::UnknownMessageType(_) => {
                "invalid message type tag".into()
            }
            NativeError::Malformed { what, .. } => format!("failed to parse {what}"),
            other => other.to_string(),
        }
    }
}
