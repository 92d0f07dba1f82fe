//! Data stores through the Rust API: puts per second at a master (alone, and with a clone
//! following it over loopback), a clone's put until it is visible on that clone (a round
//! trip through the master), and a clone's local get.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker::actors::{Endpoint, Store};
use broker::store::BackendType;
use broker::Data;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WAIT: Duration = Duration::from_secs(30);
/// Keys cycle over this many counts.
const KEYS: u64 = 10_000;

/// A master on one endpoint and, if `with_clone`, a clone on a second one peered with it.
/// The endpoints are returned so that they outlive the stores.
fn setup(with_clone: bool) -> (Vec<Endpoint>, Store, Option<Store>) {
    let master_node = Endpoint::new(Default::default()).unwrap();
    let master = master_node
        .attach_master("bench", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .unwrap();
    if !with_clone {
        return (vec![master_node], master, None);
    }
    let port = master_node.listen("127.0.0.1", 0).unwrap();
    let clone_node = Endpoint::new(Default::default()).unwrap();
    clone_node.peer("127.0.0.1", port, None).unwrap();
    let clone = clone_node
        .attach_clone("bench")
        .unwrap()
        .expect("master reachable");
    (vec![master_node, clone_node], master, Some(clone))
}

/// `iters` puts, then waits until the store has handled all of them.
fn put_many(store: &Store, iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        store.put(Data::Count(i % KEYS), Data::Count(i), None);
    }
    assert!(store.await_idle(WAIT), "puts handled");
    start.elapsed()
}

fn master_puts(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_master");
    group.throughput(Throughput::Elements(1));
    let (_alone, master, _) = setup(false);
    group.bench_function("put", |b| b.iter_custom(|iters| put_many(&master, iters)));
    drop((master, _alone));
    let (_pair, master, _clone) = setup(true);
    group.bench_function("put_with_clone", |b| {
        b.iter_custom(|iters| put_many(&master, iters))
    });
    group.finish();
}

fn clone_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_clone");
    let (_pair, _master, clone) = setup(true);
    let clone = clone.unwrap();
    let mut next = 0u64;
    // `await_idle` returns once the master's change is applied on the clone.
    group.bench_function("put_until_visible", |b| {
        b.iter(|| {
            next += 1;
            clone.put(Data::from("latency"), Data::Count(next), None);
            assert!(clone.await_idle(WAIT));
        })
    });
    assert_eq!(
        clone.get(&Data::from("latency")).unwrap(),
        Some(Data::Count(next))
    );
    let key = Data::from("latency");
    group.bench_function("get", |b| b.iter(|| clone.get(&key).unwrap()));
    group.finish();
}

criterion_group!(benches, master_puts, clone_ops);
criterion_main!(benches);
