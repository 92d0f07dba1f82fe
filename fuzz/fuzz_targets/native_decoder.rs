//! Feeds arbitrary bytes to the native protocol's decoders; `exercise_decode` asserts
//! that every message it decodes re-encodes to the same message and that truncated
//! frames are incomplete.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    broker_wire::native::framing::exercise_decode(bytes);
});
