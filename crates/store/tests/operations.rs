//! Each operation's meaning, type clashes and expiry handling, on every backend.

use broker_store::{
    Change, ErrorCode, Operation, SqliteBackend, SqliteOptions, Store, StoreError, Synchronous,
};
use broker_wire::data::{DataType, Set, Table};
use broker_wire::{Data, Timespan, Timestamp};

const NOW: Timestamp = Timestamp(1_000);

/// Runs `check` on a fresh memory store and a fresh SQLite store.
fn on_every_backend(check: impl Fn(&mut Store)) {
    check(&mut Store::in_memory());
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteOptions::new(dir.path().join("store.db"));
    options.synchronous = Some(Synchronous::Off);
    check(&mut Store::new(Box::new(
        SqliteBackend::open(&options).unwrap(),
    )));
}

fn key(name: &str) -> Data {
    Data::string(name)
}

fn put(store: &mut Store, name: &str, value: impl Into<Data>) {
    let op = Operation::Put {
        key: key(name),
        value: value.into(),
        expiry: None,
    };
    store.apply(op, NOW).unwrap();
}

fn increment(name: &str, amount: impl Into<Data>) -> Operation {
    Operation::Increment {
        key: key(name),
        amount: amount.into(),
        expiry: None,
    }
}

fn decrement(name: &str, amount: impl Into<Data>) -> Operation {
    Operation::Decrement {
        key: key(name),
        amount: amount.into(),
        expiry: None,
    }
}

/// Applies `op`, expecting success, and returns the value it left under `name`.
fn applied(store: &mut Store, op: Operation, name: &str) -> Option<Data> {
    store.apply(op, NOW).unwrap();
    store.get(&key(name)).unwrap()
}

/// Applies `op`, expecting a type clash that leaves `name` unchanged.
fn assert_clash(store: &mut Store, op: Operation, name: &str) {
    let before = store.get_entry(&key(name)).unwrap();
    let err = store
        .apply(op.clone(), NOW)
        .expect_err("type clash expected");
    assert!(matches!(err, StoreError::TypeClash { .. }), "{op:?}: {err}");
    assert_eq!(err.code(), ErrorCode::TypeClash);
    assert_eq!(
        store.get_entry(&key(name)).unwrap(),
        before,
        "{op:?} changed the entry"
    );
}

/// Applies `op`, expecting `NoSuchKey` and no entry afterwards.
fn assert_no_such_key(store: &mut Store, op: Operation, name: &str) {
    let err = store
        .apply(op.clone(), NOW)
        .expect_err("no such key expected");
    assert!(matches!(err, StoreError::NoSuchKey { .. }), "{op:?}: {err}");
    assert_eq!(err.code(), ErrorCode::NoSuchKey);
    assert!(!store.exists(&key(name)).unwrap());
}

#[test]
fn increment_and_decrement_every_numeric_type() {
    on_every_backend(|store| {
        put(store, "c", 3u64);
        assert_eq!(
            applied(store, increment("c", 2u64), "c"),
            Some(Data::Count(5))
        );
        put(store, "i", 3i64);
        assert_eq!(
            applied(store, decrement("i", 5i64), "i"),
            Some(Data::Integer(-2))
        );
        put(store, "r", 1.5);
        assert_eq!(
            applied(store, increment("r", 2.0), "r"),
            Some(Data::Real(3.5))
        );
        put(store, "s", Timespan(10));
        let got = applied(store, decrement("s", Timespan(4)), "s");
        assert_eq!(got, Some(Data::Timespan(Timespan(6))));
        put(store, "t", Timestamp(100));
        let got = applied(store, increment("t", Timespan(5)), "t");
        assert_eq!(got, Some(Data::Timestamp(Timestamp(105))));
    });
}

