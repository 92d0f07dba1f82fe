//! Stores across Broker's native protocol, as decisions only: what a master says to its
//! Broker clones and writers ([`BrokerClones`], `native/clones.rs`), what a clone says
//! to its Broker master ([`BrokerMaster`], `native/master.rs`), and how Broker's store
//! commands map to this crate's [`Operation`]s and [`Change`]s. The reliable channels
//! underneath are [`crate::channel`]; the commands' layout is
//! `broker_wire::native::command`.
//!
//! A master runs one channel producer (one sequence) for all its Broker clones, and one
//! channel consumer per Broker writer (a clone sending its writes); a clone is the
//! consumer of its master's channel and the producer of its own writer channel.
//! Control messages travel with sequence number 0 and name their receiver; actions
//! carry their channel's number, and the master's go to every clone (receiver nil).

use broker_wire::native::data::data_tag;
use broker_wire::native::{Command, DataTag, EntityId as NativeEntity};
use broker_wire::{Data, Timespan, Timestamp};

use crate::messages::EntityId;
use crate::operation::{Change, Operation};

mod clones;
mod master;

pub use clones::{BrokerClones, MasterStep};
pub use master::{BrokerMaster, CloneStep};

/// Our entity as Broker's.
pub fn to_native(entity: EntityId) -> NativeEntity {
    NativeEntity {
        endpoint: entity.node,
        object: entity.object,
    }
}

/// Broker's entity as ours.
pub fn from_native(entity: NativeEntity) -> EntityId {
    EntityId {
        node: entity.endpoint,
        object: entity.object,
    }
}

/// The command telling Broker clones about `change`, applied at `applied_at` on behalf of
/// `publisher`. Inserts and updates are puts (as Broker's master sends the outcome of an
/// add or subtract), with the time to live left.
pub fn change_to_command(change: &Change, applied_at: Timestamp, publisher: EntityId) -> Command {
    let publisher = to_native(publisher);
    match change {
        Change::Insert { key, value, expiry }
        | Change::Update {
            key,
            new: value,
            expiry,
            ..
        } => Command::Put {
            key: key.clone(),
            value: value.clone(),
            expiry: expiry.map(|at| Timespan(at.0.saturating_sub(applied_at.0))),
            publisher,
        },
        Change::Erase { key } => Command::Erase {
            key: key.clone(),
            publisher,
        },
        Change::Expire { key } => Command::Expire {
            key: key.clone(),
            publisher,
        },
        Change::Clear { .. } => Command::Clear { publisher },
    }
}

/// The write a Broker writer's action asks for; `current` is the value at its key now
/// (a subtract means removing from a set or table, popping a vector, or subtracting a
/// number). `None` for what is no write (expire, put_unique_result).
///
/// Broker's `add` is one command for what this crate's API spells out: its `init_type`
/// says which (a string appends, a set or table inserts, a vector pushes, a number adds).
pub fn command_to_operation(command: Command, current: Option<&Data>) -> Option<Operation> {
    Some(match command {
        Command::Put {
            key, value, expiry, ..
        } => Operation::Put { key, value, expiry },
        Command::PutUnique {
            key, value, expiry, ..
        } => Operation::PutUnique { key, value, expiry },
        Command::Erase { key, .. } => Operation::Erase { key },
        Command::Clear { .. } => Operation::Clear,
        Command::Add {
            key,
            value,
            init_type,
            expiry,
            ..
        } => {
            let kind = match current {
                Some(Data::String(_)) => DataTag::String,
                Some(Data::Set(_)) => DataTag::Set,
                Some(Data::Table(_)) => DataTag::Table,
                Some(Data::Vector(_)) => DataTag::Vector,
                _ => init_type,
            };
            match kind {
                DataTag::String => Operation::Append {
                    key,
                    suffix: value,
                    expiry,
                },
                DataTag::Set => Operation::InsertInto {
                    key,
                    index: value,
                    value: None,
                    expiry,
                },
                DataTag::Table => match value {
                    Data::Vector(mut pair) if pair.len() == 2 => {
                        let value = pair.pop();
                        let index = pair.pop().expect("two elements");
                        Operation::InsertInto {
                            key,
                            index,
                            value,
                            expiry,
                        }
                    }
                    // Not a (key, value) pair: the backend refuses it as a type clash.
                    other => Operation::InsertInto {
                        key,
                        index: other,
                        value: None,
                        expiry,
                    },
                },
                DataTag::Vector => Operation::Push { key, value, expiry },
                _ => Operation::Increment {
                    key,
                    amount: value,
                    expiry,
                },
            }
        }
        Command::Subtract {
            key, value, expiry, ..
        } => match current {
            Some(Data::Set(_) | Data::Table(_)) => Operation::RemoveFrom {
                key,
                index: value,
                expiry,
            },
            Some(Data::Vector(_)) => Operation::Pop { key, expiry },
            _ => Operation::Decrement {
                key,
                amount: value,
                expiry,
            },
        },
        Command::Expire { .. }
        | Command::PutUniqueResult { .. }
        | Command::AttachWriter { .. }
        | Command::Keepalive { .. }
        | Command::CumulativeAck { .. }
        | Command::Nack { .. }
        | Command::AckClone { .. }
        | Command::RetransmitFailed { .. } => return None,
    })
}

