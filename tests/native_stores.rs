//! Data stores across Broker's native protocol, against the real Broker (the reference's
//! Python bindings, `tests/reference/store.py`, in a subprocess): a Broker clone of a
//! broker-rs master, written to from both sides, with the initial snapshot, expiry and
//! `put_unique`. Skipped, with a message, when the reference is missing.

mod common;
mod reference;

use std::collections::BTreeMap;
use std::time::Duration;

use broker::actors::{Config, Endpoint, StatusCode, Store};
use broker::store::BackendType;
use broker::Data;
use common::{eventually, wait_statuses};
use reference::Script;

fn endpoint() -> Endpoint {
    let config = Config {
        disable_ssl: true,
        ..Config::default()
    };
    Endpoint::new(config).expect("endpoint")
}

fn int(n: i64) -> Data {
    Data::Integer(n)
}

/// Waits (bounded) until `store` holds `expected` at `key`.
fn holds(store: &Store, key: &str, expected: Option<Data>) {
    let key = Data::from(key);
    eventually(&format!("{key} = {expected:?} in our store"), || {
        store.get(&key).ok().flatten() == expected
    });
}

/// Has the reference wait (bounded) until its store holds `value` at `key`.
fn reference_holds(reference: &mut Script, key: &str, value: &str) {
    reference.command(&format!("await {key} {value}"));
    let line = reference.line(&format!("SAW {key}")[..3]);
    assert_eq!(
        line,
        format!("SAW {key} {}", if value == "none" { "None" } else { value })
    );
}

#[test]
fn a_broker_clone_of_our_master_follows_it_and_writes_through_it() {
    if !reference::available() {
        return;
    }
    let ours = endpoint();
    let port = ours.listen("127.0.0.1", 0).unwrap().to_string();
    let master = ours
        .attach_master("rs-master", BackendType::Memory, BTreeMap::new())
        .unwrap()
        .expect("a master");
    master.put("before".into(), int(1), None);
    let mut reference = Script::start("store.py", &["clone", &port, "rs-master"], &[]);
    reference.line("ATTACHED");
    // The snapshot, then our writes.
    reference_holds(&mut reference, "before", "1");
    master.put("ours".into(), int(2), None);
    master.increment("ours".into(), int(5), None);
    reference_holds(&mut reference, "ours", "7");
    master.erase("before".into());
    reference_holds(&mut reference, "before", "none");
    // The clone's writes, applied by our master and sent back to the clone.
    reference.command("put theirs 3");
    holds(&master, "theirs", Some(int(3)));
    reference.command("increment theirs 4");
    holds(&master, "theirs", Some(int(7)));
    reference_holds(&mut reference, "theirs", "7");
    reference.command("decrement theirs 2");
    holds(&master, "theirs", Some(int(5)));
    reference.command("erase ours");
    holds(&master, "ours", None);
    reference.command("put_unique theirs 9");
    assert_eq!(reference.line("PUT_UNIQUE"), "PUT_UNIQUE theirs False");
    reference.command("put_unique fresh 5");
    assert_eq!(reference.line("PUT_UNIQUE"), "PUT_UNIQUE fresh True");
    holds(&master, "fresh", Some(int(5)));
    // Expiry: ours and theirs, both expired by our master, both seen by the clone.
    master.put("brief".into(), int(1), Some(Duration::from_millis(600)));
    reference.command("put short 2 0.6");
    holds(&master, "short", Some(int(2)));
    holds(&master, "brief", None);
    holds(&master, "short", None);
    reference_holds(&mut reference, "brief", "none");
    reference_holds(&mut reference, "short", "none");
    // Clear, from the clone.
    reference.command("clear");
    eventually("our master cleared", || {
        master.keys().map(|k| k.is_empty()).unwrap_or(false)
    });
    reference_holds(&mut reference, "fresh", "none");
}

