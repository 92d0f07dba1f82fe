//! Store commands ([`InternalCommand`], Broker ≥ 2.3.1): the payload of command
//! envelopes between a store's master, its clones and its writers.
//!
//! Layout: `seq u64, sender entity, receiver entity (nil: none), index u8, fields`,
//! where an entity is `endpoint[16] object u64`, `data` is a tagged value, an expiry
//! is an optional timespan (`u8` flag, then `i64` ns), `seqs` a varint count of u64
//! and a snapshot a varint count of (key, value) pairs. Broker 2.3.0 (in no Zeek
//! release) laid the commands out differently and is not supported.

use super::bin::{put_entity, put_option, put_u16, put_u64, put_varint, Reader};
use super::codes::{CommandKind, DataTag};
use super::data::put_data;
use super::error::{Malformation, NativeError};
use super::ids::EntityId;
use crate::codec::ByteSink;
use crate::data::{Data, Table, Timespan};

/// A store command with its channel header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalCommand {
    /// The sequence number on the sender's channel (0 for control messages).
    pub seq: u64,
    /// The sending store object.
    pub sender: EntityId,
    /// The addressed store object, or [`EntityId::NIL`] for all.
    pub receiver: EntityId,
    /// The command.
    pub content: Command,
}

/// The 14 store commands, in Broker's variant order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Sets `key` to `value`.
    Put {
        /// The key.
        key: Data,
        /// The value.
        value: Data,
        /// How long the entry lives, if it expires.
        expiry: Option<Timespan>,
        /// Who asked.
        publisher: EntityId,
    },
    /// Sets `key` to `value` unless the key exists; answered by `PutUniqueResult`.
    PutUnique {
        /// The key.
        key: Data,
        /// The value.
        value: Data,
        /// How long the entry lives, if it expires.
        expiry: Option<Timespan>,
        /// Who gets the answer.
        who: EntityId,
        /// The request the answer refers to.
        req_id: u64,
        /// Who asked.
        publisher: EntityId,
    },
    /// The answer to `PutUnique`.
    PutUniqueResult {
        /// Whether the entry was inserted.
        inserted: bool,
        /// Who gets the answer.
        who: EntityId,
        /// The request answered.
        req_id: u64,
        /// Who answers.
        publisher: EntityId,
    },
    /// Removes `key`.
    Erase {
        /// The key.
        key: Data,
        /// Who asked.
        publisher: EntityId,
    },
    /// Removes `key` because it expired.
    Expire {
        /// The key.
        key: Data,
        /// Who expired it.
        publisher: EntityId,
    },
    /// Adds `value` to the value at `key`, creating one of `init_type` if missing.
    Add {
        /// The key.
        key: Data,
        /// What to add.
        value: Data,
        /// The kind of value to create when the key is missing.
        init_type: DataTag,
        /// How long the entry lives, if it expires.
        expiry: Option<Timespan>,
        /// Who asked.
        publisher: EntityId,
    },
    /// Subtracts `value` from the value at `key`.
    Subtract {
        /// The key.
        key: Data,
        /// What to subtract.
        value: Data,
        /// How long the entry lives, if it expires.
        expiry: Option<Timespan>,
        /// Who asked.
        publisher: EntityId,
    },
    /// Removes all entries.
    Clear {
        /// Who asked.
        publisher: EntityId,
    },
    /// Opens a writer channel to the master.
    AttachWriter {
        /// The sequence number the writer starts after.
        offset: u64,
        /// Ticks between heartbeats.
        heartbeat_interval: u16,
    },
    /// The channel is alive; `seq` is the last event sent.
    Keepalive {
        /// The last sequence number sent.
        seq: u64,
    },
    /// Everything up to `seq` arrived.
    CumulativeAck {
        /// The last sequence number received in order.
        seq: u64,
    },
    /// Asks to resend `seqs` (`[0]`: a clone asking to attach).
    Nack {
        /// The missing sequence numbers.
        seqs: Vec<u64>,
    },
    /// Accepts a clone, with the store's contents.
    AckClone {
        /// The sequence number the snapshot reflects.
        offset: u64,
        /// Ticks between heartbeats.
        heartbeat_interval: u16,
        /// The store's contents.
        state: Table,
    },
    /// The event `seq` can no longer be resent.
    RetransmitFailed {
        /// The sequence number lost.
        seq: u64,
    },
}

