//! The fuzz corpus kept in the repository (`fuzz/corpus/<target>/`), replayed through
//! the function each cargo-fuzz target calls: inputs that once found something keep
//! being checked by the normal tests. `scripts/fuzz` grows the corpus; `fuzz_smoke.rs`
//! mutates it for a bounded time.
//!
//! Every target in `fuzz/fuzz_targets/` must be listed in [`TARGETS`] and have a corpus.
//! `frame_decoder`'s corpus was seeded with valid frames by `write_seed_corpus`
//! (ignored; run it with `--ignored` to reseed); `native_decoder`'s and `json_decoder`'s
//! with the test vectors of the protocol specs (handshake messages, envelopes, data and
//! error messages, an event holding every data kind).

mod common;

use std::path::{Path, PathBuf};

use broker_wire::codec::exercise_decode;
use common::{arb_frame, encode};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

/// What a fuzz target feeds its input to.
type Feed = fn(&[u8]);

/// Each fuzz target and the function it feeds.
const TARGETS: &[(&str, Feed)] = &[
    ("frame_decoder", exercise_decode),
    (
        "native_decoder",
        broker_wire::native::framing::exercise_decode,
    ),
    ("json_decoder", broker_wire::json::exercise_decode),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `target`'s corpus.
pub fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_target_is_replayed() {
    let targets = std::fs::read_dir(fuzz_dir().join("fuzz_targets")).unwrap();
    for entry in targets {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap();
        assert!(
            TARGETS.iter().any(|(target, _)| *target == name),
            "fuzz target {name} is missing from TARGETS"
        );
    }
}

#[test]
fn the_corpus_replays_without_a_finding() {
    for (target, feed) in TARGETS {
        let files = corpus(target);
        assert!(!files.is_empty(), "no corpus for {target}");
        for file in files {
            feed(&std::fs::read(&file).unwrap());
        }
    }
}

/// Writes valid streams of one to three random frames as the seed corpus of
/// `frame_decoder`.
#[test]
#[ignore = "writes fuzz/corpus/frame_decoder; run by hand to reseed"]
fn write_seed_corpus() {
    let dir = fuzz_dir().join("corpus/frame_decoder");
    std::fs::create_dir_all(&dir).unwrap();
    let mut runner = TestRunner::new_with_rng(
        Default::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let frames = proptest::collection::vec(arb_frame(), 1..4);
    for i in 0..64 {
        let stream = frames.new_tree(&mut runner).unwrap().current();
        let bytes: Vec<u8> = stream.iter().flat_map(encode).collect();
        std::fs::write(dir.join(format!("seed-{i:02}")), bytes).unwrap();
    }
}
