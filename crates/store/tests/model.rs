//! Model-based suite: random operation sequences applied to a [`Store`] over each backend
//! and to a `BTreeMap` reference, compared after every step — results, changes, contents,
//! expiries — with a controllable clock. A memory clone replays the master's changes and
//! must converge to the same contents.

use std::collections::BTreeMap;
use std::net::IpAddr;

use broker_store::{
    Change, Entry, ErrorCode, Operation, SqliteBackend, SqliteOptions, Store, Synchronous,
};
use broker_wire::data::{Set, Table};
use broker_wire::{Data, Timespan, Timestamp};
use proptest::prelude::*;

/// The reference: key → (value, absolute expiry).
type Model = BTreeMap<Data, (Data, Option<Timestamp>)>;

/// One step of a test run.
#[derive(Debug, Clone)]
enum Step {
    /// Apply a write.
    Apply(Operation),
    /// Query `get_index_from_value(key, index)`.
    Index(Data, Data),
    /// Let time pass, then expire what is due.
    Advance(i64),
}

fn key_strategy() -> impl Strategy<Value = Data> {
    let v4: IpAddr = "10.0.0.1".parse().unwrap();
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    prop_oneof![
        prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(Data::string),
        Just(Data::Integer(1)),
        // Two spellings of one key: backends must treat them as the same key.
        Just(Data::Address(v4)),
        Just(Data::Address(mapped)),
    ]
}

fn scalar_strategy() -> impl Strategy<Value = Data> + Clone {
    prop_oneof![
        Just(Data::None),
        any::<bool>().prop_map(Data::Boolean),
        (0u64..4).prop_map(Data::Count),
        Just(Data::Count(u64::MAX)),
        (-3i64..4).prop_map(Data::Integer),
        prop::sample::select(vec![0.5, -1.25, 3.0]).prop_map(Data::Real),
        prop::sample::select(vec!["", "x", "yz"]).prop_map(Data::string),
        (-5i64..5).prop_map(|n| Data::Timespan(Timespan(n))),
        (0i64..5).prop_map(|n| Data::Timestamp(Timestamp(n))),
    ]
}

fn value_strategy() -> impl Strategy<Value = Data> {
    let small = scalar_strategy();
    prop_oneof![
        3 => small.clone(),
        1 => prop::collection::btree_set(small.clone(), 0..3).prop_map(Data::Set),
        1 => prop::collection::btree_map(small.clone(), small.clone(), 0..3).prop_map(Data::Table),
        1 => prop::collection::vec(small, 0..3).prop_map(Data::Vector),
    ]
}

fn expiry_strategy() -> impl Strategy<Value = Option<Timespan>> {
    prop::option::weighted(0.3, (0i64..20).prop_map(Timespan))
}

fn operation_strategy() -> impl Strategy<Value = Operation> {
    let (k, v, s, e) = (
        key_strategy,
        value_strategy,
        scalar_strategy,
        expiry_strategy,
    );
    prop_oneof![
        (k(), v(), e()).prop_map(|(key, value, expiry)| Operation::Put { key, value, expiry }),
        (k(), v(), e()).prop_map(|(key, value, expiry)| Operation::PutUnique {
            key,
            value,
            expiry
        }),
        k().prop_map(|key| Operation::Erase { key }),
        Just(Operation::Clear),
        (k(), s(), e()).prop_map(|(key, amount, expiry)| Operation::Increment {
            key,
            amount,
            expiry
        }),
        (k(), s(), e()).prop_map(|(key, amount, expiry)| Operation::Decrement {
            key,
            amount,
            expiry
        }),
        (k(), s(), e()).prop_map(|(key, suffix, expiry)| Operation::Append {
            key,
            suffix,
            expiry
        }),
        (k(), s(), prop::option::of(s()), e()).prop_map(|(key, index, value, expiry)| {
            Operation::InsertInto {
                key,
                index,
                value,
                expiry,
            }
        }),
        (k(), s(), e()).prop_map(|(key, index, expiry)| Operation::RemoveFrom {
            key,
            index,
            expiry
        }),
        (k(), s(), e()).prop_map(|(key, value, expiry)| Operation::Push { key, value, expiry }),
        (k(), e()).prop_map(|(key, expiry)| Operation::Pop { key, expiry }),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => operation_strategy().prop_map(Step::Apply),
        1 => (key_strategy(), scalar_strategy()).prop_map(|(k, i)| Step::Index(k, i)),
        2 => (0i64..15).prop_map(Step::Advance),
    ]
}

