//! The master's side of Broker's store protocol, driven by hand.

use broker_wire::frame::NodeId;
use broker_wire::native::InternalCommand;

use super::*;

fn entity(byte: u8, object: u64) -> EntityId {
    EntityId {
        node: NodeId([byte; 16]),
        object,
    }
}

fn from(sender: EntityId, seq: u64, content: Command) -> InternalCommand {
    InternalCommand {
        seq,
        sender: to_native(sender),
        receiver: NativeEntity::NIL,
        content,
    }
}

/// The clone side of `clone`, attached to `master` with an empty snapshot at offset 1.
fn attached(master: EntityId, clone: EntityId, steps: &mut Vec<CloneStep>) -> BrokerMaster {
    let mut channels = BrokerMaster::new(clone);
    channels.start(steps);
    let ack_clone = Command::AckClone {
        offset: 1,
        heartbeat_interval: 5,
        state: Default::default(),
    };
    channels.receive(
        InternalCommand {
            seq: 1,
            sender: to_native(master),
            receiver: to_native(clone),
            content: ack_clone,
        },
        steps,
    );
    channels
}

fn put(key: &str, value: u64) -> Command {
    Command::Put {
        key: key.into(),
        value: Data::Count(value),
        expiry: None,
        publisher: NativeEntity::NIL,
    }
}

#[test]
fn a_clone_attaches_with_nack_zero_and_then_gets_every_change_numbered_from_two() {
    let (master, clone) = (entity(1, 1), entity(2, 7));
    let mut channels = BrokerClones::new(master);
    let mut steps = Vec::new();
    channels.broadcast(put("before", 1), &mut steps);
    assert!(steps.is_empty(), "nothing numbered without clones");
    channels.receive(from(clone, 0, Command::Nack { seqs: vec![0] }), &mut steps);
    assert_eq!(
        steps,
        vec![MasterStep::AckClone {
            clone: to_native(clone),
            offset: 1,
            heartbeat_interval: 5
        }]
    );
    steps.clear();
    channels.receive(
        from(clone, 0, Command::CumulativeAck { seq: 1 }),
        &mut steps,
    );
    channels.broadcast(put("k", 2), &mut steps);
    assert_eq!(
        steps,
        vec![MasterStep::Send(InternalCommand {
            seq: 2,
            sender: to_native(master),
            receiver: NativeEntity::NIL,
            content: put("k", 2),
        })]
    );
    // The clone misses 3: resent on its nack.
    channels.broadcast(put("k", 3), &mut steps);
    steps.clear();
    channels.receive(from(clone, 0, Command::Nack { seqs: vec![3] }), &mut steps);
    assert!(
        matches!(&steps[..], [MasterStep::Send(c)] if c.seq == 3),
        "{steps:?}"
    );
}

#[test]
fn a_writers_actions_are_applied_in_its_order_and_acked_to_it() {
    let (master, writer) = (entity(1, 1), entity(2, 7));
    let mut channels = BrokerClones::new(master);
    let mut steps = Vec::new();
    channels.receive(from(writer, 3, put("early", 0)), &mut steps);
    assert!(steps.is_empty(), "actions before attach_writer are ignored");
    let attach = Command::AttachWriter {
        offset: 1,
        heartbeat_interval: 5,
    };
    channels.receive(from(writer, 0, attach), &mut steps);
    let ack = |seq| {
        MasterStep::Send(InternalCommand {
            seq: 0,
            sender: to_native(master),
            receiver: to_native(writer),
            content: Command::CumulativeAck { seq },
        })
    };
    assert_eq!(steps, vec![ack(1)]);
    steps.clear();
    channels.receive(from(writer, 3, put("b", 3)), &mut steps);
    assert!(steps.is_empty(), "3 waits for 2");
    channels.receive(from(writer, 2, put("a", 2)), &mut steps);
    let apply = |command| MasterStep::Apply {
        writer: to_native(writer),
        command,
    };
    assert_eq!(steps, vec![apply(put("a", 2)), apply(put("b", 3))]);
    steps.clear();
    channels.tick(&mut steps);
    assert_eq!(steps, vec![ack(3)], "progress is acked on the first tick");
}

