//! Feeds arbitrary bytes to the frame decoder; `exercise_decode` asserts that every
//! frame it decodes re-encodes to the same frame and that truncations are incomplete.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    broker_wire::codec::exercise_decode(bytes);
});