/// What the reference expects `op` to do at `now`: the change, or the error code.
fn model_apply(
    model: &mut Model,
    op: Operation,
    now: Timestamp,
) -> Result<Option<Change>, ErrorCode> {
    use ErrorCode::{NoSuchKey, TypeClash};
    let at = |ttl: Option<Timespan>| ttl.map(|t| Timestamp(now.0 + t.0));
    let current = |key: &Data| model.get(key).map(|(value, _)| value.clone());
    let (key, new, expiry) = match op {
        Operation::Erase { key } => {
            model.remove(&key);
            return Ok(Some(Change::Erase { key }));
        }
        Operation::Clear => {
            let keys = model.keys().cloned().collect();
            model.clear();
            return Ok(Some(Change::Clear { keys }));
        }
        Operation::PutUnique { key, .. } if model.contains_key(&key) => return Ok(None),
        Operation::Put { key, value, expiry } | Operation::PutUnique { key, value, expiry } => {
            (key, value, expiry)
        }
        Operation::Increment {
            key,
            amount,
            expiry,
        } => {
            let start = current(&key)
                .or_else(|| zero_of(&amount))
                .ok_or(TypeClash)?;
            let new = add(&start, &amount, 1).ok_or(TypeClash)?;
            (key, new, expiry)
        }
        Operation::Decrement {
            key,
            amount,
            expiry,
        } => {
            let start = current(&key)
                .or_else(|| zero_of(&amount))
                .ok_or(TypeClash)?;
            let new = add(&start, &amount, -1).ok_or(TypeClash)?;
            (key, new, expiry)
        }
        Operation::Append {
            key,
            suffix,
            expiry,
        } => {
            let new = match (current(&key), &suffix) {
                (None, Data::String(_)) => suffix.clone(),
                (Some(Data::String(head)), Data::String(tail)) => {
                    Data::String([head.as_slice(), tail].concat())
                }
                _ => return Err(TypeClash),
            };
            (key, new, expiry)
        }
        Operation::InsertInto {
            key,
            index,
            value,
            expiry,
        } => {
            let new = match (current(&key), value) {
                (None, None) => Data::Set(Set::from([index])),
                (None, Some(value)) => Data::Table(Table::from([(index, value)])),
                (Some(Data::Set(mut set)), None) => {
                    set.insert(index);
                    Data::Set(set)
                }
                (Some(Data::Table(mut table)), Some(value)) => {
                    table.insert(index, value);
                    Data::Table(table)
                }
                _ => return Err(TypeClash),
            };
            (key, new, expiry)
        }
        Operation::RemoveFrom { key, index, expiry } => {
            let new = match current(&key).ok_or(NoSuchKey)? {
                Data::Set(mut set) => {
                    set.remove(&index);
                    Data::Set(set)
                }
                Data::Table(mut table) => {
                    table.remove(&index);
                    Data::Table(table)
                }
                _ => return Err(TypeClash),
            };
            (key, new, expiry)
        }
        Operation::Push { key, value, expiry } => {
            let new = match current(&key) {
                None => Data::Vector(vec![value]),
                Some(Data::Vector(mut items)) => {
                    items.push(value);
                    Data::Vector(items)
                }
                Some(_) => return Err(TypeClash),
            };
            (key, new, expiry)
        }
        Operation::Pop { key, expiry } => {
            let new = match current(&key).ok_or(NoSuchKey)? {
                Data::Vector(mut items) => {
                    items.pop();
                    Data::Vector(items)
                }
                _ => return Err(TypeClash),
            };
            (key, new, expiry)
        }
    };
    let expiry = at(expiry);
    let old = model
        .insert(key.clone(), (new.clone(), expiry))
        .map(|(value, _)| value);
    Ok(Some(match old {
        None => Change::Insert {
            key,
            value: new,
            expiry,
        },
        Some(old) => Change::Update {
            key,
            old,
            new,
            expiry,
        },
    }))
}

/// `value + sign * amount` for the supported pairings, wrapping like two's complement.
/// The reference's start for a missing key: zero of the amount's type, the epoch for
/// a timespan.
fn zero_of(amount: &Data) -> Option<Data> {
    match amount {
        Data::Count(_) => Some(Data::Count(0)),
        Data::Integer(_) => Some(Data::Integer(0)),
        Data::Real(_) => Some(Data::Real(0.0)),
        Data::Timespan(_) => Some(Data::Timestamp(Timestamp(0))),
        _ => None,
    }
}

fn add(value: &Data, amount: &Data, sign: i64) -> Option<Data> {
    let wrap = |a: i64, b: i64| a.wrapping_add(b.wrapping_mul(sign));
    Some(match (value, amount) {
        (Data::Count(a), Data::Count(b)) => Data::Count(if sign > 0 {
            a.wrapping_add(*b)
        } else {
            a.wrapping_sub(*b)
        }),
        (Data::Integer(a), Data::Integer(b)) => Data::Integer(wrap(*a, *b)),
        (Data::Real(a), Data::Real(b)) => Data::Real(a + b * sign as f64),
        (Data::Timespan(a), Data::Timespan(b)) => Data::Timespan(Timespan(wrap(a.0, b.0))),
        (Data::Timestamp(a), Data::Timespan(b)) => Data::Timestamp(Timestamp(wrap(a.0, b.0))),
        _ => return None,
    })
}