#[test]
fn increment_and_decrement_create_missing_keys() {
    on_every_backend(|store| {
        assert_eq!(
            applied(store, increment("c", 7u64), "c"),
            Some(Data::Count(7))
        );
        assert_eq!(
            applied(store, increment("r", 0.5), "r"),
            Some(Data::Real(0.5))
        );
        // Broker 1.4: a missing key incremented by a timespan becomes a timestamp.
        let got = applied(store, increment("t", Timespan(9)), "t");
        assert_eq!(got, Some(Data::Timestamp(Timestamp(9))));
        // The spec: a missing key is created from the amount (Broker 1.4 refuses it).
        assert_eq!(
            applied(store, decrement("d", 3i64), "d"),
            Some(Data::Integer(-3))
        );
        assert_eq!(
            applied(store, decrement("dc", 1u64), "dc"),
            Some(Data::Count(u64::MAX))
        );
        assert_clash(store, increment("x", "text"), "x");
        assert!(!store.exists(&key("x")).unwrap());
    });
}

#[test]
fn counts_wrap_below_zero_as_in_broker() {
    on_every_backend(|store| {
        put(store, "c", 3u64);
        let got = applied(store, decrement("c", 5u64), "c");
        assert_eq!(got, Some(Data::Count(u64::MAX - 1)));
    });
}

#[test]
fn arithmetic_type_clashes_change_nothing() {
    on_every_backend(|store| {
        put(store, "i", 3i64);
        put(store, "c", 3u64);
        put(store, "t", Timestamp(1));
        put(store, "text", "abc");
        assert_clash(store, increment("i", 1u64), "i");
        assert_clash(store, increment("i", 1.0), "i");
        assert_clash(store, decrement("c", 1i64), "c");
        assert_clash(store, increment("t", 1i64), "t");
        assert_clash(store, increment("t", Timestamp(1)), "t");
        assert_clash(store, increment("text", 1i64), "text");
        let err = store.apply(increment("i", 1.0), NOW).unwrap_err();
        let expected = "type clash: increment on key i holding integer with real";
        assert_eq!(err.to_string(), expected);
        match err {
            StoreError::TypeClash {
                op,
                stored,
                operand,
                ..
            } => {
                assert_eq!(op, "increment");
                assert_eq!(stored, Some(DataType::Integer));
                assert_eq!(operand, Some(DataType::Real));
            }
            other => panic!("unexpected {other}"),
        }
    });
}

#[test]
fn append_extends_strings_only() {
    on_every_backend(|store| {
        let append = |name: &str, suffix: Data| Operation::Append {
            key: key(name),
            suffix,
            expiry: None,
        };
        assert_eq!(applied(store, append("s", key("ab")), "s"), Some(key("ab")));
        assert_eq!(
            applied(store, append("s", key("cd")), "s"),
            Some(key("abcd"))
        );
        put(store, "i", 1i64);
        assert_clash(store, append("i", key("x")), "i");
        assert_clash(store, append("s", Data::Integer(1)), "s");
    });
}

#[test]
fn insert_into_and_remove_from_sets_and_tables() {
    on_every_backend(|store| {
        let insert = |name: &str, index: i64, value: Option<Data>| Operation::InsertInto {
            key: key(name),
            index: Data::Integer(index),
            value,
            expiry: None,
        };
        let remove = |name: &str, index: i64| Operation::RemoveFrom {
            key: key(name),
            index: Data::Integer(index),
            expiry: None,
        };
        applied(store, insert("set", 1, None), "set");
        let got = applied(store, insert("set", 2, None), "set");
        assert_eq!(got, Some(Data::Set(Set::from([1.into(), 2.into()]))));
        let got = applied(store, insert("table", 1, Some("a".into())), "table");
        assert_eq!(
            got,
            Some(Data::Table(Table::from([(1.into(), "a".into())])))
        );
        // A falsy value still goes to the table.
        let got = applied(store, insert("table", 1, Some(Data::Integer(0))), "table");
        assert_eq!(got, Some(Data::Table(Table::from([(1.into(), 0.into())]))));
        assert_clash(store, insert("set", 3, Some(Data::None)), "set");
        assert_clash(store, insert("table", 3, None), "table");
        put(store, "i", 1i64);
        assert_clash(store, insert("i", 3, None), "i");

        let got = applied(store, remove("set", 1), "set");
        assert_eq!(got, Some(Data::Set(Set::from([2.into()]))));
        let got = applied(store, remove("set", 99), "set");
        assert_eq!(got, Some(Data::Set(Set::from([2.into()]))));
        assert_eq!(
            applied(store, remove("table", 1), "table"),
            Some(Data::Table(Table::new()))
        );
        assert_no_such_key(store, remove("missing", 1), "missing");
        assert_clash(store, remove("i", 1), "i");
    });
}