impl Command {
    /// The key an action addresses; `None` for clear and control messages.
    pub fn key(&self) -> Option<&Data> {
        match self {
            Command::Put { key, .. }
            | Command::PutUnique { key, .. }
            | Command::Erase { key, .. }
            | Command::Expire { key, .. }
            | Command::Add { key, .. }
            | Command::Subtract { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The variant index on the wire.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Put { .. } => CommandKind::Put,
            Command::PutUnique { .. } => CommandKind::PutUnique,
            Command::PutUniqueResult { .. } => CommandKind::PutUniqueResult,
            Command::Erase { .. } => CommandKind::Erase,
            Command::Expire { .. } => CommandKind::Expire,
            Command::Add { .. } => CommandKind::Add,
            Command::Subtract { .. } => CommandKind::Subtract,
            Command::Clear { .. } => CommandKind::Clear,
            Command::AttachWriter { .. } => CommandKind::AttachWriter,
            Command::Keepalive { .. } => CommandKind::Keepalive,
            Command::CumulativeAck { .. } => CommandKind::CumulativeAck,
            Command::Nack { .. } => CommandKind::Nack,
            Command::AckClone { .. } => CommandKind::AckClone,
            Command::RetransmitFailed { .. } => CommandKind::RetransmitFailed,
        }
    }
}

/// Appends an optional expiry.
fn put_expiry<S: ByteSink>(out: &mut S, expiry: Option<Timespan>) {
    put_option(out, expiry, |out, span| put_u64(out, span.0 as u64));
}

impl InternalCommand {
    /// Appends the command; on error `out` is unchanged.
    pub fn encode<S: ByteSink>(&self, out: &mut S) -> Result<(), NativeError> {
        let start = out.len();
        self.put(out).inspect_err(|_| out.truncate(start))
    }

    fn put<S: ByteSink>(&self, out: &mut S) -> Result<(), NativeError> {
        put_u64(out, self.seq);
        put_entity(out, &self.sender);
        put_entity(out, &self.receiver);
        out.put_byte(self.content.kind() as u8);
        match &self.content {
            Command::Put {
                key,
                value,
                expiry,
                publisher,
            }
            | Command::Subtract {
                key,
                value,
                expiry,
                publisher,
            } => {
                put_data(out, key, 0)?;
                put_data(out, value, 0)?;
                put_expiry(out, *expiry);
                put_entity(out, publisher);
            }
            Command::PutUnique {
                key,
                value,
                expiry,
                who,
                req_id,
                publisher,
            } => {
                put_data(out, key, 0)?;
                put_data(out, value, 0)?;
                put_expiry(out, *expiry);
                put_entity(out, who);
                put_u64(out, *req_id);
                put_entity(out, publisher);
            }
            Command::PutUniqueResult {
                inserted,
                who,
                req_id,
                publisher,
            } => {
                out.put_byte(u8::from(*inserted));
                put_entity(out, who);
                put_u64(out, *req_id);
                put_entity(out, publisher);
            }
            Command::Erase { key, publisher } | Command::Expire { key, publisher } => {
                put_data(out, key, 0)?;
                put_entity(out, publisher);
            }
            Command::Add {
                key,
                value,
                init_type,
                expiry,
                publisher,
            } => {
                put_data(out, key, 0)?;
                put_data(out, value, 0)?;
                out.put_byte(*init_type as u8);
                put_expiry(out, *expiry);
                put_entity(out, publisher);
            }
            Command::Clear { publisher } => put_entity(out, publisher),
            Command::AttachWriter {
                offset,
                heartbeat_interval,
            } => {
                put_u64(out, *offset);
                put_u16(out, *heartbeat_interval);
            }
            Command::Keepalive { seq }
            | Command::CumulativeAck { seq }
            | Command::RetransmitFailed { seq } => put_u64(out, *seq),
            Command::Nack { seqs } => {
                put_varint(out, seqs.len())?;
                seqs.iter().for_each(|seq| put_u64(out, *seq));
            }
            Command::AckClone {
                offset,
                heartbeat_interval,
                state,
            } => {
                put_u64(out, *offset);
                put_u16(out, *heartbeat_interval);
                put_varint(out, state.len())?;
                for (key, value) in state {
                    put_data(out, key, 0)?;
                    put_data(out, value, 0)?;
                }
            }
        }
        Ok(())
    }