/// What the reference expects `get_index_from_value(key, index)` to answer.
fn model_index(model: &Model, key: &Data, index: &Data) -> Result<Data, ErrorCode> {
    let (value, _) = model.get(key).ok_or(ErrorCode::NoSuchKey)?;
    match value {
        Data::Set(set) => Ok(Data::Boolean(set.contains(index))),
        Data::Table(table) => table.get(index).cloned().ok_or(ErrorCode::NoSuchKey),
        Data::Vector(items) => {
            let position = match index {
                Data::Count(n) => i128::from(*n),
                Data::Integer(n) => i128::from(*n),
                _ => return Err(ErrorCode::TypeClash),
            };
            usize::try_from(position)
                .ok()
                .and_then(|p| items.get(p).cloned())
                .ok_or(ErrorCode::NoSuchKey)
        }
        _ => Err(ErrorCode::TypeClash),
    }
}

/// Removes the reference's entries due at `now`; their keys, in key order.
fn model_expire(model: &mut Model, now: Timestamp) -> Vec<Data> {
    let due: Vec<Data> = model
        .iter()
        .filter(|(_, (_, expiry))| expiry.is_some_and(|at| at <= now))
        .map(|(key, _)| key.clone())
        .collect();
    for key in &due {
        model.remove(key);
    }
    due
}

/// Asserts that `store` holds exactly what the reference holds.
fn assert_matches(store: &Store, model: &Model, who: &str) -> Result<(), TestCaseError> {
    let expected: Vec<Entry> = model
        .iter()
        .map(|(key, (value, expiry))| Entry {
            key: key.clone(),
            value: value.clone(),
            expiry: *expiry,
        })
        .collect();
    prop_assert_eq!(store.snapshot().unwrap(), expected, "{} snapshot", who);
    let keys: Set = model.keys().cloned().collect();
    prop_assert_eq!(store.keys().unwrap(), keys, "{} keys", who);
    prop_assert_eq!(store.size().unwrap(), model.len() as u64, "{} size", who);
    let next = model.values().filter_map(|(_, expiry)| *expiry).min();
    prop_assert_eq!(store.next_expiry().unwrap(), next, "{} next expiry", who);
    for (key, (value, _)) in model {
        prop_assert!(store.exists(key).unwrap());
        prop_assert_eq!(
            store.get(key).unwrap(),
            Some(value.clone()),
            "{} get {}",
            who,
            key
        );
    }
    Ok(())
}

/// Runs `steps` on a master over `store`, a memory clone and the reference.
fn run(mut master: Store, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut model = Model::new();
    let mut clone = Store::in_memory();
    let mut now = Timestamp(0);
    for step in steps {
        match step {
            Step::Apply(op) => {
                let got = master.apply(op.clone(), now).map_err(|e| e.code());
                let expected = model_apply(&mut model, op.clone(), now);
                prop_assert_eq!(&got, &expected, "{:?}", op);
                if let Ok(Some(change)) = &got {
                    clone.apply_change(change).unwrap();
                }
            }
            Step::Index(key, index) => {
                let got = master
                    .get_index_from_value(&key, &index)
                    .map_err(|e| e.code());
                prop_assert_eq!(
                    got,
                    model_index(&model, &key, &index),
                    "{} [{}]",
                    key,
                    index
                );
            }
            Step::Advance(ticks) => {
                now = Timestamp(now.0 + ticks);
                let changes = master.expire_due(now).unwrap();
                for change in &changes {
                    clone.apply_change(change).unwrap();
                }
                let mut expired: Vec<Data> = changes
                    .into_iter()
                    .map(|change| match change {
                        Change::Expire { key } => key,
                        other => panic!("expire_due yielded {other:?}"),
                    })
                    .collect();
                expired.sort();
                prop_assert_eq!(
                    expired,
                    model_expire(&mut model, now),
                    "expired at {:?}",
                    now
                );
            }
        }
        assert_matches(&master, &model, "master")?;
        assert_matches(&clone, &model, "clone")?;
    }
    Ok(())
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step_strategy(), 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn memory_backend_follows_the_model(steps in steps()) {
        run(Store::in_memory(), steps)?;
    }

    #[test]
    fn sqlite_backend_follows_the_model(steps in steps()) {
        let dir = tempfile::tempdir().unwrap();
        let mut options = SqliteOptions::new(dir.path().join("model.db"));
        options.synchronous = Some(Synchronous::Off);
        run(Store::new(Box::new(SqliteBackend::open(&options).unwrap())), steps)?;
    }
}
