//! The messages masters and clones exchange, as [`Data`] values with a fixed layout (the way
//! Zeek events are), and the store events replicas publish locally.
//!
//! Store traffic rides the ordinary publish/subscribe data path: clones publish
//! [`ToMaster`] messages on [`master_topic`], the master publishes [`ToClones`] messages on
//! [`clone_topic`]. Every message is a vector whose first element is a string tag; the layout
//! of each is documented on its variant and in `docs/wire.md` ("Store messages"). Decoding
//! checks the tag, the arity and every field's type; anything else is a [`MessageError`].
//! Extra trailing elements are tolerated, so later versions can append fields.

use broker_wire::frame::NodeId;
use broker_wire::{Data, Timespan, Timestamp, Topic};
use thiserror::Error;

use crate::backend::Entry;
use crate::operation::{Change, Operation};

/// Why a [`Data`] value is not a store message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// The value is not a vector starting with a known tag.
    #[error("not a store message: {0}")]
    UnknownMessage(String),
    /// A field is missing or has the wrong type.
    #[error("malformed store message {tag}: bad {field}")]
    Malformed {
        /// The message's tag.
        tag: &'static str,
        /// The field that is missing or mistyped.
        field: &'static str,
    },
}

/// The topic a store's master subscribes to: `<name>/<$>/data/master`.
pub fn master_topic(store: &str) -> Topic {
    Topic::new(format!("{store}/<$>/data/master"))
}

/// The topic a store's clones subscribe to: `<name>/<$>/data/clone`.
pub fn clone_topic(store: &str) -> Topic {
    Topic::new(format!("{store}/<$>/data/clone"))
}

/// The local topic of a store's events: `<$>/local/data/store-events/<name>`.
pub fn events_topic(store: &str) -> Topic {
    Topic::new(format!("<$>/local/data/store-events/{store}"))
}

/// Who issued a write, as Broker's `entity_id`: an endpoint and an object on it (a master or
/// clone instance). On the wire it is two fields, the node as text (`40 hex digits#pid`) and
/// the object as a count, exactly as store events show the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId {
    /// The endpoint.
    pub node: NodeId,
    /// The store instance on that endpoint.
    pub object: u64,
}

/// Clone → master, on [`master_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToMaster {
    /// `("op", node, object, request, operation)`: apply `op` for the clone `clone`, which
    /// numbers its requests from 1 to recognise the answers.
    Op {
        /// The requesting clone.
        clone: EntityId,
        /// The clone's request number.
        request: u64,
        /// The write.
        op: Operation,
    },
    /// `("snapshot-request", node, object)`: send `clone` the whole contents.
    SnapshotRequest {
        /// The requesting clone.
        clone: EntityId,
    },
}

/// Master → clones, on [`clone_topic`]. `epoch` identifies one run of one master: sequence
/// numbers restart with a new epoch, so a clone seeing another epoch resynchronises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToClones {
    /// `("change", epoch, seq, applied_at, change, origin node, origin object, request)`:
    /// the master's `seq`-th change (numbered from 1), applied at `applied_at` on the
    /// master's clock, caused by request `request` of `origin` (0 for the master's own
    /// writes and for expiries).
    Change {
        /// The master's run.
        epoch: u64,
        /// The change's number, one more than the previous change's.
        seq: u64,
        /// When the master applied it.
        applied_at: Timestamp,
        /// What changed.
        change: Change,
        /// Who asked for it.
        origin: EntityId,
        /// The origin's request number, 0 if none.
        request: u64,
    },
    /// `("snapshot", epoch, seq, node, object, ((key, value, expiry)...))`: the contents
    /// after change `seq`, for the clone `clone`; `expiry` is a timestamp or nil.
    Snapshot {
        /// The master's run.
        epoch: u64,
        /// The last change the snapshot includes (0 for none).
        seq: u64,
        /// The clone that asked.
        clone: EntityId,
        /// Every entry.
        entries: Vec<Entry>,
    },
    /// `("put-unique-result", node, object, request, inserted)`: the answer to a clone's
    /// `put_unique`.
    PutUniqueResult {
        /// The clone that asked.
        clone: EntityId,
        /// Its request number.
        request: u64,
        /// Whether the key was absent and the value inserted.
        inserted: bool,
    },
    /// `("op-failed", node, object, request, code, message)`: the clone's request failed
    /// with Broker's error `code` (`broker.EC`).
    OpFailed {
        /// The clone that asked.
        clone: EntityId,
        /// Its request number.
        request: u64,
        /// Broker's error code.
        code: u8,
        /// What went wrong.
        message: String,
    },
    /// `("master-alive", epoch, seq)`: sent periodically; `seq` is the last change so far,
    /// so a clone that missed the tail of the sequence notices.
    Alive {
        /// The master's run.
        epoch: u64,
        /// The last change number.
        seq: u64,
    },
}

