//! A clone's side of Broker's store protocol: the consumer of its Broker master's
//! channel, and the producer of its writer channel to that master.
//!
//! The clone asks to attach with `nack{[0]}` (at start, then every nack timeout until
//! answered). The master's `ack_clone` carries the snapshot and the offset its channel
//! continues after; the clone then opens its writer channel (`attach_writer`) and sends
//! the writes made meanwhile. Unlike Broker's clone, this one starts over (attaches
//! again, loading a fresh snapshot) when an event is lost for good or when its owner
//! says the master was unreachable ([`BrokerMaster::reset`]). Each attachment uses a
//! channel identity of its own (the clone's entity with a generation in the object's
//! high bits): Broker's master answers a known consumer's `nack{[0]}` with that
//! consumer's first offset and a current snapshot, which could never line up again,
//! while a new consumer gets a matching pair. Writes keep the clone's own entity as
//! their publisher, and `put_unique` answers come to it.

use broker_wire::data::Table;
use broker_wire::native::{Command, EntityId as NativeEntity, InternalCommand};

use super::{is_action, to_native};
use crate::channel::{Consumer, ConsumerOutput, Producer, ProducerOutput};
use crate::messages::EntityId;

/// What a clone does for its Broker master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneStep {
    /// Publish this command on the master topic.
    Send(InternalCommand),
    /// Replace the copy's contents with the master's.
    Load(Table),
    /// Apply the master's action to the copy (put, erase, expire, clear), in order.
    Apply(Command),
    /// The answer to our `put_unique` request `req_id`.
    PutUniqueResult {
        /// The request.
        req_id: u64,
        /// Whether the value was inserted.
        inserted: bool,
    },
    /// The copy no longer follows the master: it is attaching again.
    Unsynced,
    /// The master's change `seq` is lost for good (it could not resend it): the copy
    /// is out of sync, and the clone attaches again (Broker's clone stays broken).
    ChangeLost {
        /// The change's number on the master's channel.
        seq: u64,
    },
}

/// A clone's channels with its Broker master.
#[derive(Debug)]
pub struct BrokerMaster {
    /// The clone's entity: the publisher of its writes.
    publisher: NativeEntity,
    /// The attachments so far; the high bits of the channel identity's object.
    generation: u64,
    /// The channel identity of this attachment.
    me: NativeEntity,
    /// The master that answered our attach, once one did.
    master: Option<NativeEntity>,
    input: Consumer<Command>,
    /// The writer channel, opened once attached.
    output: Option<Producer<NativeEntity, Command>>,
    /// Writes made before the writer channel opened.
    stalled: Vec<Command>,
}

impl BrokerMaster {
    /// The channels of clone `me`, not attached yet ([`BrokerMaster::start`]).
    pub fn new(me: EntityId) -> Self {
        BrokerMaster {
            publisher: to_native(me),
            generation: 0,
            me: to_native(me),
            master: None,
            input: Consumer::new(),
            output: None,
            stalled: Vec::new(),
        }
    }

    /// Asks a master to attach this clone.
    pub fn start(&mut self, steps: &mut Vec<CloneStep>) {
        self.consumer_steps(vec![ConsumerOutput::Nack(vec![0])], steps);
    }

    /// Whether the copy follows the master (the snapshot arrived).
    pub fn attached(&self) -> bool {
        self.input.initialized()
    }

    /// Forgets the master and attaches again (on the next tick): after an outage, the
    /// master may have dropped us.
    pub fn reset(&mut self, steps: &mut Vec<CloneStep>) {
        if self.attached() {
            steps.push(CloneStep::Unsynced);
        }
        self.master = None;
        self.input.reset();
        self.output = None;
        self.generation += 1;
        self.me = NativeEntity {
            endpoint: self.publisher.endpoint,
            object: self.publisher.object.wrapping_add(self.generation << 40),
        };
    }

    /// A write for the master: sent on the writer channel, or kept until it opens.
    pub fn write(&mut self, command: Command, steps: &mut Vec<CloneStep>) {
        match &mut self.output {
            Some(output) => {
                let mut produced = Vec::new();
                output.produce(command, &mut produced);
                self.producer_steps(produced, steps);
            }
            None => self.stalled.push(command),
        }
    }