#[test]
fn push_and_pop_at_the_end_of_vectors() {
    on_every_backend(|store| {
        let push = |name: &str, value: i64| Operation::Push {
            key: key(name),
            value: Data::Integer(value),
            expiry: None,
        };
        let pop = |name: &str| Operation::Pop {
            key: key(name),
            expiry: None,
        };
        applied(store, push("v", 1), "v");
        let got = applied(store, push("v", 2), "v");
        assert_eq!(got, Some(Data::Vector(vec![1.into(), 2.into()])));
        assert_eq!(
            applied(store, pop("v"), "v"),
            Some(Data::Vector(vec![1.into()]))
        );
        applied(store, pop("v"), "v");
        // Popping an empty vector succeeds and reports an update, as Broker 1.4 does.
        let change = store.apply(pop("v"), NOW).unwrap();
        let empty = Data::Vector(vec![]);
        let expected = Change::Update {
            key: key("v"),
            old: empty.clone(),
            new: empty,
            expiry: None,
        };
        assert_eq!(change, Some(expected));
        assert_no_such_key(store, pop("missing"), "missing");
        put(store, "i", 1i64);
        assert_clash(store, push("i", 1), "i");
        assert_clash(store, pop("i"), "i");
    });
}

#[test]
fn get_index_from_value_per_container() {
    on_every_backend(|store| {
        put(store, "set", Data::Set(Set::from([1.into()])));
        put(
            store,
            "table",
            Data::Table(Table::from([(1.into(), "a".into())])),
        );
        put(store, "vec", Data::Vector(vec!["x".into(), "y".into()]));
        put(store, "i", 5i64);
        let index = |name: &str, i: Data| store.get_index_from_value(&key(name), &i);
        assert_eq!(index("set", 1.into()).unwrap(), Data::Boolean(true));
        assert_eq!(index("set", 2.into()).unwrap(), Data::Boolean(false));
        assert_eq!(index("table", 1.into()).unwrap(), Data::from("a"));
        assert_eq!(index("vec", 1u64.into()).unwrap(), Data::from("y"));
        assert_eq!(index("vec", 0i64.into()).unwrap(), Data::from("x"));
        let code = |r: Result<Data, StoreError>| r.unwrap_err().code();
        assert_eq!(code(index("table", 2.into())), ErrorCode::NoSuchKey);
        assert_eq!(code(index("vec", 2u64.into())), ErrorCode::NoSuchKey);
        assert_eq!(code(index("vec", (-1i64).into())), ErrorCode::NoSuchKey);
        assert_eq!(code(index("vec", "x".into())), ErrorCode::TypeClash);
        assert_eq!(code(index("i", 0.into())), ErrorCode::TypeClash);
        assert_eq!(code(index("missing", 0.into())), ErrorCode::NoSuchKey);
    });
}

#[test]
fn put_unique_inserts_only_absent_keys() {
    on_every_backend(|store| {
        let op = |value: i64, expiry: Option<Timespan>| Operation::PutUnique {
            key: key("k"),
            value: value.into(),
            expiry,
        };
        let inserted = store.apply(op(1, Some(Timespan(50))), NOW).unwrap();
        let expected = Change::Insert {
            key: key("k"),
            value: 1.into(),
            expiry: Some(Timestamp(NOW.0 + 50)),
        };
        assert_eq!(inserted, Some(expected));
        assert_eq!(store.apply(op(2, None), NOW).unwrap(), None);
        let entry = store.get_entry(&key("k")).unwrap().unwrap();
        assert_eq!(
            (entry.value, entry.expiry),
            (1.into(), Some(Timestamp(NOW.0 + 50)))
        );
    });
}

