//! A bounded, seeded stand-in for `fuzz/` that runs with the normal tests: feeds
//! random and mutated frames (generated ones and the corpus kept in
//! `fuzz/corpus/frame_decoder/`) through `codec::exercise_decode`, the function the
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

/// Valid encodings of random frames (several per input, as a stream), and the corpus
/// kept in the repository, to mutate.
fn corpus(runner: &mut TestRunner) -> Vec<Vec<u8>> {
    let frames = proptest::collection::vec(arb_frame(), 1..3);
    let kept = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/frame_decoder"
    );
    let read = std::fs::read_dir(kept).expect("the corpus is in the repository");
    let mut kept: Vec<_> = read.map(|file| file.unwrap().path()).collect();
    kept.sort(); // the seeded mutations pick by index
    (0..256)
        .map(|_| {
            let stream = frames.new_tree(runner).expect("strategy works").current();
            stream.iter().flat_map(encode).collect()
        })
        .chain(kept.iter().map(|file| std::fs::read(file).unwrap()))
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
