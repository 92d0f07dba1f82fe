//! The value-level meaning of each operation: given the current value (or none), the new
//! value or the reason the operation does not apply. Pure functions; [`Store`](crate::Store)
//! adds keys, expiries and backends. See [`Operation`](crate::Operation) for the contract
//! of each.

use broker_wire::{Data, Timespan, Timestamp};

/// Why an operation does not apply to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The operation needs an existing value.
    NoSuchKey,
    /// The value or operand has the wrong type.
    TypeClash,
}

/// The outcome of an operation on a value.
pub(crate) type Outcome = Result<Data, Refusal>;

/// `current + amount`, or the value a missing key starts from.
pub(crate) fn increment(current: Option<Data>, amount: &Data) -> Outcome {
    arithmetic(
        current.map_or_else(|| zero_like(amount), Ok)?,
        amount,
        Sign::Plus,
    )
}

/// `current - amount`; a missing key starts from zero like [`increment`]'s, as the spec
/// says (Broker 1.4 refuses it with `NoSuchKey` instead).
pub(crate) fn decrement(current: Option<Data>, amount: &Data) -> Outcome {
    arithmetic(
        current.map_or_else(|| zero_like(amount), Ok)?,
        amount,
        Sign::Minus,
    )
}

/// What a missing key counts from under `amount`: zero of its type, and the epoch for a
/// timespan (Broker 1.4: incrementing a missing key by a timespan makes a timestamp).
fn zero_like(amount: &Data) -> Outcome {
    match amount {
        Data::Count(_) => Ok(Data::Count(0)),
        Data::Integer(_) => Ok(Data::Integer(0)),
        Data::Real(_) => Ok(Data::Real(0.0)),
        Data::Timespan(_) => Ok(Data::Timestamp(Timestamp(0))),
        _ => Err(Refusal::TypeClash),
    }
}

/// Whether [`arithmetic`] adds or subtracts.
#[derive(Clone, Copy)]
enum Sign {
    Plus,
    Minus,
}

/// `value ± amount` for the pairings Broker supports; integers wrap like C++'s.
fn arithmetic(value: Data, amount: &Data, sign: Sign) -> Outcome {
    let plus = matches!(sign, Sign::Plus);
    let wrap = |a: i64, b: i64| {
        if plus {
            a.wrapping_add(b)
        } else {
            a.wrapping_sub(b)
        }
    };
    Ok(match (value, amount) {
        (Data::Count(a), Data::Count(b)) => Data::Count(if plus {
            a.wrapping_add(*b)
        } else {
            a.wrapping_sub(*b)
        }),
        (Data::Integer(a), Data::Integer(b)) => Data::Integer(wrap(a, *b)),
        (Data::Real(a), Data::Real(b)) => Data::Real(if plus { a + b } else { a - b }),
        (Data::Timespan(a), Data::Timespan(b)) => Data::Timespan(Timespan(wrap(a.0, b.0))),
        (Data::Timestamp(a), Data::Timespan(b)) => Data::Timestamp(Timestamp(wrap(a.0, b.0))),
        _ => return Err(Refusal::TypeClash),
    })
}

/// `current` with the string `suffix` appended.
pub(crate) fn append(current: Option<Data>, suffix: &Data) -> Outcome {
    let Data::String(tail) = suffix else {
        return Err(Refusal::TypeClash);
    };
    match current {
        None => Ok(suffix.clone()),
        Some(Data::String(mut text)) => {
            text.extend_from_slice(tail);
            Ok(Data::String(text))
        }
        Some(_) => Err(Refusal::TypeClash),
    }
}

/// `current` with `index` added to a set, or `index → value` put into a table.
pub(crate) fn insert_into(current: Option<Data>, index: Data, value: Option<Data>) -> Outcome {
    match (current, value) {
        (None, None) => Ok(Data::Set([index].into())),
        (None, Some(value)) => Ok(Data::Table([(index, value)].into())),
        (Some(Data::Set(mut set)), None) => {
            set.insert(index);
            Ok(Data::Set(set))
        }
        (Some(Data::Table(mut table)), Some(value)) => {
            table.insert(index, value);
            Ok(Data::Table(table))
        }
        (Some(_), _) => Err(Refusal::TypeClash),
    }
}

/// `current` without the set element or table key `index`.
pub(crate) fn remove_from(current: Option<Data>, index: &Data) -> Outcome {
    match current.ok_or(Refusal::NoSuchKey)? {
        Data::Set(mut set) => {
            set.remove(index);
            Ok(Data::Set(set))
        }
        Data::Table(mut table) => {
            table.remove(index);
            Ok(Data::Table(table))
        }
        _ => Err(Refusal::TypeClash),
    }
}

/// `current` with `value` appended to a vector.
pub(crate) fn push(current: Option<Data>, value: Data) -> Outcome {
    match current {
        None => Ok(Data::Vector(vec![value])),
        Some(Data::Vector(mut items)) => {
            items.push(value);
            Ok(Data::Vector(items))
        }
        Some(_) => Err(Refusal::TypeClash),
    }
}

/// `current` without its last element.
pub(crate) fn pop(current: Option<Data>) -> Outcome {
    match current.ok_or(Refusal::NoSuchKey)? {
        Data::Vector(mut items) => {
            items.pop();
            Ok(Data::Vector(items))
        }
        _ => Err(Refusal::TypeClash),
    }
}

/// What `index` designates in `value`: set membership as a boolean, a table's value, or a
/// vector's element (index a count or non-negative integer). An absent table key or
/// out-of-range position is `NoSuchKey`. Broker 1.4 answers any non-container value
/// with the value itself; here that is a type clash.
pub(crate) fn index_of(value: &Data, index: &Data) -> Outcome {
    match value {
        Data::Set(set) => Ok(Data::Boolean(set.contains(index))),
        Data::Table(table) => table.get(index).cloned().ok_or(Refusal::NoSuchKey),
        Data::Vector(items) => {
            let position = match index {
                Data::Count(n) => usize::try_from(*n).ok(),
                Data::Integer(n) => usize::try_from(*n).ok(),
                _ => return Err(Refusal::TypeClash),
            };
            position
                .and_then(|p| items.get(p))
                .cloned()
                .ok_or(Refusal::NoSuchKey)
        }
        _ => Err(Refusal::TypeClash),
    }
}
