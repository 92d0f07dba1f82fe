//! Errors of the WebSocket JSON codec and the error codes of the v1 API.

use std::fmt;

use thiserror::Error;

/// Every way encoding or decoding WebSocket JSON can fail. Each names what was wrong;
/// [`JsonError::code`] gives the API's error code for telling the peer.
#[derive(Debug, Error)]
pub enum JsonError {
    /// The input is longer than the decoder's cap.
    #[error("message of {len} bytes exceeds the cap of {cap} bytes")]
    TooLarge {
        /// The input's length.
        len: usize,
        /// The configured cap.
        cap: usize,
    },
    /// The input is not JSON (or not UTF-8).
    #[error("malformed JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    /// The input nests deeper than the decoder allows, or a value nests deeper than
    /// [`MAX_DEPTH`](crate::limits::MAX_DEPTH) containers.
    #[error("value nests deeper than {0} levels")]
    TooDeep(usize),
    /// A JSON object has the same key twice.
    #[error("duplicate key {0:?} in a JSON object")]
    DuplicateKey(String),
    /// The client's first message is not a JSON array (Zeek's wording).
    #[error("subscriptions not an array")]
    SubscriptionsNotArray,
    /// An element of the client's first message is not a string (Zeek's wording).
    #[error("individual subscription not a string")]
    SubscriptionNotString,
    /// A part of the input has the wrong JSON type.
    #[error("{what} must be {expected}, found {found}")]
    WrongType {
        /// The part, e.g. `"a value"` or `"the topic"`.
        what: &'static str,
        /// What it must be, e.g. `"a JSON object"`.
        expected: &'static str,
        /// The JSON type found, e.g. `"an array"`.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("no {field:?} in {within}")]
    MissingField {
        /// The field's key.
        field: &'static str,
        /// The object it belongs in, e.g. `"a data message"`.
        within: &'static str,
    },
    /// A `@data-type` names no Broker type.
    #[error("unknown @data-type {0:?}")]
    UnknownDataType(String),
    /// A payload does not fit its `@data-type`.
    #[error("invalid {data_type}: {reason}")]
    InvalidValue {
        /// The `@data-type`.
        data_type: &'static str,
        /// What is wrong with the payload, quoting it.
        reason: String,
    },
    /// A set lists the same element twice.
    #[error("duplicate set element {0}")]
    DuplicateSetElement(String),
    /// A table lists the same key twice.
    #[error("duplicate table key {0}")]
    DuplicateTableKey(String),
    /// A server message has a `type` the v1 API does not define.
    #[error("unknown message type {0:?}")]
    UnknownMessageType(String),
    /// A real to encode is NaN or infinite, which JSON cannot express.
    #[error("cannot encode the real {0} in JSON")]
    NonFiniteReal(f64),
    /// A string to encode is not UTF-8, which JSON cannot carry.
    #[error("cannot encode a string that is not UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// The length of the valid prefix.
        valid_up_to: usize,
    },
}

impl JsonError {
    /// The v1 API's error code for this error: `serialization_failed` for what could
    /// not be encoded, `deserialization_failed` for everything refused on input.
    pub fn code(&self) -> ErrorCode {
        match self {
            JsonError::NonFiniteReal(_) | JsonError::InvalidUtf8 { .. } => {
                ErrorCode::SerializationFailed
            }
            _ => ErrorCode::DeserializationFailed,
        }
    }

    /// A wrong-type error for `found`.
    pub(super) fn wrong_type(
        what: &'static str,
        expected: &'static str,
        found: &super::tree::Json<'_>,
    ) -> JsonError {
        JsonError::WrongType {
            what,
            expected,
            found: found.kind(),
        }
    }

    /// An invalid-payload error, quoting at most a line of the offending text.
    pub(super) fn invalid(data_type: &'static str, reason: impl fmt::Display) -> JsonError {
        JsonError::InvalidValue {
            data_type,
            reason: excerpt(reason),
        }
    }
}

/// At most 80 characters of `what`'s text, so errors stay readable for huge input.
pub fn excerpt(what: impl fmt::Display) -> String {
    const MAX: usize = 80;
    let text = what.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// The `code` of an error message (`{"type":"error","code":...}`): the codes Broker's
/// and Zeek's servers send, and any other as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Input was not JSON, not a valid message, or not a valid value.
    DeserializationFailed,
    /// A value could not be rendered as JSON.
    SerializationFailed,
    /// The upgrade request asked for a path other than `/v1/messages/json` (Zeek).
    InvalidUri,
    /// The `X-Application-Name` header is malformed (Zeek).
    InvalidApplicationName,
    /// Zeek's Broker backend could not process an event for the client.
    BrokerError,
    /// A code this crate does not know, as received.
    Other(String),
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::DeserializationFailed => "deserialization_failed",
            ErrorCode::SerializationFailed => "serialization_failed",
            ErrorCode::InvalidUri => "invalid_uri",
            ErrorCode::InvalidApplicationName => "invalid_application_name",
            ErrorCode::BrokerError => "broker_error",
            ErrorCode::Other(code) => code,
        }
    }

    /// The code spelled `text` on the wire.
    pub fn from_wire(text: &str) -> ErrorCode {
        match text {
            "deserialization_failed" => ErrorCode::DeserializationFailed,
            "serialization_failed" => ErrorCode::SerializationFailed,
            "invalid_uri" => ErrorCode::InvalidUri,
            "invalid_application_name" => ErrorCode::InvalidApplicationName,
            "broker_error" => ErrorCode::BrokerError,
            other => ErrorCode::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
