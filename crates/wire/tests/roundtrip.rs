//! Property tests: values and frames survive encoding, whole or fed byte by byte, and
//! the order of values is a total order agreeing with equality and hashing.

mod common;

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use broker_wire::codec::{encode_message, FrameCodec};
use broker_wire::{Data, DataMessage, Frame};
use common::{arb_data, arb_frame, arb_message, encode};
use proptest::collection::vec;
use proptest::prelude::*;

fn hash_of(data: &Data) -> u64 {
    let mut hasher = DefaultHasher::new();
    data.hash(&mut hasher);
    hasher.finish()
}

/// The rank of the value's type in Broker's order of types.
fn type_rank(data: &Data) -> usize {
    use broker_wire::data::DataType::*;
    let order = [
        Nil, Boolean, Count, Integer, Real, String, Address, Subnet, Port, Timestamp, Timespan,
        EnumValue, Set, Table, Vector,
    ];
    order.iter().position(|&t| t == data.data_type()).unwrap()
}

/// Encodes `data` alone (as postcard, without a frame) and decodes it back.
fn data_round_trip(data: &Data) -> Data {
    let bytes = postcard::to_allocvec(data).expect("value encodes");
    postcard::from_bytes(&bytes).expect("value decodes")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn data_round_trips(data in arb_data()) {
        let back = data_round_trip(&data);
        prop_assert_eq!(back.cmp(&data), Ordering::Equal);
        prop_assert_eq!(hash_of(&back), hash_of(&data));
        prop_assert_eq!(back.to_string(), data.to_string());
    }

    #[test]
    fn order_is_total_and_agrees_with_eq_and_hash(a in arb_data(), b in arb_data(), c in arb_data()) {
        prop_assert_eq!(a.cmp(&a), Ordering::Equal);
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        if a == b {
            prop_assert_eq!(hash_of(&a), hash_of(&b));
        }
        if a <= b && b <= c {
            prop_assert!(a <= c, "transitivity: {} <= {} <= {}", a, b, c);
        }
        if a.data_type() != b.data_type() {
            prop_assert_eq!(a.cmp(&b), type_rank(&a).cmp(&type_rank(&b)));
        }
    }

    #[test]
    fn strings_order_as_their_bytes(
        a in vec(prop::sample::select(vec![0u8, 1, b'a', 0xff]), 0..12),
        b in vec(prop::sample::select(vec![0u8, 1, b'a', 0xff]), 0..12),
    ) {
        // Short strings compare as words (zero-padded); zeros and prefixes are the
        // cases padding could get wrong.
        let (x, y) = (Data::String(a.clone()), Data::String(b.clone()));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(x == y, a == b);
    }

    #[test]
    fn clones_are_equal_with_equal_hashes(a in arb_data()) {
        let b = a.clone();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(hash_of(&a), hash_of(&b));
    }

    #[test]
    fn every_frame_round_trips(frame in arb_frame()) {
        let bytes = encode(&frame);
        let (back, used) = FrameCodec::default().decode(&bytes).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, frame);
    }

    #[test]
    fn frames_fed_byte_by_byte_decode_once_complete(frames in vec(arb_frame(), 1..4)) {
        let stream: Vec<u8> = frames.iter().flat_map(encode).collect();
        let codec = FrameCodec::default();
        let mut buffer = Vec::new();
        let mut decoded = Vec::new();
        for &byte in &stream {
            buffer.push(byte);
            if let Some((frame, used)) = codec.decode(&buffer).unwrap() {
                buffer.drain(..used);
                decoded.push(frame);
            }
        }
        prop_assert!(buffer.is_empty());
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn batch_of_pre_encoded_messages_equals_encoded_batch(messages in vec(arb_message(), 0..8)) {
        let codec = FrameCodec::default();
        let parts: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let mut part = Vec::new();
                encode_message(m, &mut part).unwrap();
                part
            })
            .collect();
        let mut assembled = vec![0xAA]; // Appending keeps what is there.
        codec.write_batch_frame(&parts, &mut assembled).unwrap();
        let direct = encode(&Frame::Batch(messages.clone()));
        prop_assert_eq!(&assembled[1..], &direct[..]);
        let (back, _) = codec.decode(&assembled[1..]).unwrap().unwrap();
        prop_assert_eq!(back, Frame::Batch(messages));
    }
}

/// Batches whose element count needs a multi-byte varint are assembled correctly.
#[test]
fn large_batches_assemble_like_encoded_ones() {
    for count in [127, 128, 300, 16_384] {
        let messages: Vec<DataMessage> = (0..count)
            .map(|i| DataMessage {
                origin: broker_wire::NodeId([7; 16]),
                id: i,
                ttl: 20,
                topic: "/t".into(),
                data: Data::Count(i),
            })
            .collect();
        let parts: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let mut part = Vec::new();
                encode_message(m, &mut part).unwrap();
                part
            })
            .collect();
        let mut assembled = Vec::new();
        FrameCodec::default()
            .write_batch_frame(&parts, &mut assembled)
            .unwrap();
        assert_eq!(assembled, encode(&Frame::Batch(messages)), "count {count}");
    }
}
