//! Values already in our wire encoding: [`DataWriter`] writes one piece by piece, for
//! callers that hold values in another form (the Python bindings encode Python objects
//! straight into these bytes, without building a [`Data`] first), and [`Payload`] is a
//! message's value in either form.
//!
//! The bytes are exactly what [`Data`]'s `Serialize` impl gives with postcard (see
//! `encoding`): the variant index as a varint, then the payload; counts as varints,
//! integers zigzagged, reals as 8 little-endian bytes, strings and containers as a
//! varint length followed by their bytes or items.
//!
//! The parts live beside this file, one concern each: `writer` ([`DataWriter`]),
//! `quick_check` (how much of a received value is certainly accepted, without serde),
//! and `reader` ([`EncodedData::build`], with [`Build`] and [`Scalar`]). [`EncodedData`]
//! and [`Payload`] stay here, where all of them meet.

use std::borrow::Cow;

use super::Data;
use crate::codec::decode_exact;
use crate::WireError;

mod quick_check;
mod reader;
mod writer;

pub use reader::{Build, Scalar};
pub use writer::DataWriter;

/// One value in our wire encoding, as [`DataWriter`] made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedData(Vec<u8>);

impl EncodedData {
    /// The encoding of `data`; fails for values nesting deeper than the wire allows.
    pub fn new(data: &Data) -> Result<Self, WireError> {
        let mut writer = DataWriter::new();
        writer.value(data)?;
        Ok(EncodedData(writer.bytes))
    }

    /// A value received from a peer, checked by the caller.
    pub(crate) fn received(bytes: &[u8]) -> Self {
        EncodedData(bytes.to_vec())
    }

    /// The bytes, as they appear at the end of a data message on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value.
    pub fn decode(&self) -> Data {
        // A writer's output always decodes: failing here is a bug in the writer.
        decode_exact(&self.0).expect("an EncodedData holds a valid encoding")
    }
}

/// A message's value: as [`Data`], or already encoded (by a publisher that encodes
/// straight from its own representation). Links of our protocol copy encoded values
/// as they are; everything else decodes them.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A value.
    Value(Data),
    /// A value in our wire encoding.
    Encoded(EncodedData),
}

impl Payload {
    /// The value, decoded if need be.
    pub fn to_data(&self) -> Cow<'_, Data> {
        match self {
            Payload::Value(data) => Cow::Borrowed(data),
            Payload::Encoded(encoded) => Cow::Owned(encoded.decode()),
        }
    }

    /// The value, decoded if need be.
    pub fn into_data(self) -> Data {
        match self {
            Payload::Value(data) => data,
            Payload::Encoded(encoded) => encoded.decode(),
        }
    }
}

impl From<Data> for Payload {
    fn from(data: Data) -> Self {
        Payload::Value(data)
    }
}

impl From<EncodedData> for Payload {
    fn from(encoded: EncodedData) -> Self {
        Payload::Encoded(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding of a whole value, as bytes (shared by the parts' tests).
    pub(super) fn encoded(data: &Data) -> Vec<u8> {
        EncodedData::new(data).unwrap().0
    }

    #[test]
    fn an_encoded_value_goes_out_as_the_decoded_message_would() {
        use crate::codec::{encode_message, encode_payload_message};
        use crate::frame::{DataMessage, NodeId};
        let data = Data::Vector((0..100).map(Data::Integer).collect());
        let message = DataMessage {
            origin: NodeId([7; 16]),
            id: 1 << 40,
            ttl: 300,
            topic: crate::Topic::new("/a/b"),
            data: data.clone(),
        };
        let mut expected = Vec::new();
        encode_message(&message, &mut expected).unwrap();
        for payload in [
            Payload::Value(data.clone()),
            Payload::Encoded(EncodedData::new(&data).unwrap()),
        ] {
            let mut bytes = Vec::new();
            let message = DataMessage {
                origin: message.origin,
                id: message.id,
                ttl: message.ttl,
                topic: message.topic.clone(),
                data: payload,
            };
            encode_payload_message(&message, &mut bytes).unwrap();
            assert_eq!(bytes, expected);
        }
    }
}