#[test]
fn brokers_add_and_subtract_become_the_write_the_value_calls_for() {
    let add = |value: Data, init_type| Command::Add {
        key: "k".into(),
        value,
        init_type,
        expiry: None,
        publisher: NativeEntity::NIL,
    };
    let subtract = |value: Data| Command::Subtract {
        key: "k".into(),
        value,
        expiry: None,
        publisher: NativeEntity::NIL,
    };
    assert_eq!(
        command_to_operation(add(Data::Count(2), DataTag::Count), None),
        Some(Operation::Increment {
            key: "k".into(),
            amount: Data::Count(2),
            expiry: None
        })
    );
    assert_eq!(
        command_to_operation(add("x".into(), DataTag::String), Some(&"ab".into())),
        Some(Operation::Append {
            key: "k".into(),
            suffix: "x".into(),
            expiry: None
        })
    );
    let pair = Data::Vector(vec!["i".into(), Data::Count(1)]);
    assert_eq!(
        command_to_operation(add(pair, DataTag::Table), None),
        Some(Operation::InsertInto {
            key: "k".into(),
            index: "i".into(),
            value: Some(Data::Count(1)),
            expiry: None
        })
    );
    assert_eq!(
        command_to_operation(subtract("i".into()), Some(&Data::Set(["i".into()].into()))),
        Some(Operation::RemoveFrom {
            key: "k".into(),
            index: "i".into(),
            expiry: None
        })
    );
    assert_eq!(
        command_to_operation(subtract(Data::None), Some(&Data::Vector(vec![]))),
        Some(Operation::Pop {
            key: "k".into(),
            expiry: None
        })
    );
    assert_eq!(
        command_to_operation(subtract(Data::Count(1)), Some(&Data::Count(3))),
        Some(Operation::Decrement {
            key: "k".into(),
            amount: Data::Count(1),
            expiry: None
        })
    );
}

#[test]
fn changes_become_the_commands_broker_clones_apply() {
    let me = entity(1, 1);
    let insert = Change::Insert {
        key: "k".into(),
        value: Data::Count(1),
        expiry: Some(Timestamp(1_500)),
    };
    assert_eq!(
        change_to_command(&insert, Timestamp(1_000), me),
        Command::Put {
            key: "k".into(),
            value: Data::Count(1),
            expiry: Some(Timespan(500)),
            publisher: to_native(me),
        }
    );
    let clear = Change::Clear {
        keys: vec!["k".into()],
    };
    assert_eq!(
        change_to_command(&clear, Timestamp(0), me),
        Command::Clear {
            publisher: to_native(me)
        }
    );
}

#[test]
fn a_clone_attaches_loads_the_snapshot_and_then_opens_its_writer_channel() {
    let (master, clone) = (entity(1, 1), entity(2, 7));
    let (m, c) = (to_native(master), to_native(clone));
    let mut channels = BrokerMaster::new(clone);
    let mut steps = Vec::new();
    channels.start(&mut steps);
    let send = |seq, receiver, content| {
        CloneStep::Send(InternalCommand {
            seq,
            sender: c,
            receiver,
            content,
        })
    };
    assert_eq!(
        steps,
        vec![send(0, NativeEntity::NIL, Command::Nack { seqs: vec![0] })]
    );
    steps.clear();
    // A write made before the master answered waits for the writer channel.
    channels.write(put("early", 1), &mut steps);
    // The master's change 2 overtakes its ack_clone (offset 1).
    channels.receive(from(master, 2, put("k", 2)), &mut steps);
    assert!(steps.is_empty());
    let state: broker_wire::data::Table = [("s".into(), Data::Count(0))].into();
    let ack_clone = InternalCommand {
        seq: 1,
        sender: m,
        receiver: c,
        content: Command::AckClone {
            offset: 1,
            heartbeat_interval: 5,
            state: state.clone(),
        },
    };
    channels.receive(ack_clone, &mut steps);
    assert_eq!(
        steps,
        vec![
            CloneStep::Load(state),
            CloneStep::Apply(put("k", 2)),
            send(0, m, Command::CumulativeAck { seq: 2 }),
            send(
                0,
                m,
                Command::AttachWriter {
                    offset: 1,
                    heartbeat_interval: 5
                }
            ),
            send(2, m, put("early", 1)),
        ]
    );
    assert!(channels.attached());
}

