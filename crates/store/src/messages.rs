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
use broker_wire::native::InternalCommand;
use broker_wire::{Data, Timespan, Timestamp, Topic};
use thiserror::Error;

use crate::backend::Entry;
use crate::operation::{Change, Operation};

mod layout;

pub use layout::{change_from_data, change_to_data, operation_from_data, operation_to_data};
use layout::{entity_fields, entry_from_data, tagged, vector, Fields};

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
/// clone instance). On the wire it is two fields, the node as text (`8-4-4-4-12` hex digits) and
/// the object as a count, exactly as store events show the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId {
    /// The endpoint.
    pub node: NodeId,
    /// The store instance on that endpoint.
    pub object: u64,
}

/// The tag of a store command of Broker's native protocol riding the data path.
const BROKER_COMMAND: &str = "broker-command";

/// `("broker-command", bytes)`: a store command of Broker's native protocol (its
/// `internal_command`, encoded as on the wire), as the link to a Broker peer hands it to
/// the data path and takes it back to send it as a command envelope.
pub fn broker_command_to_data(command: &InternalCommand) -> Data {
    let mut bytes = Vec::new();
    command
        .encode(&mut bytes)
        // A command's values come from the wire or from the store: never nested too deep.
        .expect("store commands are encodable");
    vector(vec![BROKER_COMMAND.into(), Data::String(bytes)])
}

/// The encoded `internal_command` of a [`broker_command_to_data`] value, if it is one.
pub fn broker_command_payload(data: &Data) -> Option<&[u8]> {
    match data {
        Data::Vector(fields) => match fields.as_slice() {
            [Data::String(tag), Data::String(bytes), ..] if tag == BROKER_COMMAND.as_bytes() => {
                Some(bytes)
            }
            _ => None,
        },
        _ => None,
    }
}

/// Decodes a [`broker_command_to_data`] value whose tag was read already.
fn broker_command(fields: &[Data]) -> Result<InternalCommand, MessageError> {
    let malformed = MessageError::Malformed {
        tag: BROKER_COMMAND,
        field: "command",
    };
    match fields.first() {
        Some(Data::String(bytes)) => InternalCommand::decode(bytes).map_err(|_| malformed),
        _ => Err(malformed),
    }
}

/// Tags of [`ToMaster::Op`], sent for the first time and again.
const OP: &str = "op";
const OP_AGAIN: &str = "op-again";

/// Clone → master, on [`master_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToMaster {
    /// `("op", node, object, request, operation)`: apply `op` for the clone `clone`, which
    /// numbers its requests from 1 to recognise the answers. `("op-again", ...)`, the
    /// same fields, when `replayed`: a write the clone sent before an outage and got no
    /// answer for, sent again; the master applies it only if it has applied earlier
    /// writes of this clone but not this one.
    Op {
        /// The requesting clone.
        clone: EntityId,
        /// The clone's request number.
        request: u64,
        /// The write.
        op: Operation,
        /// Whether it was sent before.
        replayed: bool,
    },
    /// `("snapshot-request", node, object)`: send `clone` the whole contents.
    SnapshotRequest {
        /// The requesting clone.
        clone: EntityId,
    },
    /// `("broker-command", bytes)`: a command from a Broker clone or writer (see
    /// [`broker_command_to_data`]).
    Broker(InternalCommand),
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
    /// `("broker-command", bytes)`: a command from a Broker master (see
    /// [`broker_command_to_data`]).
    Broker(InternalCommand),
}

impl ToMaster {
    /// The message as [`Data`].
    pub fn to_data(&self) -> Data {
        match self {
            ToMaster::Op {
                clone,
                request,
                op,
                replayed,
            } => {
                let [node, object] = entity_fields(clone);
                vector(vec![
                    if *replayed { OP_AGAIN } else { OP }.into(),
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
            ToMaster::Broker(command) => broker_command_to_data(command),
        }
    }

    /// Parses a message published on [`master_topic`].
    pub fn from_data(data: &Data) -> Result<Self, MessageError> {
        let (tag, fields) = tagged(data)?;
        match tag {
            OP | OP_AGAIN => {
                let replayed = tag == OP_AGAIN;
                let f = Fields::new(if replayed { OP_AGAIN } else { OP }, fields);
                Ok(ToMaster::Op {
                    clone: f.entity(0)?,
                    request: f.count(2, "request")?,
                    op: operation_from_data(f.get(3, "operation")?)?,
                    replayed,
                })
            }
            "snapshot-request" => Ok(ToMaster::SnapshotRequest {
                clone: Fields::new("snapshot-request", fields).entity(0)?,
            }),
            BROKER_COMMAND => broker_command(fields).map(ToMaster::Broker),
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
            ToClones::Broker(command) => broker_command_to_data(command),
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
            BROKER_COMMAND => broker_command(fields).map(ToClones::Broker),
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