/// The command a clone sends its Broker master for a write of `publisher`'s; a
/// `put_unique` is answered to `publisher` as request `req_id`. The inverse of
/// [`command_to_operation`]: what this crate's API spells out is Broker's `add` with the
/// `init_type` saying which, or its `subtract`.
pub fn operation_to_command(op: Operation, publisher: EntityId, req_id: u64) -> Command {
    let publisher = to_native(publisher);
    let add = |key, value, init_type, expiry| Command::Add {
        key,
        value,
        init_type,
        expiry,
        publisher,
    };
    let subtract = |key, value, expiry| Command::Subtract {
        key,
        value,
        expiry,
        publisher,
    };
    match op {
        Operation::Put { key, value, expiry } => Command::Put {
            key,
            value,
            expiry,
            publisher,
        },
        Operation::PutUnique { key, value, expiry } => Command::PutUnique {
            key,
            value,
            expiry,
            who: publisher,
            req_id,
            publisher,
        },
        Operation::Erase { key } => Command::Erase { key, publisher },
        Operation::Clear => Command::Clear { publisher },
        Operation::Increment {
            key,
            amount,
            expiry,
        } => {
            let init_type = data_tag(&amount);
            add(key, amount, init_type, expiry)
        }
        Operation::Decrement {
            key,
            amount,
            expiry,
        } => subtract(key, amount, expiry),
        Operation::Append {
            key,
            suffix,
            expiry,
        } => add(key, suffix, DataTag::String, expiry),
        Operation::InsertInto {
            key,
            index,
            value: None,
            expiry,
        } => add(key, index, DataTag::Set, expiry),
        Operation::InsertInto {
            key,
            index,
            value: Some(value),
            expiry,
        } => add(
            key,
            Data::Vector(vec![index, value]),
            DataTag::Table,
            expiry,
        ),
        Operation::RemoveFrom { key, index, expiry } => subtract(key, index, expiry),
        Operation::Push { key, value, expiry } => add(key, value, DataTag::Vector, expiry),
        Operation::Pop { key, expiry } => subtract(key, Data::None, expiry),
    }
}

/// The change a Broker master's action makes to a clone's copy, where `current` is the
/// value at its key now; `None` for what changes nothing (a result, an erase of an
/// absent key). A clone keeps no expiries: its master expires entries and says so.
pub fn command_to_change(
    command: Command,
    current: Option<Data>,
    keys: impl FnOnce() -> Vec<Data>,
) -> Option<Change> {
    Some(match command {
        Command::Put { key, value, .. } => match current {
            Some(old) => Change::Update {
                key,
                old,
                new: value,
                expiry: None,
            },
            None => Change::Insert {
                key,
                value,
                expiry: None,
            },
        },
        Command::Erase { key, .. } if current.is_some() => Change::Erase { key },
        Command::Expire { key, .. } if current.is_some() => Change::Expire { key },
        Command::Clear { .. } => Change::Clear { keys: keys() },
        _ => return None,
    })
}

/// The publisher an action names (`None` for control messages and results).
pub fn publisher(command: &Command) -> Option<EntityId> {
    match command {
        Command::Put { publisher, .. }
        | Command::PutUnique { publisher, .. }
        | Command::Erase { publisher, .. }
        | Command::Expire { publisher, .. }
        | Command::Add { publisher, .. }
        | Command::Subtract { publisher, .. }
        | Command::Clear { publisher } => Some(from_native(*publisher)),
        _ => None,
    }
}

/// Whether a command is an action (numbered on its channel) rather than control.
fn is_action(command: &Command) -> bool {
    matches!(
        command,
        Command::Put { .. }
            | Command::PutUnique { .. }
            | Command::PutUniqueResult { .. }
            | Command::Erase { .. }
            | Command::Expire { .. }
            | Command::Add { .. }
            | Command::Subtract { .. }
            | Command::Clear { .. }
    )
}

#[cfg(test)]
mod tests;