    /// A command on the clone topic (for us, for other clones, or broadcast).
    pub fn receive(&mut self, command: InternalCommand, steps: &mut Vec<CloneStep>) {
        let InternalCommand {
            seq,
            sender,
            receiver,
            content,
        } = command;
        if self.master.is_some_and(|master| master != sender) {
            return;
        }
        let mut consumed = Vec::new();
        if is_action(&content) {
            self.input.handle_event(seq, content, &mut consumed);
            self.consumer_steps(consumed, steps);
            return;
        }
        // Control messages are addressed, but for keepalives, which Broker's master
        // broadcasts (Broker's clone drops those, and so never notices a lost tail).
        let keepalive = matches!(content, Command::Keepalive { .. }) && receiver.endpoint.is_nil();
        if receiver != self.me && !keepalive {
            return;
        }
        match content {
            Command::AckClone {
                offset,
                heartbeat_interval,
                state,
            } => {
                if self.master.is_some() {
                    return;
                }
                self.master = Some(sender);
                // The snapshot first: the events kept meanwhile follow it.
                steps.push(CloneStep::Load(state));
                self.input
                    .handle_handshake(offset, heartbeat_interval, &mut consumed);
                self.consumer_steps(consumed, steps);
                self.open_output(sender, steps);
            }
            Command::Keepalive { seq } => self.input.handle_heartbeat(seq),
            Command::RetransmitFailed { seq } => {
                self.input.handle_retransmit_failed(seq, &mut consumed);
                self.consumer_steps(consumed, steps);
            }
            Command::CumulativeAck { seq } => {
                if let Some(output) = &mut self.output {
                    let mut produced = Vec::new();
                    output.handle_ack(&sender, seq, &mut produced);
                    self.producer_steps(produced, steps);
                }
            }
            Command::Nack { seqs } => {
                if let Some(output) = &mut self.output {
                    let mut produced = Vec::new();
                    output.handle_nack(&sender, &seqs, &mut produced);
                    self.producer_steps(produced, steps);
                }
            }
            // Only clones and writers send the rest.
            _ => {}
        }
    }

    /// One tick of both channels.
    pub fn tick(&mut self, steps: &mut Vec<CloneStep>) {
        let mut consumed = Vec::new();
        self.input.tick(&mut consumed);
        self.consumer_steps(consumed, steps);
        if let Some(output) = &mut self.output {
            let mut produced = Vec::new();
            output.tick(&mut produced);
            self.producer_steps(produced, steps);
        }
    }

    fn open_output(&mut self, master: NativeEntity, steps: &mut Vec<CloneStep>) {
        let mut output = Producer::new();
        let mut produced = Vec::new();
        output.add(master, &mut produced);
        for command in self.stalled.drain(..) {
            output.produce(command, &mut produced);
        }
        self.output = Some(output);
        self.producer_steps(produced, steps);
    }

    fn consumer_steps(
        &mut self,
        consumed: Vec<ConsumerOutput<Command>>,
        steps: &mut Vec<CloneStep>,
    ) {
        let (me, publisher) = (self.me, self.publisher);
        let control = |receiver, content| {
            CloneStep::Send(InternalCommand {
                seq: 0,
                sender: me,
                receiver,
                content,
            })
        };
        let master = self.master.unwrap_or(NativeEntity::NIL);
        for output in consumed {
            steps.push(match output {
                ConsumerOutput::Deliver(Command::PutUniqueResult {
                    inserted,
                    who,
                    req_id,
                    ..
                }) => {
                    if who != publisher {
                        continue;
                    }
                    CloneStep::PutUniqueResult { req_id, inserted }
                }
                ConsumerOutput::Deliver(command) => CloneStep::Apply(command),
                // Out of sync for good: start over from a fresh snapshot.
                ConsumerOutput::Lost(seq) => {
                    steps.push(CloneStep::ChangeLost { seq });
                    self.reset(steps);
                    self.start(steps);
                    return;
                }
                ConsumerOutput::Ack(seq) => control(master, Command::CumulativeAck { seq }),
                ConsumerOutput::Nack(seqs) => control(master, Command::Nack { seqs }),
            });
        }
    }

    fn producer_steps(
        &mut self,
        produced: Vec<ProducerOutput<NativeEntity, Command>>,
        steps: &mut Vec<CloneStep>,
    ) {
        let me = self.me;
        let master = self.master.unwrap_or(NativeEntity::NIL);
        let command = |seq, receiver, content| {
            CloneStep::Send(InternalCommand {
                seq,
                sender: me,
                receiver,
                content,
            })
        };
        for output in produced {
            match output {
                ProducerOutput::Handshake {
                    offset,
                    heartbeat_interval,
                    ..
                } => steps.push(command(
                    0,
                    master,
                    Command::AttachWriter {
                        offset,
                        heartbeat_interval,
                    },
                )),
                ProducerOutput::Broadcast { seq, payload }
                | ProducerOutput::Resend { seq, payload, .. } => {
                    steps.push(command(seq, master, payload))
                }
                ProducerOutput::RetransmitFailed { seq, .. } => {
                    steps.push(command(0, master, Command::RetransmitFailed { seq }))
                }
                ProducerOutput::Keepalive { seq } => {
                    // A master that missed our attach_writer ignores everything else.
                    let pending =
                        self.output.as_ref().into_iter().flat_map(|output| {
                            output.pending_handshakes().map(|(_, offset)| offset)
                        });
                    for offset in pending.collect::<Vec<_>>() {
                        steps.push(command(
                            0,
                            master,
                            Command::AttachWriter {
                                offset,
                                heartbeat_interval: crate::channel::HEARTBEAT_TICKS,
                            },
                        ));
                    }
                    steps.push(command(0, NativeEntity::NIL, Command::Keepalive { seq }));
                }
                ProducerOutput::HandshakeCompleted(_) => {}
                // The master went silent on our writer channel: attach again.
                ProducerOutput::Dropped(_) => {
                    self.reset(steps);
                    self.start(steps);
                    return;
                }
            }
        }
    }
}
