//! Store operations straight on the backends, without actors: the ceiling for a master's
//! throughput. Run with `cargo bench --bench store_backend`.

use std::path::Path;

use broker_store::{JournalMode, Operation, SqliteBackend, SqliteOptions, Store, Synchronous};
use broker_wire::{Data, Timespan, Timestamp};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Keys cycle through this many values, so the store stays a realistic, bounded size.
const KEYS: u64 = 100_000;

fn put(n: u64) -> Operation {
    Operation::Put {
        key: Data::Count(n % KEYS),
        value: Data::string("a value of moderate length"),
        expiry: None,
    }
}

fn sqlite_store(dir: &Path) -> Store {
    let options = SqliteOptions {
        synchronous: Some(Synchronous::Normal),
        journal_mode: Some(JournalMode::Wal),
        ..SqliteOptions::new(dir.join("bench.db"))
    };
    Store::new(Box::new(
        SqliteBackend::open(&options).expect("open sqlite"),
    ))
}

fn puts(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_put");
    group.throughput(Throughput::Elements(1));
    let dir = std::env::temp_dir().join(format!("broker-store-bench-{}", std::process::id()));
    let stores = [
        ("memory", Store::in_memory()),
        ("sqlite_wal_normal", sqlite_store(&dir)),
    ];
    for (name, mut store) in stores {
        let mut n = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                n += 1;
                store.apply(put(n), Timestamp(0)).expect("put")
            })
        });
    }
    group.finish();
    // Best effort: a leftover directory in the temp dir is harmless.
    let _ = std::fs::remove_dir_all(&dir);
}

fn memory_operations(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_memory");
    group.throughput(Throughput::Elements(1));
    let mut store = Store::in_memory();
    group.bench_function("increment", |b| {
        b.iter(|| {
            let op = Operation::Increment {
                key: Data::string("counter"),
                amount: Data::Count(1),
                expiry: None,
            };
            store.apply(op, Timestamp(0)).expect("increment")
        })
    });
    group.bench_function("put_with_expiry_then_expire", |b| {
        let mut n = 0i64;
        b.iter(|| {
            n += 1;
            let op = Operation::Put {
                key: Data::Integer(n),
                value: Data::Count(1),
                expiry: Some(Timespan(1)),
            };
            store.apply(op, Timestamp(n)).expect("put");
            store.expire_due(Timestamp(n + 1)).expect("expire")
        })
    });
    group.finish();
}

criterion_group!(benches, puts, memory_operations);
criterion_main!(benches);