#[test]
fn our_clone_of_a_broker_master_follows_it_and_writes_through_it() {
    if !reference::available() {
        return;
    }
    let mut reference = Script::start("store.py", &["master", "ref-master"], &[]);
    let port: u16 = reference.line("PORT")["PORT ".len()..].parse().unwrap();
    reference.command("put before 1");
    reference_holds(&mut reference, "before", "1");
    let ours = endpoint();
    ours.peer("127.0.0.1", port, None)
        .expect("peered with Broker");
    let clone = ours.attach_clone("ref-master").unwrap().expect("a clone");
    // The snapshot (attach_clone returns once it is loaded), then the master's writes.
    assert_eq!(clone.get(&"before".into()).unwrap(), Some(int(1)));
    reference.command("put theirs 3");
    reference.command("increment theirs 4");
    holds(&clone, "theirs", Some(int(7)));
    reference.command("erase before");
    holds(&clone, "before", None);
    // Our writes, applied by Broker's master and sent back to us.
    clone.put("ours".into(), int(2), None);
    clone.increment("ours".into(), int(5), None);
    reference_holds(&mut reference, "ours", "7");
    holds(&clone, "ours", Some(int(7)));
    clone.decrement("theirs".into(), int(2), None);
    reference_holds(&mut reference, "theirs", "5");
    clone.erase("ours".into());
    reference_holds(&mut reference, "ours", "none");
    let put_unique = |key: &str, value| clone.put_unique(key.into(), int(value), None).ok();
    assert_eq!(put_unique("theirs", 9), Some(false), "the key exists");
    assert_eq!(put_unique("fresh", 5), Some(true));
    reference_holds(&mut reference, "fresh", "5");
    holds(&clone, "fresh", Some(int(5)));
    // Expiry: ours and theirs, both expired by Broker's master, both seen here.
    reference.command("put brief 1 0.6");
    clone.put("short".into(), int(2), Some(Duration::from_millis(600)));
    holds(&clone, "brief", Some(int(1)));
    holds(&clone, "short", Some(int(2)));
    holds(&clone, "brief", None);
    holds(&clone, "short", None);
    reference_holds(&mut reference, "short", "none");
    // Clear, from our clone.
    clone.clear();
    reference_holds(&mut reference, "fresh", "none");
    holds(&clone, "theirs", None);
}

#[test]
fn our_clone_of_a_broker_master_catches_up_after_the_peering_is_back() {
    if !reference::available() {
        return;
    }
    let mut reference = Script::start("store.py", &["master", "ref-resync"], &[]);
    let port: u16 = reference.line("PORT")["PORT ".len()..].parse().unwrap();
    reference.command("put a 0");
    reference_holds(&mut reference, "a", "0");
    let ours = endpoint();
    let statuses = ours.make_status_subscriber(true);
    ours.peer("127.0.0.1", port, None)
        .expect("peered with Broker");
    let clone = ours.attach_clone("ref-resync").unwrap().expect("a clone");
    assert_eq!(clone.get(&"a".into()).unwrap(), Some(int(0)));
    // A short outage (the master still knows the clone: it resends what was missed) and
    // one past Broker's connection timeout of 2 s (the master dropped the clone, which
    // attaches again).
    for (round, outage) in [(1, Duration::ZERO), (2, Duration::from_millis(2500))] {
        assert!(ours.unpeer("127.0.0.1", port));
        assert_eq!(wait_statuses(&statuses, StatusCode::PeerRemoved, 1), 1);
        // Changes the clone cannot hear of.
        reference.command(&format!("put a {round}"));
        reference.command(&format!("put b{round} {round}"));
        reference_holds(&mut reference, &format!("b{round}"), &round.to_string());
        std::thread::sleep(outage);
        ours.peer("127.0.0.1", port, None).expect("peered again");
        holds(&clone, "a", Some(int(round)));
        holds(&clone, &format!("b{round}"), Some(int(round)));
        // Both ways again.
        clone.put(format!("c{round}").into(), int(round), None);
        reference_holds(&mut reference, &format!("c{round}"), &round.to_string());
        reference.command(&format!("put d{round} {round}"));
        holds(&clone, &format!("d{round}"), Some(int(round)));
    }
}
