//! The JSON of Broker's and Zeek's WebSocket API, version 1 (`/v1/messages/json`):
//! values and messages, both ways, without any I/O.
//!
//! Every value is an object `{"@data-type":TAG,"data":PAYLOAD}`; a data message
//! puts `type` and `topic` beside those two keys. The encoder writes compact JSON in
//! upstream field order; the decoder is lenient where clients differ (field order,
//! integer literals for reals, fractional timespans, the `d` unit, zones on
//! timestamps) and strict where Broker is (duplicate set elements and table keys,
//! unknown tags, payloads of the wrong JSON type). `docs/wire.md` lists every rule.
//!
//! Decoding is bounded: input beyond the [`Decoder`]'s cap is refused before it is
//! parsed, JSON nesting is limited to what a value of
//! [`MAX_DEPTH`](crate::limits::MAX_DEPTH) containers needs, and values are checked
//! against `MAX_DEPTH` like the native codec does.
//!
//! # Layout
//! - `tree`: JSON text into a borrowed tree (size, depth, duplicate keys).
//! - `decode`: the tree into [`Data`](crate::Data).
//! - `encode`: [`Data`](crate::Data) into JSON text.
//! - `text`: the text forms of scalars (strings, reals, timespans, timestamps, ...).
//! - `message`: the API's messages.
//! - `error`: [`JsonError`] and the API's [`ErrorCode`]s.

mod decode;
mod encode;
mod error;
mod message;
mod text;
mod tree;

pub use encode::{encode_data, to_json};
pub use error::{excerpt, ErrorCode, JsonError};
pub use message::{Ack, DataMessage, ErrorMessage, ServerMessage, Subscriptions};

use crate::Data;

/// The path of the v1 API on a WebSocket server.
pub const PATH: &str = "/v1/messages/json";

/// The default cap on one message: that of native frames.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = crate::codec::DEFAULT_MAX_FRAME_LEN;

/// Decodes v1 JSON messages of at most a configured length.
#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    max_message_len: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl Decoder {
    /// A decoder refusing input longer than `max_message_len` bytes.
    pub fn new(max_message_len: usize) -> Self {
        Decoder { max_message_len }
    }

    /// A value `{"@data-type":...,"data":...}`.
    pub fn data(&self, input: &[u8]) -> Result<Data, JsonError> {
        decode::value(&tree::parse(input, self.max_message_len)?, 0, "a value")
    }

    /// The client's first message.
    pub fn subscriptions(&self, input: &[u8]) -> Result<Subscriptions, JsonError> {
        // Zeek answers malformed JSON here as "subscriptions not an array" too.
        match tree::parse(input, self.max_message_len) {
            Ok(tree) => Subscriptions::from_tree(&tree),
            Err(JsonError::Syntax(_)) => Err(JsonError::SubscriptionsNotArray),
            Err(error) => Err(error),
        }
    }

    /// A data message, as clients send them (`type` optional).
    pub fn data_message(&self, input: &[u8]) -> Result<DataMessage, JsonError> {
        DataMessage::from_tree(&tree::parse(input, self.max_message_len)?)
    }

    /// Any message a server sends.
    pub fn server_message(&self, input: &[u8]) -> Result<ServerMessage, JsonError> {
        ServerMessage::from_tree(&tree::parse(input, self.max_message_len)?)
    }
}

/// Decodes `bytes` as a data message and as a value, and checks that whatever
/// decodes encodes, and that the encoding is a fixed point: it decodes and encodes
/// to itself. The one exception is a timestamp's precision below a millisecond,
/// which JSON drops, so that two set elements or table keys may become one.
/// Used by the fuzz target and its bounded stand-in in the test suite.
pub fn exercise_decode(bytes: &[u8]) {
    let decoder = Decoder::new(1 << 16);
    let data = [
        decoder.data_message(bytes).ok().map(|message| message.data),
        decoder.data(bytes).ok(),
    ];
    for data in data.into_iter().flatten() {
        let text = to_json(&data).expect("decoded values encode");
        match decoder.data(text.as_bytes()) {
            Ok(again) => assert_eq!(to_json(&again).expect("re-encodes"), text),
            Err(JsonError::DuplicateSetElement(_) | JsonError::DuplicateTableKey(_)) => {}
            Err(error) => panic!("our own encoding {text} fails to decode: {error}"),
        }
    }
    let _ = decoder.subscriptions(bytes);
    let _ = decoder.server_message(bytes);
}