impl ToMaster {
    /// The message as [`Data`].
    pub fn to_data(&self) -> Data {
        match self {
            ToMaster::Op { clone, request, op } => {
                let [node, object] = entity_fields(clone);
                vector(vec![
                    "op".into(),
                    node,
                    object,
                    Data::Count(*request),
                    operation_to_data(op),
                ])
            }
            ToMaster::SnapshotRequest { clone } => {
                let [node, object] = entity_fields(clone);
                vector(vec!["snapshot-request".into(), node, object])
            }
        }
    }

    /// Parses a message published on [`master_topic`].
    pub fn from_data(data: &Data) -> Result<Self, MessageError> {
        let (tag, fields) = tagged(data)?;
        match tag {
            "op" => {
                let f = Fields::new("op", fields);
                Ok(ToMaster::Op {
                    clone: f.entity(0)?,
                    request: f.count(2, "request")?,
                    op: operation_from_data(f.get(3, "operation")?)?,
                })
            }
            "snapshot-request" => Ok(ToMaster::SnapshotRequest {
                clone: Fields::new("snapshot-request", fields).entity(0)?,
            }),
            other => Err(MessageError::UnknownMessage(other.to_owned())),
        }
    }
}

impl ToClones {
    /// The message as [`Data`].
    pub fn to_data(&self) -> Data {
        match self {
            ToClones::Change {
                epoch,
                seq,
                applied_at,
                change,
                origin,
                request,
            } => {
                let [node, object] = entity_fields(origin);
                vector(vec![
                    "change".into(),
                    Data::Count(*epoch),
                    Data::Count(*seq),
                    Data::Timestamp(*applied_at),
                    change_to_data(change),
                    node,
                    object,
                    Data::Count(*request),
                ])
            }
            ToClones::Snapshot {
                epoch,
                seq,
                clone,
                entries,
            } => {
                let [node, object] = entity_fields(clone);
                let entries = entries
                    .iter()
                    .map(|e| {
                        let expiry = e.expiry.map_or(Data::None, Data::Timestamp);
                        vector(vec![e.key.clone(), e.value.clone(), expiry])
                    })
                    .collect();
                vector(vec![
                    "snapshot".into(),
                    Data::Count(*epoch),
                    Data::Count(*seq),
                    node,
                    object,
                    Data::Vector(entries),
                ])
            }
            ToClones::PutUniqueResult {
                clone,
                request,
                inserted,
            } => {
                let [node, object] = entity_fields(clone);
                vector(vec![
                    "put-unique-result".into(),
                    node,
                    object,
                    Data::Count(*request),
                    Data::Boolean(*inserted),
                ])
            }
            ToClones::OpFailed {
                clone,
                request,
                code,
                message,
            } => {
                let [node, object] = entity_fields(clone);
                vector(vec![
                    "op-failed".into(),
                    node,
                    object,
                    Data::Count(*request),
                    Data::Count(u64::from(*code)),
                    message.as_str().into(),
                ])
            }
            ToClones::Alive { epoch, seq } => vector(vec![
                "master-alive".into(),
                Data::Count(*epoch),
                Data::Count(*seq),
            ]),
        }
    }

