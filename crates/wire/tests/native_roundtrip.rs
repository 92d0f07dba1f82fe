//! Property tests of the native codecs: every value, message and envelope decodes to
//! itself after encoding, also when its frame arrives one byte at a time.

mod common;

use broker_wire::native::data::{decode_data, encode_data};
use broker_wire::native::{Envelope, Handshake, InternalCommand, NativeCodec};
use common::arb_data;
use common::native::{arb_envelope, arb_handshake, arb_internal_command};
use proptest::collection::vec;
use proptest::prelude::*;

/// Feeds `stream` to `decode` one byte at a time, as a socket might deliver it,
/// collecting every complete message; asserts that no byte is left over.
fn decode_bytewise<T>(
    stream: &[u8],
    decode: impl Fn(&[u8]) -> Result<Option<(T, usize)>, broker_wire::native::NativeError>,
) -> Vec<T> {
    let mut buffer = Vec::new();
    let mut decoded = Vec::new();
    for &byte in stream {
        buffer.push(byte);
        if let Some((message, used)) = decode(&buffer).expect("valid stream") {
            buffer.drain(..used);
            decoded.push(message);
        }
    }
    assert!(buffer.is_empty(), "{} bytes left over", buffer.len());
    decoded
}

proptest! {
    #[test]
    fn data_round_trips(data in arb_data()) {
        let mut out = Vec::new();
        encode_data(&data, &mut out).unwrap();
        prop_assert_eq!(decode_data(&out).unwrap(), data);
    }

    #[test]
    fn commands_round_trip(command in arb_internal_command()) {
        let mut out = Vec::new();
        command.encode(&mut out).unwrap();
        prop_assert_eq!(InternalCommand::decode(&out).unwrap(), command);
    }

    #[test]
    fn handshake_streams_round_trip_byte_by_byte(messages in vec(arb_handshake(), 1..5)) {
        let codec = NativeCodec::default();
        let mut stream = Vec::new();
        for message in &messages {
            codec.encode_handshake(message, &mut stream).unwrap();
        }
        let decoded = decode_bytewise(&stream, |buf| codec.decode_handshake(buf));
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn envelope_streams_round_trip_byte_by_byte(envelopes in vec(arb_envelope(), 1..4)) {
        let codec = NativeCodec::default();
        let mut stream = Vec::new();
        for envelope in &envelopes {
            codec.encode_envelope(envelope, &mut stream).unwrap();
        }
        let decoded = decode_bytewise(&stream, |buf| codec.decode_envelope(buf));
        prop_assert_eq!(decoded, envelopes);
    }

    #[test]
    fn every_encoding_is_canonical(envelope in arb_envelope()) {
        // Encode, decode, encode again: the same bytes (sets and tables in order).
        let mut first = Vec::new();
        envelope.encode(&mut first).unwrap();
        let mut second = Vec::new();
        Envelope::decode(&first).unwrap().encode(&mut second).unwrap();
        prop_assert_eq!(first, second);
    }

    #[test]
    fn handshake_bodies_decode_alone(message in arb_handshake()) {
        let mut body = Vec::new();
        message.encode(&mut body).unwrap();
        prop_assert_eq!(Handshake::decode(&body).unwrap(), message);
    }
}
