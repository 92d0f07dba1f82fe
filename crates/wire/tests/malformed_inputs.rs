//! Hostile and broken input: every case ends in `Ok(None)` or a typed error, never a
//! panic, a stack overflow or an allocation driven by a lying length.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use broker_wire::codec::{encode_message, FrameCodec, DEFAULT_MAX_FRAME_LEN};
use broker_wire::frame::tag;
use broker_wire::limits::MAX_DEPTH;
use broker_wire::{Data, DataMessage, Frame, NodeId, WireError};
use common::{arb_frame, encode, nested_vectors};
use proptest::collection::vec;
use proptest::prelude::*;

/// Tracks the bytes each thread holds allocated and their peak, so tests can assert
/// that decoding never trusted a length it had not checked.
struct CountingAllocator;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let live = LIVE.with(|live| {
        live.set(live.get() + delta);
        live.get()
    });
    PEAK.with(|peak| peak.set(peak.get().max(live)));
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Old and new blocks may briefly coexist.
        track(new_size as isize);
        track(-(layout.size() as isize));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the peak of the bytes it held allocated.
fn peak_allocation_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let result = f();
    (result, (PEAK.with(Cell::get) - start) as usize)
}

/// `body` behind a length prefix announcing its length.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

/// A batch body holding one message whose data is encoded as `data`.
fn batch_body_with_data(data: &[u8]) -> Vec<u8> {
    let message = DataMessage {
        origin: NodeId([1; 16]),
        id: 3,
        ttl: 4,
        topic: "/t".into(),
        data: Data::None,
    };
    let mut body = vec![tag::BATCH, 1];
    encode_message(&message, &mut body).unwrap();
    body.pop(); // The encoding of `Data::None`, a single 0 byte.
    body.extend_from_slice(data);
    body
}

fn decode(bytes: &[u8]) -> Result<Option<(Frame, usize)>, WireError> {
    FrameCodec::default().decode(bytes)
}

#[test]
fn every_truncation_of_a_frame_is_incomplete() {
    let frame = Frame::Batch(vec![DataMessage {
        origin: NodeId([9; 16]),
        id: 1 << 40,
        ttl: 20,
        topic: "/zeek/events".into(),
        data: common::nested_vectors(5),
    }]);
    let bytes = encode(&frame);
    for end in 0..bytes.len() {
        assert!(matches!(decode(&bytes[..end]), Ok(None)), "prefix of {end}");
    }
}

#[test]
fn oversized_length_prefix_is_refused_before_the_body_arrives() {
    let codec = FrameCodec::new(1024);
    let (result, allocated) = peak_allocation_of(|| codec.decode(&u32::MAX.to_be_bytes()));
    assert!(matches!(
        result,
        Err(WireError::FrameTooLarge { len, cap: 1024 }) if len == u32::MAX as usize
    ));
    assert_eq!(allocated, 0, "nothing is allocated to refuse a frame");
    let just_over = framed(&vec![0; 1025]);
    assert!(matches!(
        codec.decode(&just_over[..4]),
        Err(WireError::FrameTooLarge { .. })
    ));
    let at_cap = framed(&[tag::PING; 1024]);
    assert!(matches!(codec.decode(&at_cap[..100]), Ok(None)));
}

#[test]
fn encoding_refuses_frames_above_the_cap() {
    let codec = FrameCodec::new(8);
    let mut out = vec![1, 2, 3];
    let frame = Frame::Filter(vec!["/a/long/topic".into()]);
    assert!(matches!(
        codec.encode(&frame, &mut out),
        Err(WireError::FrameTooLarge { .. })
    ));
    assert!(matches!(
        codec.write_batch_frame(&[[0u8; 8]], &mut out),
        Err(WireError::FrameTooLarge { len: 10, cap: 8 })
    ));
    assert_eq!(
        out,
        [1, 2, 3],
        "a refused frame leaves the buffer as it was"
    );
}

#[test]
fn corrupted_length_prefix_is_a_clean_error() {
    let bytes = encode(&Frame::Filter(vec!["/a".into(), "/b".into()]));
    let body = &bytes[4..];
    // Announcing one byte less cuts the body short.
    let mut shorter = ((body.len() - 1) as u32).to_be_bytes().to_vec();
    shorter.extend_from_slice(body);
    assert!(matches!(decode(&shorter), Err(WireError::Malformed(_))));
    // Announcing one byte more swallows a byte of whatever follows.
    let mut longer = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    longer.extend_from_slice(body);
    assert!(matches!(decode(&longer), Ok(None)));
    longer.push(tag::GOODBYE);
    assert!(matches!(decode(&longer), Err(WireError::TrailingBytes(1))));
    // A zero-length body is no frame.
    assert!(matches!(decode(&framed(&[])), Err(WireError::Malformed(_))));
}

