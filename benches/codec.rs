//! Codec speed for the four payloads of `shared/bench/pybench.py`: encoding and
//! decoding one message per frame, 1000 messages per batch frame, and the fan-out
//! path (encode each message once, assemble batch frames from the encodings); and,
//! beside them, one message per frame in Broker's native protocol (`native/...`: a
//! data envelope in its length-prefixed frame).
//!
//! `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`; results in
//! `docs/performance.md`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use broker_wire::codec::{encode_message, FrameCodec};
use broker_wire::native::{EndpointId, Envelope, NativeCodec};
use broker_wire::zeek::Event;
use broker_wire::{Data, DataMessage, Frame, NodeId};

/// Messages per batch frame.
const BATCH: usize = 1000;

/// The payload of pybench's scenario `kind` for message `i`.
#[allow(clippy::approx_constant)] // pybench's literal 3.14, not an approximation of pi
fn payload(kind: &str, i: u64) -> Data {
    match kind {
        "small" => Data::Vector(vec![
            Data::Integer(i as i64),
            Data::from("some string"),
            Data::Real(3.14),
        ]),
        "vec100" => Data::Vector((0..100).map(Data::Integer).collect()),
        "table50" => Data::Table(
            (0..50)
                .map(|j| (Data::from(format!("key{j:02}")), Data::Count(j)))
                .collect(),
        ),
        "zeek" => Event::new("ping", vec![Data::from("some string"), Data::Count(i)]).into_data(),
        _ => unreachable!("unknown payload {kind}"),
    }
}

fn message(kind: &str, i: u64) -> DataMessage {
    DataMessage {
        origin: NodeId([0x5A; 16]),
        id: 1_000_000 + i,
        ttl: 20,
        topic: "/bench/data".into(),
        data: payload(kind, i),
    }
}

/// The native envelope carrying the same message as [`message`].
fn native_envelope(kind: &str, i: u64) -> Envelope {
    Envelope::publish(
        EndpointId::from_random([0x5A; 16]),
        "/bench/data".into(),
        payload(kind, i),
    )
}

fn encoded(codec: &FrameCodec, frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    codec.encode(frame, &mut out).expect("frame encodes");
    out
}

fn codec_benches(c: &mut Criterion) {
    let codec = FrameCodec::default();
    let native = NativeCodec::default();
    for kind in ["small", "vec100", "table50", "zeek"] {
        let mut group = c.benchmark_group(format!("codec/{kind}"));

        let single = Frame::Batch(vec![message(kind, 7)]);
        let single_bytes = encoded(&codec, &single);
        let batch = Frame::Batch((0..BATCH as u64).map(|i| message(kind, i)).collect());
        let batch_bytes = encoded(&codec, &batch);
        let Frame::Batch(messages) = &batch else {
            unreachable!()
        };
        let parts: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| {
                let mut part = Vec::new();
                encode_message(m, &mut part).expect("message encodes");
                part
            })
            .collect();
        let mut out = Vec::with_capacity(batch_bytes.len());

        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("encode", "frame"), |b| {
            b.iter(|| {
                out.clear();
                codec.encode(black_box(&single), &mut out).unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("decode", "frame"), |b| {
            b.iter(|| codec.decode(black_box(&single_bytes)).unwrap())
        });
        let envelope = native_envelope(kind, 7);
        let mut envelope_bytes = Vec::new();
        native
            .encode_envelope(&envelope, &mut envelope_bytes)
            .unwrap();
        group.bench_function(BenchmarkId::new("native/encode", "frame"), |b| {
            b.iter(|| {
                out.clear();
                native
                    .encode_envelope(black_box(&envelope), &mut out)
                    .unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("native/decode", "frame"), |b| {
            b.iter(|| native.decode_envelope(black_box(&envelope_bytes)).unwrap())
        });
        group.bench_function(BenchmarkId::new("encode", "message"), |b| {
            b.iter(|| {
                out.clear();
                encode_message(black_box(&messages[7]), &mut out).unwrap();
            })
        });

        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(BenchmarkId::new("encode", "batch"), |b| {
            b.iter(|| {
                out.clear();
                codec.encode(black_box(&batch), &mut out).unwrap();
            })
        });
        group.bench_function(BenchmarkId::new("decode", "batch"), |b| {
            b.iter(|| codec.decode(black_box(&batch_bytes)).unwrap())
        });
        group.bench_function(BenchmarkId::new("assemble", "batch"), |b| {
            b.iter(|| {
                out.clear();
                codec
                    .write_batch_frame(black_box(&parts), &mut out)
                    .unwrap();
            })
        });
        group.finish();
    }
}

criterion_group!(benches, codec_benches, json_benches);
criterion_main!(benches);

// WebSocket JSON v1 (`broker_wire::json`): one small Zeek event as a data message,
// per message, to see how many events per second one client's codec work allows.

fn json_benches(c: &mut Criterion) {
    use broker_wire::json::{DataMessage as JsonMessage, Decoder};

    let mut group = c.benchmark_group("codec/json-zeek");
    let message = JsonMessage {
        topic: "/bench/data".into(),
        data: payload("zeek", 7),
    };
    let mut text = String::new();
    message.encode(&mut text).expect("message encodes");
    let decoder = Decoder::default();
    let mut out = String::with_capacity(text.len());

    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("encode", "message"), |b| {
        b.iter(|| {
            out.clear();
            black_box(&message).encode(&mut out).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("decode", "message"), |b| {
        b.iter(|| decoder.data_message(black_box(text.as_bytes())).unwrap())
    });
    group.finish();
}
