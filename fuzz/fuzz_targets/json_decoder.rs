//! Feeds arbitrary bytes to the WebSocket JSON decoder; `exercise_decode` asserts that
//! every value it decodes encodes, and that the encoding is a fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    broker_wire::json::exercise_decode(bytes);
});
