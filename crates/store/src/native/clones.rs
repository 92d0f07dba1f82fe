//! A master's side of Broker's store protocol: one channel producer for every Broker
//! clone, one channel consumer per Broker writer.

use std::collections::BTreeMap;

use broker_wire::native::{Command, EntityId as NativeEntity, InternalCommand};

use super::{is_action, to_native};
use crate::channel::{Consumer, ConsumerOutput, Producer, ProducerOutput};
use crate::messages::EntityId;

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
    /// A writer's action `seq` is lost for good (it could not resend it): the master
    /// goes on without it, as Broker's does, and says so.
    WriteLost {
        /// The writer.
        writer: NativeEntity,
        /// The action's number on the writer's channel.
        seq: u64,
    },
}

/// A master's channels to its Broker clones (one producer) and from its Broker writers
/// (a consumer each).
#[derive(Debug)]
pub struct BrokerClones {
    me: NativeEntity,
    clones: Producer<NativeEntity, Command>,
    writers: BTreeMap<NativeEntity, Consumer<Command>>,
}

impl BrokerClones {
    /// The channels of master `me`, with no clone or writer yet.
    pub fn new(me: EntityId) -> Self {
        BrokerClones {
            me: to_native(me),
            clones: Producer::new(),
            writers: BTreeMap::new(),
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
                if let std::collections::btree_map::Entry::Vacant(entry) =
                    self.writers.entry(sender)
                {
                    entry.insert(Consumer::new()).handle_handshake(
                        offset,
                        heartbeat_interval,
                        &mut consumed,
                    );
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
                Self::consumer_step(self.me, *writer, output, steps);
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
            Self::consumer_step(self.me, writer, output, steps);
        }
    }

    fn consumer_step(
        me: NativeEntity,
        writer: NativeEntity,
        output: ConsumerOutput<Command>,
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
            ConsumerOutput::Lost(seq) => MasterStep::WriteLost { writer, seq },
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
