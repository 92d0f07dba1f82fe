//! The `Data` layouts of operations, changes and message fields, shared by the messages.

use broker_wire::{Data, Timespan, Timestamp};

use super::{EntityId, MessageError};
use crate::backend::Entry;
use crate::operation::{Change, Operation};

/// An operation as `(name, fields...)`; see `docs/wire.md` for each layout. Expiries are
/// timespans or nil; `insert_into`'s value is `()` for a set and `(value)` for a table.
pub fn operation_to_data(op: &Operation) -> Data {
    let ttl = |expiry: &Option<Timespan>| expiry.map_or(Data::None, Data::Timespan);
    let mut fields: Vec<Data> = vec![op.name().into()];
    match op {
        Operation::Put { key, value, expiry } | Operation::PutUnique { key, value, expiry } => {
            fields.extend([key.clone(), value.clone(), ttl(expiry)])
        }
        Operation::Erase { key } => fields.push(key.clone()),
        Operation::Clear => {}
        Operation::Increment {
            key,
            amount,
            expiry,
        }
        | Operation::Decrement {
            key,
            amount,
            expiry,
        } => fields.extend([key.clone(), amount.clone(), ttl(expiry)]),
        Operation::Append {
            key,
            suffix,
            expiry,
        } => fields.extend([key.clone(), suffix.clone(), ttl(expiry)]),
        Operation::InsertInto {
            key,
            index,
            value,
            expiry,
        } => fields.extend([
            key.clone(),
            index.clone(),
            Data::Vector(value.iter().cloned().collect()),
            ttl(expiry),
        ]),
        Operation::RemoveFrom { key, index, expiry } => {
            fields.extend([key.clone(), index.clone(), ttl(expiry)])
        }
        Operation::Push { key, value, expiry } => {
            fields.extend([key.clone(), value.clone(), ttl(expiry)])
        }
        Operation::Pop { key, expiry } => fields.extend([key.clone(), ttl(expiry)]),
    }
    Data::Vector(fields)
}

/// Parses [`operation_to_data`]'s layout.
pub fn operation_from_data(data: &Data) -> Result<Operation, MessageError> {
    let (tag, fields) = tagged(data)?;
    let f = Fields::new("operation", fields);
    let key = || f.get(0, "key").cloned();
    let second = |field| f.get(1, field).cloned();
    Ok(match tag {
        "put" => Operation::Put {
            key: key()?,
            value: second("value")?,
            expiry: f.timespan(2)?,
        },
        "put_unique" => Operation::PutUnique {
            key: key()?,
            value: second("value")?,
            expiry: f.timespan(2)?,
        },
        "erase" => Operation::Erase { key: key()? },
        "clear" => Operation::Clear,
        "increment" => Operation::Increment {
            key: key()?,
            amount: second("amount")?,
            expiry: f.timespan(2)?,
        },
        "decrement" => Operation::Decrement {
            key: key()?,
            amount: second("amount")?,
            expiry: f.timespan(2)?,
        },
        "append" => Operation::Append {
            key: key()?,
            suffix: second("suffix")?,
            expiry: f.timespan(2)?,
        },
        "insert_into" => Operation::InsertInto {
            key: key()?,
            index: second("index")?,
            value: match f.vector(2, "value")?.as_slice() {
                [] => None,
                [value] => Some(value.clone()),
                _ => return Err(f.malformed("value")),
            },
            expiry: f.timespan(3)?,
        },
        "remove_from" => Operation::RemoveFrom {
            key: key()?,
            index: second("index")?,
            expiry: f.timespan(2)?,
        },
        "push" => Operation::Push {
            key: key()?,
            value: second("value")?,
            expiry: f.timespan(2)?,
        },
        "pop" => Operation::Pop {
            key: key()?,
            expiry: f.timespan(1)?,
        },
        other => return Err(MessageError::UnknownMessage(other.to_owned())),
    })
}

/// A change as `(kind, fields...)`: `("insert", key, value, expiry)`,
/// `("update", key, old, new, expiry)`, `("erase", key)`, `("expire", key)`,
/// `("clear", (keys...))`; expiries are timestamps or nil.
pub fn change_to_data(change: &Change) -> Data {
    let at = |expiry: &Option<Timestamp>| expiry.map_or(Data::None, Data::Timestamp);
    vector(match change {
        Change::Insert { key, value, expiry } => {
            vec!["insert".into(), key.clone(), value.clone(), at(expiry)]
        }
        Change::Update {
            key,
            old,
            new,
            expiry,
        } => vec![
            "update".into(),
            key.clone(),
            old.clone(),
            new.clone(),
            at(expiry),
        ],
        Change::Erase { key } => vec!["erase".into(), key.clone()],
        Change::Expire { key } => vec!["expire".into(), key.clone()],
        Change::Clear { keys } => vec!["clear".into(), Data::Vector(keys.clone())],
    })
}

