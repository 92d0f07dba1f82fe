//! Store messages and store events as `Data`: every message survives a round trip,
//! malformed input is refused, and store events have Broker 1.4's shapes.

use broker_store::messages::{store_events, EntityId, MessageError, ToClones, ToMaster};
use broker_store::{Change, Entry, Operation};
use broker_wire::frame::NodeId;
use broker_wire::{Data, Timespan, Timestamp};

fn vector(fields: Vec<Data>) -> Data {
    Data::Vector(fields)
}

fn entity(object: u64) -> EntityId {
    EntityId {
        node: NodeId([0xAB; 16]),
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
            replayed: request % 2 == 0,
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