#[test]
fn a_clone_takes_its_put_unique_answers_and_starts_over_when_an_event_is_lost() {
    let (master, clone) = (entity(1, 1), entity(2, 7));
    let (m, c) = (to_native(master), to_native(clone));
    let mut steps = Vec::new();
    let mut channels = attached(master, clone, &mut steps);
    steps.clear();
    let result = |who, req_id| Command::PutUniqueResult {
        inserted: true,
        who,
        req_id,
        publisher: m,
    };
    channels.receive(from(master, 2, result(NativeEntity::NIL, 1)), &mut steps);
    channels.receive(from(master, 3, result(c, 4)), &mut steps);
    assert_eq!(
        steps,
        vec![CloneStep::PutUniqueResult {
            req_id: 4,
            inserted: true
        }]
    );
    // Another master's messages are not ours.
    steps.clear();
    channels.receive(from(entity(9, 9), 4, put("x", 1)), &mut steps);
    assert!(steps.is_empty());
    // Event 4 is gone for good: attach again, as a new consumer.
    let failed = InternalCommand {
        seq: 0,
        sender: m,
        receiver: c,
        content: Command::RetransmitFailed { seq: 4 },
    };
    channels.receive(failed, &mut steps);
    let again = NativeEntity {
        endpoint: c.endpoint,
        object: c.object + (1 << 40),
    };
    assert_eq!(
        steps,
        vec![
            CloneStep::ChangeLost { seq: 4 },
            CloneStep::Unsynced,
            CloneStep::Send(InternalCommand {
                seq: 0,
                sender: again,
                receiver: NativeEntity::NIL,
                content: Command::Nack { seqs: vec![0] },
            })
        ]
    );
    assert!(!channels.attached());
    // Answers to our writes still come to the clone's own entity.
    let ack_clone = Command::AckClone {
        offset: 9,
        heartbeat_interval: 5,
        state: Default::default(),
    };
    channels.receive(
        InternalCommand {
            seq: 9,
            sender: m,
            receiver: again,
            content: ack_clone,
        },
        &mut steps,
    );
    assert!(channels.attached());
    steps.clear();
    channels.receive(from(master, 10, result(c, 5)), &mut steps);
    assert_eq!(
        steps,
        vec![CloneStep::PutUniqueResult {
            req_id: 5,
            inserted: true
        }]
    );
}

#[test]
fn our_writes_become_the_commands_broker_masters_apply() {
    let me = entity(2, 7);
    let publisher = to_native(me);
    let round_trip = |op: Operation, current: Option<Data>| {
        command_to_operation(operation_to_command(op, me, 1), current.as_ref())
    };
    let ops = [
        (
            Operation::Increment {
                key: "n".into(),
                amount: Data::Integer(2),
                expiry: None,
            },
            None,
        ),
        (
            Operation::InsertInto {
                key: "t".into(),
                index: "i".into(),
                value: Some(Data::Count(1)),
                expiry: None,
            },
            None,
        ),
        (
            Operation::RemoveFrom {
                key: "s".into(),
                index: "i".into(),
                expiry: None,
            },
            Some(Data::Set(["i".into()].into())),
        ),
        (
            Operation::Push {
                key: "v".into(),
                value: Data::Count(1),
                expiry: None,
            },
            None,
        ),
        (
            Operation::Pop {
                key: "v".into(),
                expiry: None,
            },
            Some(Data::Vector(vec![Data::Count(1)])),
        ),
        (
            Operation::Append {
                key: "a".into(),
                suffix: "x".into(),
                expiry: None,
            },
            None,
        ),
    ];
    for (op, current) in ops {
        assert_eq!(round_trip(op.clone(), current), Some(op));
    }
    assert_eq!(
        operation_to_command(
            Operation::PutUnique {
                key: "k".into(),
                value: Data::Count(1),
                expiry: None
            },
            me,
            9
        ),
        Command::PutUnique {
            key: "k".into(),
            value: Data::Count(1),
            expiry: None,
            who: publisher,
            req_id: 9,
            publisher,
        }
    );
}

#[test]
fn a_clone_nacks_the_tail_a_broadcast_keepalive_reveals() {
    let (master, clone) = (entity(1, 1), entity(2, 7));
    let (m, c) = (to_native(master), to_native(clone));
    let mut steps = Vec::new();
    let mut channels = attached(master, clone, &mut steps);
    // Changes 2 and 3 were lost; Broker's master broadcasts its keepalive.
    channels.receive(from(master, 0, Command::Keepalive { seq: 3 }), &mut steps);
    steps.clear();
    for _ in 0..3 {
        channels.tick(&mut steps);
    }
    let nack = CloneStep::Send(InternalCommand {
        seq: 0,
        sender: c,
        receiver: m,
        content: Command::Nack { seqs: vec![2, 3] },
    });
    assert!(steps.contains(&nack), "{steps:?}");
}

#[test]
fn a_lost_write_is_reported_and_the_writers_next_ones_applied() {
    let (master, writer) = (entity(1, 1), entity(2, 7));
    let mut channels = BrokerClones::new(master);
    let mut steps = Vec::new();
    let attach = Command::AttachWriter {
        offset: 1,
        heartbeat_interval: 5,
    };
    channels.receive(from(writer, 0, attach), &mut steps);
    channels.receive(from(writer, 3, put("b", 3)), &mut steps);
    steps.clear();
    channels.receive(
        from(writer, 0, Command::RetransmitFailed { seq: 2 }),
        &mut steps,
    );
    assert_eq!(
        steps,
        vec![
            MasterStep::WriteLost {
                writer: to_native(writer),
                seq: 2
            },
            MasterStep::Apply {
                writer: to_native(writer),
                command: put("b", 3)
            },
        ]
    );
}
