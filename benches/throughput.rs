//! Pub/sub throughput through the Rust API: one peering and a 3-hop chain, small and
//! large payloads, over TLS (the default) and plaintext; and one plaintext peering
//! speaking Broker's native protocol (`native_only`) beside our own encoding. Each iteration publishes a
//! fixed number of messages in batches and waits until the last subscriber has all of
//! them.

use std::time::Duration;

use broker::actors::{Config, Endpoint, Subscriber};
use broker::{Data, Topic};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const MESSAGES: u64 = 200_000;
const BATCH: usize = 1_000;

/// A chain of `hops + 1` endpoints; node 0 publishes, the last one subscribes.
struct Chain {
    nodes: Vec<Endpoint>,
    sub: Subscriber,
}

fn chain(hops: usize, tls: bool, native: bool) -> Chain {
    let config = Config {
        disable_ssl: !tls,
        native_only: native,
        ..Config::default()
    };
    let nodes: Vec<Endpoint> = (0..=hops)
        .map(|_| Endpoint::new(config.clone()).unwrap())
        .collect();
    let sub = nodes[hops].make_subscriber(vec![Topic::from("/bench")], 65_536);
    for middle in &nodes[1..hops] {
        middle.forward(vec![Topic::from("/bench")]);
    }
    for pair in nodes.windows(2) {
        let port = pair[1].listen("127.0.0.1", 0).unwrap();
        pair[0].peer("127.0.0.1", port, None).unwrap();
    }
    assert!(
        nodes[0].await_peer_subscription(&Topic::from("/bench"), Duration::from_secs(10)),
        "filters did not propagate"
    );
    Chain { nodes, sub }
}

fn run(chain: &Chain, payload: &Data) {
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..MESSAGES / BATCH as u64 {
                chain.nodes[0].publish_batch(
                    (0..BATCH)
                        .map(|_| (Topic::from("/bench"), payload.clone()))
                        .collect(),
                );
            }
        });
        let mut received = 0;
        while received < MESSAGES as usize {
            let wanted = (MESSAGES as usize - received).min(65_536);
            let got = chain.sub.get_n(wanted, Some(Duration::from_secs(10)));
            assert!(!got.is_empty(), "stalled at {received}");
            received += got.len();
        }
    });
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("pubsub");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (hops, tls, native) in [
        (1, true, false),
        (1, false, false),
        (3, true, false),
        (3, false, false),
        (1, false, true),
    ] {
        let chain = chain(hops, tls, native);
        let security = match (tls, native) {
            (true, _) => "tls",
            (false, false) => "plain",
            (false, true) => "plain-native",
        };
        for (name, payload) in [
            ("small", Data::Count(42)),
            ("1KiB", Data::from("x".repeat(1024))),
        ] {
            group.bench_with_input(
                BenchmarkId::new(format!("{hops}hop-{security}"), name),
                &payload,
                |b, payload| b.iter(|| run(&chain, payload)),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