    /// Decodes a command payload; bytes after the command are ignored, as Broker
    /// ignores them.
    pub fn decode(payload: &[u8]) -> Result<InternalCommand, NativeError> {
        Self::read(&mut Reader::new(payload)).map_err(|reason| NativeError::Malformed {
            what: "internal_command",
            reason,
        })
    }

    fn read(r: &mut Reader<'_>) -> Result<InternalCommand, Malformation> {
        let seq = r.u64()?;
        let sender = r.entity()?;
        let receiver = r.entity()?;
        let index = r.u8()?;
        let kind = CommandKind::try_from(index).map_err(Malformation::UnknownCommand)?;
        let expiry = |r: &mut Reader<'_>| r.option(|r| Ok(Timespan(r.u64()? as i64)));
        let content = match kind {
            CommandKind::Put => Command::Put {
                key: r.data()?,
                value: r.data()?,
                expiry: expiry(r)?,
                publisher: r.entity()?,
            },
            CommandKind::PutUnique => Command::PutUnique {
                key: r.data()?,
                value: r.data()?,
                expiry: expiry(r)?,
                who: r.entity()?,
                req_id: r.u64()?,
                publisher: r.entity()?,
            },
            CommandKind::PutUniqueResult => Command::PutUniqueResult {
                inserted: r.bool()?,
                who: r.entity()?,
                req_id: r.u64()?,
                publisher: r.entity()?,
            },
            CommandKind::Erase => Command::Erase {
                key: r.data()?,
                publisher: r.entity()?,
            },
            CommandKind::Expire => Command::Expire {
                key: r.data()?,
                publisher: r.entity()?,
            },
            CommandKind::Add => Command::Add {
                key: r.data()?,
                value: r.data()?,
                init_type: DataTag::try_from(r.u8()?).map_err(Malformation::UnknownDataTag)?,
                expiry: expiry(r)?,
                publisher: r.entity()?,
            },
            CommandKind::Subtract => Command::Subtract {
                key: r.data()?,
                value: r.data()?,
                expiry: expiry(r)?,
                publisher: r.entity()?,
            },
            CommandKind::Clear => Command::Clear {
                publisher: r.entity()?,
            },
            CommandKind::AttachWriter => Command::AttachWriter {
                offset: r.u64()?,
                heartbeat_interval: r.u16()?,
            },
            CommandKind::Keepalive => Command::Keepalive { seq: r.u64()? },
            CommandKind::CumulativeAck => Command::CumulativeAck { seq: r.u64()? },
            CommandKind::Nack => {
                let (count, capacity) = r.count()?;
                let mut seqs = Vec::with_capacity(capacity / 8);
                for _ in 0..count {
                    seqs.push(r.u64()?);
                }
                Command::Nack { seqs }
            }
            CommandKind::AckClone => {
                let offset = r.u64()?;
                let heartbeat_interval = r.u16()?;
                let (count, _) = r.count()?;
                let mut state = Table::new();
                for _ in 0..count {
                    let key = r.data()?;
                    if state.insert(key, r.data()?).is_some() {
                        return Err(Malformation::DuplicateTableKey);
                    }
                }
                Command::AckClone {
                    offset,
                    heartbeat_interval,
                    state,
                }
            }
            CommandKind::RetransmitFailed => Command::RetransmitFailed { seq: r.u64()? },
        };
        Ok(InternalCommand {
            seq,
            sender,
            receiver,
            content,
        })
    }
}
