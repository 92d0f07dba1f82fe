//! Stores across Broker's native protocol, as decisions only: what a master says to its
//! Broker clones and writers ([`BrokerClones`]), and how Broker's store commands map to
//! this crate's [`Operation`]s and [`Change`]s. The reliable channels underneath are
//! [`crate::channel`]; the commands' layout is `broker_wire::native::command`.
//!
//! A master runs one channel producer (one sequence) for all its Broker clones, and one
//! channel consumer per Broker writer (a clone sending its writes). Control messages
//! travel with sequence number 0 and name their receiver; actions carry their channel's
//! number, and the master's go to every clone (receiver nil).

use std::collections::BTreeMap;

use broker_wire::native::{Command, DataTag, EntityId as NativeEntity, InternalCommand};
use broker_wire::{Data, Timespan, Timestamp};

use crate::channel::{Consumer, ConsumerOutput, Producer, ProducerOutput};
use crate::messages::EntityId;
use crate::operation::{Change, Operation};

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

/// What a master does for its Broker clones and writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterStep {
    /// Publish this command on the clone topic.
    Send(InternalCommand),
    /// Attach `clone`: send it `ack_clone` with the store's contents (the master has
    /// them), as command `offset`.
    AckClone {
        /// The clone.
        clone: NativeEntity,
        /// The last change the contents include.
        offset: u64,
        /// Ticks between its acks.
        heartbeat_interval: u16,
    },
    /// Apply a writer's action, in the writer's order.
    Apply {
        /// The writer.
        writer: NativeEntity,
        /// Its action.
        command: Command,
    },
}

/// A master's channels to its Broker clones (one producer) and from its Broker writers
/// (a consumer each).
#[derive(Debug)]
pub struct BrokerClones {
    me: NativeEntity,
    clones: Producer<NativeEntity, Command>,
    writers: BTreeMap<NativeEntity, Consumer<Command>>,
    /// Writer actions lost for good (Broker logs them and goes on).
    lost: u64,
}

impl BrokerClones {
    /// The channels of master `me`, with no clone or writer yet.
    pub fn new(me: EntityId) -> Self {
        BrokerClones {
            me: to_native(me),
            clones: Producer::new(),
            writers: BTreeMap::new(),
            lost: 0,
        }
    }

    /// Whether any Broker clone is attached: changes are numbered for them only then.
    pub fn has_clones(&self) -> bool {
        self.clones.has_consumers()
    }

    /// Whether anyone is attached (clone or writer): the master ticks only then.
    pub fn active(&self) -> bool {
        self.has_clones() || !self.writers.is_empty()
    }

    /// Writer actions lost for good so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Tells the clones about a change the master made.
    pub fn broadcast(&mut self, command: Command, steps: &mut Vec<MasterStep>) {
        let mut out = Vec::new();
        self.clones.produce(command, &mut out);
        self.producer_steps(out, steps);
    }

    /// A command from a Broker clone or writer.
    pub fn receive(&mut self, command: InternalCommand, steps: &mut Vec<MasterStep>) {
        let InternalCommand {
            seq,
            sender,
            content,
            ..
        } = command;
        let mut produced = Vec::new();
        let mut consumed = Vec::new();
        match content {
            content if is_action(&content) => {
                if let Some(writer) = self.writers.get_mut(&sender) {
                    writer.handle_event(seq, content, &mut consumed);
                }
            }
            Command::AttachWriter {
                offset,
                heartbeat_interval,
            } => {
                // A repeated handshake changes nothing.
                if !self.writers.contains_key(&sender) {
                    let mut writer = Consumer::new();
                    writer.handle_handshake(offset, heartbeat_interval, &mut consumed);
                    self.writers.insert(sender, writer);
                }
            }
            Command::Keepalive { seq } => {
                if let Some(writer) = self.writers.get_mut(&sender) {
                    writer.handle_heartbeat(seq);
                }
            }
            Command::RetransmitFailed { seq } => {
                if let Some(writer) = self.writers.get_mut(&sender) {
                    writer.handle_retransmit_failed(seq, &mut consumed);
                }
            }
            Command::CumulativeAck { seq } => self.clones.handle_ack(&sender, seq, &mut produced),
            Command::Nack { seqs } => self.clones.handle_nack(&sender, &seqs, &mut produced),
            // Only a master sends these.
            _ => {}
        }
        self.consumer_steps(sender, consumed, steps);
        self.producer_steps(produced, steps);
    }

    /// One tick of every channel.
    pub fn tick(&mut self, steps: &mut Vec<MasterStep>) {
        let mut produced = Vec::new();
        self.clones.tick(&mut produced);
        let mut consumed = Vec::new();
        for (writer, consumer) in &mut self.writers {
            consumer.tick(&mut consumed);
            for output in consumed.drain(..) {
                Self::consumer_step(self.me, *writer, output, &mut self.lost, steps);
            }
        }
        self.producer_steps(produced, steps);
    }

    fn consumer_steps(
        &mut self,
        writer: NativeEntity,
        consumed: Vec<ConsumerOutput<Command>>,
        steps: &mut Vec<MasterStep>,
    ) {
        for output in consumed {
            Self::consumer_step(self.me, writer, output, &mut self.lost, steps);
        }
    }

    fn consumer_step(
        me: NativeEntity,
        writer: NativeEntity,
        output: ConsumerOutput<Command>,
        lost: &mut u64,
        steps: &mut Vec<MasterStep>,
    ) {
        let control = |content| {
            MasterStep::Send(InternalCommand {
                seq: 0,
                sender: me,
                receiver: writer,
                content,
            })
        };
        steps.push(match output {
            ConsumerOutput::Deliver(command) => MasterStep::Apply { writer, command },
            ConsumerOutput::Lost(_) => {
                *lost += 1;
                return;
            }
            ConsumerOutput::Ack(seq) => control(Command::CumulativeAck { seq }),
            ConsumerOutput::Nack(seqs) => control(Command::Nack { seqs }),
        });
    }

    fn producer_steps(
        &mut self,
        produced: Vec<ProducerOutput<NativeEntity, Command>>,
        steps: &mut Vec<MasterStep>,
    ) {
        let me = self.me;
        let command = |seq, receiver, content| {
            MasterStep::Send(InternalCommand {
                seq,
                sender: me,
                receiver,
                content,
            })
        };
        for output in produced {
            steps.push(match output {
                ProducerOutput::Handshake {
                    to,
                    offset,
                    heartbeat_interval,
                } => MasterStep::AckClone {
                    clone: to,
                    offset,
                    heartbeat_interval,
                },
                ProducerOutput::Broadcast { seq, payload } => {
                    command(seq, NativeEntity::NIL, payload)
                }
                ProducerOutput::Resend { seq, payload, .. } => {
                    command(seq, NativeEntity::NIL, payload)
                }
                ProducerOutput::RetransmitFailed { to, seq } => {
                    command(0, to, Command::RetransmitFailed { seq })
                }
                ProducerOutput::Keepalive { seq } => {
                    command(0, NativeEntity::NIL, Command::Keepalive { seq })
                }
                ProducerOutput::HandshakeCompleted(_) => continue,
                // Broker forgets the clone's writer channel with it.
                ProducerOutput::Dropped(clone) => {
                    self.writers.remove(&clone);
                    continue;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests;