    /// Parses a message published on [`clone_topic`].
    pub fn from_data(data: &Data) -> Result<Self, MessageError> {
        let (tag, fields) = tagged(data)?;
        match tag {
            "change" => {
                let f = Fields::new("change", fields);
                Ok(ToClones::Change {
                    epoch: f.count(0, "epoch")?,
                    seq: f.count(1, "seq")?,
                    applied_at: f.timestamp(2, "applied_at")?,
                    change: change_from_data(f.get(3, "change")?)?,
                    origin: f.entity(4)?,
                    request: f.count(6, "request")?,
                })
            }
            "snapshot" => {
                let f = Fields::new("snapshot", fields);
                let entries = f
                    .vector(4, "entries")?
                    .iter()
                    .map(entry_from_data)
                    .collect::<Result<_, _>>()?;
                Ok(ToClones::Snapshot {
                    epoch: f.count(0, "epoch")?,
                    seq: f.count(1, "seq")?,
                    clone: f.entity(2)?,
                    entries,
                })
            }
            "put-unique-result" => {
                let f = Fields::new("put-unique-result", fields);
                Ok(ToClones::PutUniqueResult {
                    clone: f.entity(0)?,
                    request: f.count(2, "request")?,
                    inserted: match f.get(3, "inserted")? {
                        Data::Boolean(b) => *b,
                        _ => return Err(f.malformed("inserted")),
                    },
                })
            }
            "op-failed" => {
                let f = Fields::new("op-failed", fields);
                Ok(ToClones::OpFailed {
                    clone: f.entity(0)?,
                    request: f.count(2, "request")?,
                    code: u8::try_from(f.count(3, "code")?).map_err(|_| f.malformed("code"))?,
                    message: f.text(4, "message")?.to_owned(),
                })
            }
            "master-alive" => {
                let f = Fields::new("master-alive", fields);
                Ok(ToClones::Alive {
                    epoch: f.count(0, "epoch")?,
                    seq: f.count(1, "seq")?,
                })
            }
            other => Err(MessageError::UnknownMessage(other.to_owned())),
        }
    }
}

/// The store events a replica publishes on [`events_topic`] for `change`, as Broker 1.4
/// shapes them: `("insert", store, key, value, expiry, node, object)`,
/// `("update", store, key, old, new, expiry, node, object)`, `("erase", store, key, node,
/// object)`, `("expire", store, key, node, object)`, where `node, object` is the publisher
/// and `expiry` the time to live from `applied_at` (a timespan) or nil. A clear is one
/// `erase` per key that was present.
pub fn store_events(
    store: &str,
    change: &Change,
    applied_at: Timestamp,
    publisher: &EntityId,
) -> Vec<Data> {
    let ttl = |expiry: &Option<Timestamp>| {
        expiry.map_or(Data::None, |at| {
            Data::Timespan(Timespan(at.0.saturating_sub(applied_at.0)))
        })
    };
    let event = |tag: &str, fields: Vec<Data>| {
        let [node, object] = entity_fields(publisher);
        let mut all = vec![tag.into(), store.into()];
        all.extend(fields);
        all.extend([node, object]);
        vector(all)
    };
    match change {
        Change::Insert { key, value, expiry } => vec![event(
            "insert",
            vec![key.clone(), value.clone(), ttl(expiry)],
        )],
        Change::Update {
            key,
            old,
            new,
            expiry,
        } => vec![event(
            "update",
            vec![key.clone(), old.clone(), new.clone(), ttl(expiry)],
        )],
        Change::Erase { key } => vec![event("erase", vec![key.clone()])],
        Change::Expire { key } => vec![event("expire", vec![key.clone()])],
        Change::Clear { keys } => keys
            .iter()
            .map(|key| event("erase", vec![key.clone()]))
            .collect(),
    }
}

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

fn entry_from_data(data: &Data) -> Result<Entry, MessageError> {
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

fn vector(fields: Vec<Data>) -> Data {
    Data::Vector(fields)
}

fn entity_fields(entity: &EntityId) -> [Data; 2] {
    [
        Data::from(node_text(&entity.node)),
        Data::Count(entity.object),
    ]
}

/// [`NodeId`]'s `Display` form, built without the formatting machinery: every change and
/// store event carries one, so this is on the master's hot path.
fn node_text(node: &NodeId) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut text = String::with_capacity(2 * node.id.len() + 11);
    for byte in node.id {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xF)]));
    }
    text.push('#');
    text.push_str(&node.pid.to_string());
    text
}

/// Parses `40 hex digits#pid`, as [`NodeId`]'s `Display` writes it.
fn parse_node(text: &str) -> Option<NodeId> {
    let (hex, pid) = text.split_once('#')?;
    if hex.len() != 40 || !hex.is_ascii() {
        return None;
    }
    let mut id = [0u8; 20];
    for (byte, pair) in id.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(NodeId {
        id,
        pid: pid.parse().ok()?,
    })
}