#[test]
fn erase_and_clear_report_what_they_removed() {
    on_every_backend(|store| {
        put(store, "b", 1i64);
        put(store, "a", 2i64);
        let erase_missing = Operation::Erase { key: key("zz") };
        let change = store.apply(erase_missing, NOW).unwrap();
        assert_eq!(change, Some(Change::Erase { key: key("zz") }));
        let change = store.apply(Operation::Clear, NOW).unwrap();
        let keys = vec![key("a"), key("b")];
        assert_eq!(change, Some(Change::Clear { keys }));
        assert_eq!(store.size().unwrap(), 0);
    });
}

#[test]
fn modifications_set_or_clear_the_expiry() {
    on_every_backend(|store| {
        let expiring = Operation::Put {
            key: key("n"),
            value: 1i64.into(),
            expiry: Some(Timespan(100)),
        };
        store.apply(expiring, NOW).unwrap();
        assert_eq!(store.next_expiry().unwrap(), Some(Timestamp(NOW.0 + 100)));
        // A failed operation keeps the expiry.
        assert_clash(store, increment("n", 1.0), "n");
        assert_eq!(store.next_expiry().unwrap(), Some(Timestamp(NOW.0 + 100)));
        // A successful one without expiry clears it.
        store.apply(increment("n", 1i64), NOW).unwrap();
        assert_eq!(store.next_expiry().unwrap(), None);
        assert!(store.expire_due(Timestamp(i64::MAX)).unwrap().is_empty());
        // And one with an expiry sets it, relative to the time of application.
        let renewed = Operation::Increment {
            key: key("n"),
            amount: 1i64.into(),
            expiry: Some(Timespan(10)),
        };
        store.apply(renewed, Timestamp(5_000)).unwrap();
        assert!(store.expire_due(Timestamp(5_009)).unwrap().is_empty());
        let expired = store.expire_due(Timestamp(5_010)).unwrap();
        assert_eq!(expired, vec![Change::Expire { key: key("n") }]);
        assert!(!store.exists(&key("n")).unwrap());
    });
}

#[test]
fn clones_converge_by_replaying_changes() {
    on_every_backend(|master| {
        let mut clone = Store::in_memory();
        let ops = [
            increment("a", 1u64),
            increment("a", 1u64),
            Operation::Put {
                key: key("b"),
                value: "x".into(),
                expiry: Some(Timespan(5)),
            },
            Operation::Erase { key: key("a") },
        ];
        for op in ops {
            let change = master.apply(op, NOW).unwrap().unwrap();
            clone.apply_change(&change).unwrap();
        }
        assert_eq!(clone.snapshot().unwrap(), master.snapshot().unwrap());
        // The clone keeps the expiry but leaves expiring to the master.
        for change in master.expire_due(Timestamp(NOW.0 + 5)).unwrap() {
            clone.apply_change(&change).unwrap();
        }
        assert_eq!(clone.size().unwrap(), 0);
    });
}

#[test]
fn operations_and_changes_travel_through_postcard() {
    let op = Operation::InsertInto {
        key: key("t"),
        index: Data::Count(1),
        value: Some(Data::Vector(vec![Data::None])),
        expiry: Some(Timespan(-3)),
    };
    let bytes = postcard::to_allocvec(&op).unwrap();
    assert_eq!(postcard::from_bytes::<Operation>(&bytes).unwrap(), op);
    let change = Change::Update {
        key: key("t"),
        old: Data::Set(Set::new()),
        new: Data::Table(Table::new()),
        expiry: Some(Timestamp(9)),
    };
    let bytes = postcard::to_allocvec(&change).unwrap();
    assert_eq!(postcard::from_bytes::<Change>(&bytes).unwrap(), change);
}
