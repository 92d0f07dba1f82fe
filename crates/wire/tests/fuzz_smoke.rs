//! A bounded, seeded stand-in for `fuzz/` that runs with the normal tests: feeds
//! random and mutated frames through `codec::exercise_decode`, the function the
//! cargo-fuzz target calls.

mod common;

use std::time::{Duration, Instant};

use broker_wire::codec::exercise_decode;
use common::{arb_frame, encode};
use proptest::prelude::RngExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// Inputs to try at most, and the wall-clock budget for trying them.
const MAX_INPUTS: usize = 300_000;
const BUDGET: Duration = Duration::from_secs(4);

/// Valid encodings of random frames (several per input, as a stream), to mutate.
fn corpus(runner: &mut TestRunner) -> Vec<Vec<u8>> {
    let frames = proptest::collection::vec(arb_frame(), 1..3);
    (0..256)
        .map(|_| {
            let stream = frames.new_tree(runner).expect("strategy works").current();
            stream.iter().flat_map(encode).collect()
        })
        .collect()
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

#[test]
fn random_and_mutated_inputs_never_break_the_decoder() {
    let mut runner = TestRunner::new_with_rng(
        Default::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let corpus = corpus(&mut runner);
    for input in &corpus {
        exercise_decode(input);
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
        exercise_decode(&input);
        tried += 1;
    }
    assert!(tried >= 1000, "only {tried} inputs tried");
}

// The WebSocket JSON decoder, the same way: encoder output of random values (as
// values and as data messages), mutated, through `json::exercise_decode`.

/// Valid JSON of random values and data messages, to mutate.
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
        .collect()
}

#[test]
fn random_and_mutated_json_never_breaks_the_decoder() {
    let mut runner = TestRunner::new_with_rng(
        Default::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]),
    );
    let corpus = json_corpus(&mut runner);
    for input in &corpus {
        broker_wire::json::exercise_decode(input);
    }
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[43; 32]);
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
        broker_wire::json::exercise_decode(&input);
        tried += 1;
    }
    assert!(tried >= 1000, "only {tried} inputs tried");
}