/// The tag and the remaining fields of a message vector.
fn tagged(data: &Data) -> Result<(&str, &[Data]), MessageError> {
    match data.as_vector().map(Vec::as_slice) {
        Some([tag, fields @ ..]) => match tag.as_str() {
            Some(tag) => Ok((tag, fields)),
            None => Err(MessageError::UnknownMessage(tag.to_string())),
        },
        _ => Err(MessageError::UnknownMessage(data.to_string())),
    }
}

/// Typed access to the fields after a message's tag.
struct Fields<'a> {
    tag: &'static str,
    fields: &'a [Data],
}

impl<'a> Fields<'a> {
    fn new(tag: &'static str, fields: &'a [Data]) -> Self {
        Fields { tag, fields }
    }

    fn malformed(&self, field: &'static str) -> MessageError {
        MessageError::Malformed {
            tag: self.tag,
            field,
        }
    }

    fn get(&self, i: usize, field: &'static str) -> Result<&'a Data, MessageError> {
        self.fields.get(i).ok_or_else(|| self.malformed(field))
    }

    fn count(&self, i: usize, field: &'static str) -> Result<u64, MessageError> {
        self.get(i, field)?
            .as_count()
            .ok_or_else(|| self.malformed(field))
    }

    fn text(&self, i: usize, field: &'static str) -> Result<&'a str, MessageError> {
        self.get(i, field)?
            .as_str()
            .ok_or_else(|| self.malformed(field))
    }

    fn vector(&self, i: usize, field: &'static str) -> Result<&'a Vec<Data>, MessageError> {
        self.get(i, field)?
            .as_vector()
            .ok_or_else(|| self.malformed(field))
    }

    fn timestamp(&self, i: usize, field: &'static str) -> Result<Timestamp, MessageError> {
        match self.get(i, field)? {
            Data::Timestamp(at) => Ok(*at),
            _ => Err(self.malformed(field)),
        }
    }

    /// An optional absolute expiry: a timestamp or nil.
    fn expiry(&self, i: usize) -> Result<Option<Timestamp>, MessageError> {
        match self.get(i, "expiry")? {
            Data::None => Ok(None),
            Data::Timestamp(at) => Ok(Some(*at)),
            _ => Err(self.malformed("expiry")),
        }
    }

    /// An optional time to live: a timespan or nil.
    fn timespan(&self, i: usize) -> Result<Option<Timespan>, MessageError> {
        match self.get(i, "expiry")? {
            Data::None => Ok(None),
            Data::Timespan(span) => Ok(Some(*span)),
            _ => Err(self.malformed("expiry")),
        }
    }

    /// An [`EntityId`] in fields `i` (node text) and `i + 1` (object count).
    fn entity(&self, i: usize) -> Result<EntityId, MessageError> {
        let node = parse_node(self.text(i, "node")?).ok_or_else(|| self.malformed("node"))?;
        Ok(EntityId {
            node,
            object: self.count(i + 1, "object")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(object: u64) -> EntityId {
        EntityId {
            node: NodeId {
                id: [0xAB; 20],
                pid: 4242,
            },
            object,
        }
    }

    fn all_operations() -> Vec<Operation> {
        let (key, ttl) = (Data::from("k"), Some(Timespan(5)));
        vec![
            Operation::Put {
                key: key.clone(),
                value: Data::Count(1),
                expiry: ttl,
            },
            Operation::PutUnique {
                key: key.clone(),
                value: Data::None,
                expiry: None,
            },
            Operation::Erase { key: key.clone() },
            Operation::Clear,
            Operation::Increment {
                key: key.clone(),
                amount: Data::Integer(-1),
                expiry: ttl,
            },
            Operation::Decrement {
                key: key.clone(),
                amount: Data::Real(0.5),
                expiry: None,
            },
            Operation::Append {
                key: key.clone(),
                suffix: "x".into(),
                expiry: None,
            },
            Operation::InsertInto {
                key: key.clone(),
                index: Data::Count(0),
                value: None,
                expiry: None,
            },
            // A nil table value must stay distinct from "no value" (a set insertion).
            Operation::InsertInto {
                key: key.clone(),
                index: Data::Count(0),
                value: Some(Data::None),
                expiry: ttl,
            },
            Operation::RemoveFrom {
                key: key.clone(),
                index: "i".into(),
                expiry: None,
            },
            Operation::Push {
                key: key.clone(),
                value: Data::Vector(vec![]),
                expiry: None,
            },
            Operation::Pop { key, expiry: ttl },
        ]
    }

    #[test]
    fn every_message_survives_a_round_trip() {
        for (request, op) in (1..).zip(all_operations()) {
            let msg = ToMaster::Op {
                clone: entity(request),
                request,
                op,
            };
            assert_eq!(ToMaster::from_data(&msg.to_data()), Ok(msg));
        }
        let request = ToMaster::SnapshotRequest { clone: entity(3) };
        assert_eq!(ToMaster::from_data(&request.to_data()), Ok(request));

        let changes = vec![
            Change::Insert {
                key: "a".into(),
                value: Data::Count(1),
                expiry: Some(Timestamp(9)),
            },
            Change::Update {
                key: "a".into(),
                old: Data::Count(1),
                new: Data::Count(2),
                expiry: None,
            },
            Change::Erase { key: "a".into() },
            Change::Expire { key: "b".into() },
            Change::Clear {
                keys: vec!["a".into(), "b".into()],
            },
        ];
        let entries = vec![
            Entry {
                key: "a".into(),
                value: Data::Count(1),
                expiry: None,
            },
            Entry {
                key: "b".into(),
                value: "x".into(),
                expiry: Some(Timestamp(7)),
            },
        ];
        let mut messages: Vec<ToClones> = changes
            .into_iter()
            .zip(1..)
            .map(|(change, seq)| ToClones::Change {
                epoch: 77,
                seq,
                applied_at: Timestamp(5),
                change,
                origin: entity(seq),
                request: seq * 2,
            })
            .collect();
        messages.extend([
            ToClones::Snapshot {
                epoch: 77,
                seq: 5,
                clone: entity(1),
                entries,
            },
            ToClones::PutUniqueResult {
                clone: entity(1),
                request: 4,
                inserted: true,
            },
            ToClones::OpFailed {
                clone: entity(1),
                request: 5,
                code: 11,
                message: "type clash".into(),
            },
            ToClones::Alive { epoch: 77, seq: 5 },
        ]);
        for msg in messages {
            assert_eq!(ToClones::from_data(&msg.to_data()), Ok(msg));
        }
    }

    #[test]
    fn node_text_is_the_display_form() {
        let node = NodeId {
            id: std::array::from_fn(|i| (i * 37) as u8),
            pid: 8104,
        };
        assert_eq!(node_text(&node), node.to_string());
        assert_eq!(parse_node(&node_text(&node)), Some(node));
    }

    #[test]
    fn malformed_messages_are_refused_not_misread() {
        let wrong_type = vector(vec!["master-alive".into(), Data::Count(1), "x".into()]);
        assert_eq!(
            ToClones::from_data(&wrong_type),
            Err(MessageError::Malformed {
                tag: "master-alive",
                field: "seq"
            })
        );
        let short = vector(vec!["snapshot-request".into(), Data::from("nonsense")]);
        assert!(ToMaster::from_data(&short).is_err());
        assert!(ToMaster::from_data(&Data::Count(3)).is_err());
        let unknown = vector(vec!["gossip".into()]);
        assert_eq!(
            ToClones::from_data(&unknown),
            Err(MessageError::UnknownMessage("gossip".into()))
        );
    }

    #[test]
    fn store_events_have_broker_1_4_shapes() {
        let publisher = entity(11);
        let node = Data::from(publisher.node.to_string());
        let insert = Change::Insert {
            key: "b".into(),
            value: Data::Count(3),
            expiry: Some(Timestamp(5_000_000_100)),
        };
        assert_eq!(
            store_events("s", &insert, Timestamp(100), &publisher),
            vec![vector(vec![
                "insert".into(),
                "s".into(),
                "b".into(),
                Data::Count(3),
                Data::Timespan(Timespan(5_000_000_000)),
                node.clone(),
                Data::Count(11),
            ])]
        );
        let clear = Change::Clear {
            keys: vec!["a".into(), "b".into()],
        };
        let events = store_events("s", &clear, Timestamp(0), &publisher);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            vector(vec![
                "erase".into(),
                "s".into(),
                "b".into(),
                node,
                Data::Count(11)
            ])
        );
    }
}
