//! Data stores across endpoints: a master and its clones converge, count every write, resync
//! after an outage, expire together, persist in SQLite, and publish store events.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use broker::actors::{
    CloneOptions, Config, Endpoint, ErrorCode, QueryError, Role, StatusEvent, Store,
};
use broker::store::BackendType;
use broker::{Data, Topic};
use common::*;

/// A master on node 0 and a clone on every other node, all peered with node 0.
fn star(clones: usize) -> (Net, Store, Vec<Store>) {
    let edges: Vec<(usize, usize)> = (1..=clones).map(|i| (i, 0)).collect();
    let net = Net::uniform(clones + 1, &edges);
    let master = net.nodes[0]
        .attach_master("s", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .expect("no other master");
    let replicas = (1..=clones)
        .map(|i| {
            net.nodes[i]
                .attach_clone("s")
                .unwrap()
                .expect("master reachable")
        })
        .collect();
    (net, master, replicas)
}

/// Every entry of a replica, in key order.
fn contents(store: &Store) -> Vec<(Data, Option<Data>)> {
    let keys = store.keys().unwrap();
    keys.into_iter()
        .map(|k| (k.clone(), store.get(&k).unwrap()))
        .collect()
}

/// Waits (bounded) until every replica holds what the master holds.
fn converged(master: &Store, clones: &[Store]) {
    assert!(master.await_idle(WAIT));
    let expected = contents(master);
    for (i, clone) in clones.iter().enumerate() {
        eventually(&format!("clone {i} to converge"), || {
            contents(clone) == expected
        });
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn random_write(store: &Store, random: &mut Random) {
    let key = Data::from(format!("k{}", random.below(8)));
    let n = Data::Count(random.below(100));
    match random.below(8) {
        0 => store.put(key, n, None),
        1 => store.erase(key),
        2 => store.increment(key, Data::Count(1), None),
        3 => store.push(key, n, None),
        4 => store.insert_into(key, n, None, None),
        5 => store.insert_into(key, n.clone(), Some(n), None),
        6 => store.append(key, Data::from("x"), None),
        _ => store.put(key, Data::from("text"), Some(Duration::from_secs(60))),
    }
}

/// Runs `write` on the master and every clone at once, each on its own thread with the
/// replica's index, and waits until every replica has handled its writes.
fn write_concurrently(
    master: &Store,
    clones: &[Store],
    write: impl Fn(usize, &Store) + Send + Sync + Copy + 'static,
) {
    let threads: Vec<_> = std::iter::once(master)
        .chain(clones)
        .cloned()
        .enumerate()
        .map(|(i, store)| {
            std::thread::spawn(move || {
                write(i, &store);
                assert!(store.await_idle(WAIT), "writer {i} idle");
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn random_writes_from_master_and_two_clones_converge() {
    let (_net, master, clones) = star(2);
    write_concurrently(&master, &clones, |i, store| {
        let mut random = Random(0x9E37_79B9 + i as u64);
        for _ in 0..300 {
            random_write(store, &mut random);
        }
    });
    converged(&master, &clones);
    assert!(!contents(&master).is_empty());
}

#[test]
fn increments_spread_over_three_replicas_all_count() {
    let (_net, master, clones) = star(2);
    write_concurrently(&master, &clones, |_, store| {
        for _ in 0..300 {
            store.increment(Data::from("hits"), Data::Count(1), None);
        }
    });
    for store in std::iter::once(&master).chain(&clones) {
        eventually("900 hits", || {
            store.get(&Data::from("hits")).unwrap() == Some(Data::Count(900))
        });
    }
}

#[test]
fn clone_that_misses_writes_while_unpeered_converges_after_re_peering() {
    let (net, master, clones) = star(1);
    for i in 0..20u64 {
        master.put(Data::Count(i), Data::Count(i), None);
    }
    converged(&master, &clones);

    assert!(net.nodes[1].unpeer("127.0.0.1", net.ports[0]));
    eventually("peering gone", || net.nodes[0].peers().is_empty());
    for i in 0..10u64 {
        master.erase(Data::Count(i));
    }
    master.put(Data::from("new"), Data::Count(1), None);
    master.increment(Data::Count(15), Data::Count(100), None);
    assert!(master.await_idle(WAIT));
    assert_eq!(
        clones[0].get(&Data::Count(0)).unwrap(),
        Some(Data::Count(0)),
        "the clone missed the erase"
    );

    net.nodes[1].peer("127.0.0.1", net.ports[0], None).unwrap();
    converged(&master, &clones);
    assert_eq!(
        clones[0].get(&Data::Count(15)).unwrap(),
        Some(Data::Count(115))
    );
}

#[test]
fn writes_made_while_the_master_is_unreachable_are_replayed_and_reads_turn_stale() {
    let net = Net::uniform(2, &[(1, 0)]);
    let master = net.nodes[0]
        .attach_master("s", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .unwrap();
    let options = CloneOptions {
        stale_interval: Duration::from_millis(300),
        request_timeout: Duration::from_millis(300),
        ..CloneOptions::default()
    };
    let clone = net.nodes[1]
        .attach_clone_with("s", options)
        .unwrap()
        .unwrap();
    master.put(Data::from("a"), Data::Count(1), None);
    eventually("a on the clone", || {
        clone.get(&Data::from("a")).ok().flatten().is_some()
    });

    assert!(net.nodes[1].unpeer("127.0.0.1", net.ports[0]));
    clone.put(Data::from("offline"), Data::Count(2), None);
    let unanswered = clone.put_unique(Data::from("u"), Data::Count(1), None);
    assert_eq!(unanswered.unwrap_err().code(), ErrorCode::RequestTimeOut);
    eventually("stale reads", || {
        matches!(
            clone.get(&Data::from("a")),
            Err(QueryError::StaleData { .. })
        )
    });
    assert_eq!(
        clone.get(&Data::from("a")).unwrap_err().code(),
        ErrorCode::StaleData
    );
    assert!(
        !clone.await_idle(Duration::from_millis(100)),
        "a buffered write is pending"
    );
    assert_eq!(master.get(&Data::from("offline")).unwrap(), None);

    net.nodes[1].peer("127.0.0.1", net.ports[0], None).unwrap();
    assert!(clone.await_idle(WAIT));
    assert_eq!(
        clone.get(&Data::from("offline")).unwrap(),
        Some(Data::Count(2))
    );
    assert_eq!(
        master.get(&Data::from("offline")).unwrap(),
        Some(Data::Count(2))
    );
}

#[test]
fn expiry_at_the_master_reaches_every_clone() {
    let (net, master, clones) = star(2);
    let events =
        net.nodes[1].make_subscriber(vec![Topic::from("<$>/local/data/store-events/s")], 64);
    master.put(
        Data::from("short"),
        Data::Count(1),
        Some(Duration::from_millis(300)),
    );
    master.put(Data::from("long"), Data::Count(2), None);
    for clone in &clones {
        eventually("short on the clone", || {
            clone.exists(&Data::from("short")).unwrap()
        });
    }
    let deadline = Instant::now() + WAIT;
    for clone in &clones {
        eventually("short expired on the clone", || {
            !clone.exists(&Data::from("short")).unwrap()
        });
        assert!(clone.exists(&Data::from("long")).unwrap());
    }
    assert!(!master.exists(&Data::from("short")).unwrap());
    let kinds: Vec<Data> = receive(&events, 3)
        .into_iter()
        .map(|(_, event)| event.as_vector().unwrap()[0].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            Data::from("insert"),
            Data::from("insert"),
            Data::from("expire")
        ]
    );
    assert!(Instant::now() < deadline);
}

#[test]
fn sqlite_contents_survive_a_master_restart() {
    let path = std::env::temp_dir().join(format!(
        "broker-stores-{}-{:?}.sqlite",
        std::process::id(),
        Instant::now()
    ));
    let options = BTreeMap::from([("path".to_owned(), Data::from(path.to_str().unwrap()))]);
    {
        let endpoint = Endpoint::new(Default::default()).unwrap();
        let master = endpoint
            .attach_master("persisted", BackendType::Sqlite, options.clone())
            .unwrap()
            .unwrap();
        master.put(Data::from("kept"), Data::Count(42), None);
        master.insert_into(Data::from("set"), Data::Count(1), None, None);
        master.put(Data::from("erased"), Data::Count(0), None);
        master.erase(Data::from("erased"));
        assert!(master.await_idle(WAIT));
        endpoint.shutdown();
        // The master stopped with its endpoint: requests fail at once instead of timing out.
        let refused = master.put_unique(Data::from("late"), Data::Count(1), None);
        assert!(
            matches!(refused, Err(QueryError::Closed { .. })),
            "{refused:?}"
        );
    }
    let net = Net::uniform(2, &[(1, 0)]);
    let master = net.nodes[0]
        .attach_master("persisted", BackendType::Sqlite, options)
        .unwrap()
        .unwrap();
    assert_eq!(
        master.get(&Data::from("kept")).unwrap(),
        Some(Data::Count(42))
    );
    assert_eq!(
        master
            .get_index_from_value(&Data::from("set"), &Data::Count(1))
            .unwrap(),
        Some(Data::Boolean(true))
    );
    assert_eq!(master.get(&Data::from("erased")).unwrap(), None);
    let clone = net.nodes[1].attach_clone("persisted").unwrap().unwrap();
    assert!(clone.await_idle(WAIT));
    assert_eq!(
        clone.get(&Data::from("kept")).unwrap(),
        Some(Data::Count(42))
    );
    drop((master, clone, net));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn store_events_for_put_put_erase_are_insert_update_erase_on_master_and_clone() {
    let (net, master, clones) = star(1);
    let topic = Topic::from("<$>/local/data/store-events/s");
    let at_master = net.nodes[0].make_subscriber(vec![topic.clone()], 16);
    let at_clone = net.nodes[1].make_subscriber(vec![topic.clone()], 16);
    master.put(Data::from("k"), Data::Count(1), None);
    master.put(
        Data::from("k"),
        Data::Count(2),
        Some(Duration::from_secs(60)),
    );
    master.erase(Data::from("k"));
    let publisher = Data::from(net.nodes[0].node_id().to_string());
    for events in [receive(&at_master, 3), receive(&at_clone, 3)] {
        assert_eq!(events.len(), 3);
        assert!(events.iter().all(|(t, _)| *t == topic));
        let fields: Vec<Vec<Data>> = events
            .into_iter()
            .map(|(_, e)| e.as_vector().unwrap().clone())
            .collect();
        let object = fields[0][6].clone();
        assert_eq!(
            fields[0],
            vec![
                "insert".into(),
                "s".into(),
                "k".into(),
                Data::Count(1),
                Data::None,
                publisher.clone(),
                object.clone()
            ]
        );
        assert_eq!(
            fields[1][..5],
            [
                Data::from("update"),
                "s".into(),
                "k".into(),
                Data::Count(1),
                Data::Count(2)
            ]
        );
        assert_eq!(
            fields[1][5],
            Data::Timespan(broker::wire::Timespan(60_000_000_000))
        );
        assert_eq!(
            fields[2],
            vec![
                "erase".into(),
                "s".into(),
                "k".into(),
                publisher.clone(),
                object
            ]
        );
    }
    drop(clones);
}

#[test]
fn put_unique_is_decided_by_the_master_also_from_a_clone() {
    let (_net, master, clones) = star(1);
    let unique = |store: &Store, value| {
        store
            .put_unique(Data::from("u"), Data::Count(value), None)
            .unwrap()
    };
    assert!(unique(&clones[0], 1), "absent: inserted");
    assert!(!unique(&master, 2), "present: refused at the master");
    assert!(!unique(&clones[0], 3), "present: refused for the clone");
    assert_eq!(master.get(&Data::from("u")).unwrap(), Some(Data::Count(1)));
    eventually("u on the clone", || {
        clones[0].get(&Data::from("u")).unwrap() == Some(Data::Count(1))
    });
}

#[test]
fn failed_operations_become_error_statuses_and_change_nothing() {
    let (net, master, clones) = star(1);
    let errors = net.nodes[0].make_status_subscriber(false);
    let clone_errors = net.nodes[1].make_status_subscriber(false);
    master.put(Data::from("s"), Data::from("text"), None);
    clones[0].increment(Data::from("s"), Data::Count(1), None);
    assert!(clones[0].await_idle(WAIT), "a failed write is answered too");
    master.pop(Data::from("missing"), None);
    let codes: Vec<ErrorCode> = (0..2)
        .map(|_| match next_event(&errors) {
            StatusEvent::Error(error) => error.code,
            other => panic!("expected an error, got {other:?}"),
        })
        .collect();
    assert_eq!(codes, vec![ErrorCode::TypeClash, ErrorCode::NoSuchKey]);
    match next_event(&clone_errors) {
        StatusEvent::Error(error) => assert_eq!(error.code, ErrorCode::TypeClash),
        other => panic!("expected the clone's error, got {other:?}"),
    }
    assert_eq!(
        master.get(&Data::from("s")).unwrap(),
        Some(Data::from("text"))
    );
    assert_eq!(master.get(&Data::from("missing")).unwrap(), None);
}

#[test]
fn attaching_respects_existing_masters() {
    let net = Net::uniform(2, &[(1, 0)]);
    let first = net.nodes[0]
        .attach_master("m", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .unwrap();
    let again = net.nodes[0]
        .attach_master("m", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .unwrap();
    again.put(Data::from("via"), Data::from("again"), None);
    assert_eq!(
        first.get(&Data::from("via")).unwrap(),
        Some(Data::from("again")),
        "the same master"
    );
    assert_eq!(first.role(), Role::Master);

    let errors = net.nodes[1].make_status_subscriber(false);
    await_subscription(&net.nodes[1], "m/<$>/data/master");
    assert!(net.nodes[1]
        .attach_master("m", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .is_none());
    match next_event(&errors) {
        StatusEvent::Error(error) => assert_eq!(error.code, ErrorCode::MasterExists),
        other => panic!("expected MasterExists, got {other:?}"),
    }
    let quick = CloneOptions {
        attach_timeout: Duration::from_millis(200),
        require_master: true,
        ..CloneOptions::default()
    };
    assert!(net.nodes[1]
        .attach_clone_with("nowhere", quick)
        .unwrap()
        .is_none());
    let clone = net.nodes[1].attach_clone("m").unwrap().unwrap();
    assert_eq!(clone.role(), Role::Clone);
    assert_eq!(
        clone.get(&Data::from("via")).unwrap(),
        Some(Data::from("again")),
        "synced on attach"
    );
}

/// Two peered endpoints with buffers of 4 messages everywhere, the master of store `s`
/// on the first and a clone on the second.
fn tiny_buffered_pair() -> (Net, Store, Store) {
    let tiny = || Config {
        peer_buffer: 4,
        subscriber_queue: 4,
        publisher_buffer: 4,
        ..Config::default()
    };
    let net = Net::build(vec![tiny(), tiny()], &[(1, 0)]);
    let master = net.nodes[0]
        .attach_master("s", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .expect("no other master");
    let clone = net.nodes[1]
        .attach_clone("s")
        .unwrap()
        .expect("master reachable");
    (net, master, clone)
}

/// A flood of clone writes with tiny buffers everywhere: the clone must keep applying the
/// master's changes while its own writes wait for room, or clone and master wait on each
/// other forever (each blocked publishing to the other, neither draining its input).
#[test]
fn clone_write_flood_with_tiny_buffers_completes() {
    let (_net, master, clone) = tiny_buffered_pair();
    // Large values so that socket buffers fill too.
    let value = Data::from("v".repeat(4096));
    for i in 0..20_000u64 {
        clone.put(Data::Count(i % 100), value.clone(), None);
    }
    assert!(clone.await_idle(WAIT), "clone writes stalled");
    assert!(master.await_idle(WAIT));
    assert_eq!(master.get(&Data::Count(99)).unwrap(), Some(value));
}

/// Floods from both ends at once, so that both directions of the peering are saturated:
/// master writes fill the master → clone direction, clone writes the clone → master one.
/// A store actor that stops draining its input while its own output waits for room closes
/// a cycle (clone waits on master, master waits on clone) and the writers never finish.
#[test]
fn writes_flooding_both_directions_with_tiny_buffers_complete() {
    let (_net, master, clone) = tiny_buffered_pair();
    let (done, finished) = std::sync::mpsc::channel();
    let writers: Vec<_> = [(&master, 0u64), (&clone, 1), (&clone, 2)]
        .into_iter()
        .map(|(store, writer)| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                // Large values so that socket buffers fill with few messages.
                let value = Data::from("v".repeat(4096));
                for i in 0..20_000u64 {
                    store.put(Data::Count(writer * 1000 + i % 100), value.clone(), None);
                }
                // The receiver is gone only once the test failed already.
                let _ = done.send(store.await_idle(WAIT));
            })
        })
        .collect();
    for _ in &writers {
        let idle = finished.recv_timeout(Duration::from_secs(60));
        assert_eq!(
            idle,
            Ok(true),
            "writers stalled: master and clone wait on each other"
        );
    }
    for writer in writers {
        writer.join().unwrap();
    }
}