/// Parses [`change_to_data`]'s layout.
pub fn change_from_data(data: &Data) -> Result<Change, MessageError> {
    let (tag, fields) = tagged(data)?;
    let f = Fields::new("change", fields);
    let key = || f.get(0, "key").cloned();
    Ok(match tag {
        "insert" => Change::Insert {
            key: key()?,
            value: f.get(1, "value")?.clone(),
            expiry: f.expiry(2)?,
        },
        "update" => Change::Update {
            key: key()?,
            old: f.get(1, "old")?.clone(),
            new: f.get(2, "new")?.clone(),
            expiry: f.expiry(3)?,
        },
        "erase" => Change::Erase { key: key()? },
        "expire" => Change::Expire { key: key()? },
        "clear" => Change::Clear {
            keys: f.vector(0, "keys")?.clone(),
        },
        other => return Err(MessageError::UnknownMessage(other.to_owned())),
    })
}

pub(super) fn entry_from_data(data: &Data) -> Result<Entry, MessageError> {
    let malformed = MessageError::Malformed {
        tag: "snapshot",
        field: "entry",
    };
    let fields = data.as_vector().ok_or(malformed.clone())?;
    let f = Fields::new("snapshot", fields);
    Ok(Entry {
        key: f.get(0, "entry")?.clone(),
        value: f.get(1, "entry")?.clone(),
        expiry: f.expiry(2)?,
    })
}

pub(super) fn vector(fields: Vec<Data>) -> Data {
    Data::Vector(fields)
}

pub(super) fn entity_fields(entity: &EntityId) -> [Data; 2] {
    [
        Data::from(entity.node.to_string()),
        Data::Count(entity.object),
    ]
}

/// The tag and the remaining fields of a message vector.
pub(super) fn tagged(data: &Data) -> Result<(&str, &[Data]), MessageError> {
    match data.as_vector().map(Vec::as_slice) {
        Some([tag, fields @ ..]) => match tag.as_str() {
            Some(tag) => Ok((tag, fields)),
            None => Err(MessageError::UnknownMessage(tag.to_string())),
        },
        _ => Err(MessageError::UnknownMessage(data.to_string())),
    }
}

/// Typed access to the fields after a message's tag.
pub(super) struct Fields<'a> {
    tag: &'static str,
    fields: &'a [Data],
}

impl<'a> Fields<'a> {
    pub(super) fn new(tag: &'static str, fields: &'a [Data]) -> Self {
        Fields { tag, fields }
    }

    pub(super) fn malformed(&self, field: &'static str) -> MessageError {
        MessageError::Malformed {
            tag: self.tag,
            field,
        }
    }

    pub(super) fn get(&self, i: usize, field: &'static str) -> Result<&'a Data, MessageError> {
        self.fields.get(i).ok_or_else(|| self.malformed(field))
    }

    pub(super) fn count(&self, i: usize, field: &'static str) -> Result<u64, MessageError> {
        self.get(i, field)?
            .as_count()
            .ok_or_else(|| self.malformed(field))
    }

    pub(super) fn text(&self, i: usize, field: &'static str) -> Result<&'a str, MessageError> {
        self.get(i, field)?
            .as_str()
            .ok_or_else(|| self.malformed(field))
    }

    pub(super) fn vector(
        &self,
        i: usize,
        field: &'static str,
    ) -> Result<&'a Vec<Data>, MessageError> {
        self.get(i, field)?
            .as_vector()
            .ok_or_else(|| self.malformed(field))
    }

    pub(super) fn timestamp(
        &self,
        i: usize,
        field: &'static str,
    ) -> Result<Timestamp, MessageError> {
        match self.get(i, field)? {
            Data::Timestamp(at) => Ok(*at),
            _ => Err(self.malformed(field)),
        }
    }

    /// An optional absolute expiry: a timestamp or nil.
    pub(super) fn expiry(&self, i: usize) -> Result<Option<Timestamp>, MessageError> {
        match self.get(i, "expiry")? {
            Data::None => Ok(None),
            Data::Timestamp(at) => Ok(Some(*at)),
            _ => Err(self.malformed("expiry")),
        }
    }

    /// An optional time to live: a timespan or nil.
    pub(super) fn timespan(&self, i: usize) -> Result<Option<Timespan>, MessageError> {
        match self.get(i, "expiry")? {
            Data::None => Ok(None),
            Data::Timespan(span) => Ok(Some(*span)),
            _ => Err(self.malformed("expiry")),
        }
    }

    /// An [`EntityId`] in fields `i` (node text) and `i + 1` (object count).
    pub(super) fn entity(&self, i: usize) -> Result<EntityId, MessageError> {
        let node = self.text(i, "node")?;
        let node = node.parse().map_err(|_| self.malformed("node"))?;
        Ok(EntityId {
            node,
            object: self.count(i + 1, "object")?,
        })
    }
}
