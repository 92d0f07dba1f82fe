//! A bounded, seeded stand-in for `fuzz/` that runs with the normal tests: feeds
//! random and mutated inputs (generated ones and the corpus kept in
//! `fuzz/corpus/<target>/`) through `codec::exercise_decode`,
//! `native::framing::exercise_decode` and `json::exercise_decode`, the functions the
//! cargo-fuzz targets call.

mod common;

use std::time::{Duration, Instant};

use broker_wire::codec::exercise_decode;
use broker_wire::native::NativeCodec;
use common::native::{arb_envelope, arb_handshake};
use common::{arb_frame, encode};
use proptest::prelude::{prop_oneof, RngExt};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// Inputs to try at most, and the wall-clock budget for trying them.
const MAX_INPUTS: usize = 300_000;
const BUDGET: Duration = Duration::from_secs(4);

/// The corpus of the cargo-fuzz target `target` kept in the repository, sorted (the
/// seeded mutations pick by index).
fn kept(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let read = std::fs::read_dir(&dir).expect("the corpus is in the repository");
    let mut files: Vec<_> = read.map(|file| file.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|file| std::fs::read(file).unwrap())
        .collect()
}

/// 256 inputs, each the concatenation of 1 or 2 encodings of `strategy`'s values, and
/// `target`'s kept corpus, to mutate.
fn corpus<T: std::fmt::Debug>(
    runner: &mut TestRunner,
    target: &str,
    strategy: impl Strategy<Value = T>,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Vec<Vec<u8>> {
    let values = proptest::collection::vec(strategy, 1..3);
    (0..256)
        .map(|_| {
            let stream = values.new_tree(runner).expect("strategy works").current();
            stream.iter().flat_map(&encode).collect()
        })
        .chain(kept(target))
        .collect()
}

/// A native frame of any kind: handshake message or envelope.
#[derive(Debug)]
enum NativeFrame {
    Handshake(broker_wire::native::Handshake),
    Envelope(broker_wire::native::Envelope),
}

fn encode_native(frame: &NativeFrame) -> Vec<u8> {
    let codec = NativeCodec::default();
    let mut out = Vec::new();
    match frame {
        NativeFrame::Handshake(message) => codec.encode_handshake(message, &mut out),
        NativeFrame::Envelope(envelope) => codec.encode_envelope(envelope, &mut out),
    }
    .expect("frame encodes");
    out
}

/// A random mutation of `input`: byte flips, insertions, deletions, a changed length
/// prefix, or a splice with another corpus entry.
fn mutate(rng: &mut TestRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=bytes.len());
        match rng.random_range(0..6) {
            0 if at < bytes.len() => bytes[at] = rng.random(),
            1 if at < bytes.len() => bytes[at] ^= 1 << rng.random_range(0..8),
            2 => bytes.insert(at, rng.random()),
            3 if at < bytes.len() => {
                bytes.remove(at);
            }
            4 if bytes.len() >= 4 => {
                let len = u32::from_be_bytes(bytes[..4].try_into().unwrap());
                let delta = rng.random_range(-3i64..=3);
                let len = (i64::from(len) + delta).clamp(0, i64::from(u32::MAX)) as u32;
                bytes[..4].copy_from_slice(&len.to_be_bytes());
            }
            _ => {
                let from = rng.random_range(0..=other.len());
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
        }
    }
    bytes
}

/// Runs `exercise` on the corpus, then on random and mutated inputs within the budget.
fn fuzz(corpus: &[Vec<u8>], exercise: fn(&[u8])) {
    for input in corpus {
        exercise(input);
    }
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[42; 32]);
    let started = Instant::now();
    let mut tried = 0;
    while tried < MAX_INPUTS && started.elapsed() < BUDGET {
        let input = if rng.random_bool(0.1) {
            let len = rng.random_range(0..64);
            (0..len).map(|_| rng.random()).collect()
        } else {
            let input = &corpus[rng.random_range(0..corpus.len())];
            let other = &corpus[rng.random_range(0..corpus.len())];
            mutate(&mut rng, input, other)
        };
        exercise(&input);
        tried += 1;
    }
    assert!(tried >= 1000, "only {tried} inputs tried");
}

fn seeded_runner() -> TestRunner {
    TestRunner::new_with_rng(
        Default::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

#[test]
fn random_and_mutated_inputs_never_break_the_decoder() {
    let corpus = corpus(&mut seeded_runner(), "frame_decoder", arb_frame(), encode);
    fuzz(&corpus, exercise_decode);
}

#[test]
fn random_and_mutated_inputs_never_break_the_native_decoder() {
    let frames = prop_oneof![
        arb_handshake().prop_map(NativeFrame::Handshake),
        arb_envelope().prop_map(NativeFrame::Envelope),
    ];
    let corpus = corpus(
        &mut seeded_runner(),
        "native_decoder",
        frames,
        encode_native,
    );
    fuzz(&corpus, broker_wire::native::framing::exercise_decode);
}

// The WebSocket JSON decoder, the same way: encoder output of random values (as
// values and as data messages), mutated, through `json::exercise_decode`.

/// Valid JSON of random values and data messages, and the kept corpus, to mutate.
fn json_corpus(runner: &mut TestRunner) -> Vec<Vec<u8>> {
    let values = common::json::arb_json_data();
    (0..256)
        .map(|i| {
            let data = values.new_tree(runner).expect("strategy works").current();
            let message = broker_wire::json::DataMessage {
                topic: broker_wire::Topic::new("/fuzz"),
                data,
            };
            let mut text = String::new();
            message.encode(&mut text).expect("JSON-safe values encode");
            if i % 2 == 0 {
                text.into_bytes()
            } else {
                broker_wire::json::to_json(&message.data)
                    .expect("JSON-safe values encode")
                    .into_bytes()
            }
        })
        .chain(kept("json_decoder"))
        .collect()
}

#[test]
fn random_and_mutated_json_never_breaks_the_json_decoder() {
    let corpus = json_corpus(&mut seeded_runner());
    fuzz(&corpus, broker_wire::json::exercise_decode);
}