#[test]
fn unknown_tags_are_malformed() {
    let cases: [&[u8]; 6] = [
        &[tag::STORE + 1],
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
        &[tag::STORE, 1, 0, 0],
        // A value of type 15, a port of protocol 4, a boolean of 2.
        &batch_body_with_data(&[15]),
        &batch_body_with_data(&[8, 80, 4]),
        &batch_body_with_data(&[1, 2]),
    ];
    for body in cases {
        assert!(
            matches!(decode(&framed(body)), Err(WireError::Malformed(_))),
            "{body:?}"
        );
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut body = encode(&Frame::Ping(5))[4..].to_vec();
    body.extend_from_slice(&[0, 0]);
    assert!(matches!(
        decode(&framed(&body)),
        Err(WireError::TrailingBytes(2))
    ));
}

#[test]
fn lying_element_counts_allocate_within_the_frame_size() {
    // 100 nested vectors each claiming 2000 elements, then 2000 `nil`s: every claim
    // is plausible given the bytes left, but together they are a lie.
    let mut nested = Vec::new();
    for _ in 0..100 {
        nested.extend_from_slice(&[14, 0xd0, 0x0f]);
    }
    nested.extend_from_slice(&[0; 2000]);
    let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
    let bodies = [
        batch_body_with_data(&nested),
        [&[tag::BATCH][..], &huge].concat(),
        [&[tag::FILTER][..], &huge].concat(),
        batch_body_with_data(&[[5].as_slice(), &huge].concat()),
    ];
    for body in bodies {
        let bytes = framed(&body);
        let (result, allocated) = peak_allocation_of(|| decode(&bytes));
        assert!(matches!(result, Err(WireError::Malformed(_))), "{result:?}");
        // Each input byte accounts for at most one reserved and one decoded value
        // (plus growth slack); trusting the claims would take 100 x 2000 values.
        let bound = 3 * std::mem::size_of::<Data>() * bytes.len();
        assert!(
            allocated <= bound,
            "allocated {allocated} bytes for {} input bytes",
            bytes.len()
        );
    }
}

#[test]
fn nesting_up_to_the_limit_round_trips_and_beyond_it_is_refused() {
    let deepest = nested_vectors(MAX_DEPTH);
    let frame = Frame::Batch(vec![DataMessage {
        origin: NodeId([0; 16]),
        id: 0,
        ttl: 1,
        topic: "/deep".into(),
        data: deepest,
    }]);
    let bytes = encode(&frame);
    let (back, _) = decode(&bytes).unwrap().unwrap();
    assert_eq!(back, frame);
    drop(back); // Dropping the deepest decodable value is fine too.

    let too_deep = Frame::Batch(vec![DataMessage {
        data: nested_vectors(MAX_DEPTH + 1),
        ..match frame {
            Frame::Batch(mut messages) => messages.remove(0),
            _ => unreachable!(),
        }
    }]);
    let mut out = Vec::new();
    let result = FrameCodec::default().encode(&too_deep, &mut out);
    assert!(
        matches!(result, Err(WireError::TooDeep(MAX_DEPTH))),
        "{result:?}"
    );
    assert!(out.is_empty());
    let mut body = batch_body_with_data(&[]);
    body.extend(std::iter::repeat_n([14, 1], MAX_DEPTH + 1).flatten());
    body.push(0);
    assert!(matches!(
        decode(&framed(&body)),
        Err(WireError::TooDeep(MAX_DEPTH))
    ));
}

/// A million nested vectors, sets or table keys are refused, on a small stack too.
#[test]
fn a_million_levels_of_nesting_do_not_overflow_the_stack() {
    let levels = 1_000_000;
    let containers: [&[u8]; 3] = [&[14, 1], &[12, 1], &[13, 1]];
    for container in containers {
        let mut body = batch_body_with_data(&[]);
        body.extend(container.iter().copied().cycle().take(2 * levels));
        body.push(0);
        let bytes = framed(&body);
        assert!(bytes.len() < DEFAULT_MAX_FRAME_LEN);
        let result = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || decode(&bytes).map(|_| ()))
            .unwrap()
            .join()
            .expect("decoding must not crash");
        assert!(
            matches!(result, Err(WireError::TooDeep(MAX_DEPTH))),
            "{result:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let _ = decode(&framed(&bytes));
        let _ = FrameCodec::default().decode_handshake(&framed(&bytes));
    }

    #[test]
    fn corrupted_frames_never_panic(frame in arb_frame(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = encode(&frame);
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        let _ = decode(&bytes);
        let _ = decode(&framed(&bytes[4..]));
    }
}
