//! Golden bytes of the native protocol (spec §4.2 and §6), in both directions: encoding
//! the value gives the bytes, decoding the bytes gives the value.

mod common;

use std::net::IpAddr;

use broker_wire::native::data::{decode_data, encode_data};
use broker_wire::native::envelope::bye_token;
use broker_wire::native::{
    Command, Content, DropConn, EndpointId, EntityId, Envelope, Handshake, Hello, InternalCommand,
    NativeCodec,
};
use broker_wire::zeek::Event;
use broker_wire::{Data, Port, Protocol, Timespan, Timestamp, Topic};
use common::hex;

/// The spec's ids: P (smallest), N (the reference broker-node), Q (largest).
const P: &str = "00000000-0000-4000-8000-000000000000";
const N: &str = "5746d8ee-3644-5bd2-9f54-d5a44c26c2a1";
const Q: &str = "ffffffff-ffff-4fff-bfff-ffffffffffff";

fn id(text: &str) -> EndpointId {
    text.parse().expect("valid UUID")
}

/// The hex digits of an id, for splicing into vectors.
fn id_hex(text: &str) -> String {
    text.replace('-', "")
}

#[track_caller]
fn data_both_ways(data: Data, bytes: &str) {
    let bytes = hex(bytes);
    let mut out = Vec::new();
    encode_data(&data, &mut out).expect("encodes");
    assert_eq!(out, bytes, "encoding {data:?}");
    assert_eq!(decode_data(&bytes), Ok(data));
}

#[track_caller]
fn handshake_both_ways(message: Handshake, frame: &str) {
    let frame = hex(frame);
    let codec = NativeCodec::default();
    let mut out = Vec::new();
    codec.encode_handshake(&message, &mut out).expect("encodes");
    assert_eq!(out, frame, "encoding {message:?}");
    assert_eq!(
        codec.decode_handshake(&frame),
        Ok(Some((message, frame.len())))
    );
}

#[track_caller]
fn envelope_both_ways(envelope: Envelope, frame: &str) {
    let frame = hex(frame);
    let codec = NativeCodec::default();
    let mut out = Vec::new();
    codec.encode_envelope(&envelope, &mut out).expect("encodes");
    assert_eq!(out, frame, "encoding {envelope:?}");
    assert_eq!(
        codec.decode_envelope(&frame),
        Ok(Some((envelope, frame.len())))
    );
}

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn every_data_kind_has_brokers_bytes() {
    data_both_ways(Data::None, "00");
    data_both_ways(Data::Boolean(true), "01 01");
    data_both_ways(Data::Boolean(false), "01 00");
    data_both_ways(Data::Count(1234567890), "02 00000000499602d2");
    data_both_ways(Data::Integer(-1234567890), "03 ffffffffb669fd2e");
    data_both_ways(Data::Real(1.0), "04 3ff0000000000000");
    data_both_ways(Data::from("hello world"), "05 0b 68656c6c6f20776f726c64");
    data_both_ways(
        Data::Address(addr("192.168.9.8")),
        "06 00000000000000000000ffff c0a80908",
    );
    data_both_ways(
        Data::Address(addr("2001:db8::1")),
        "06 20010db8000000000000000000000001",
    );
    data_both_ways(
        Data::Subnet("192.168.9.0/24".parse().unwrap()),
        "07 00000000000000000000ffff c0a80900 78",
    );
    data_both_ways(
        Data::Subnet("2001:db8::/32".parse().unwrap()),
        "07 20010db8000000000000000000000000 20",
    );
    data_both_ways(Data::Port(Port::new(8080, Protocol::Tcp)), "08 1f90 01");
    data_both_ways(Data::Port(Port::new(53, Protocol::Udp)), "08 0035 02");
    data_both_ways(Data::Port(Port::new(8, Protocol::Icmp)), "08 0008 03");
    data_both_ways(Data::Port(Port::new(0, Protocol::Unknown)), "08 0000 00");
    data_both_ways(Data::Timestamp(Timestamp(12345)), "09 0000000000003039");
    data_both_ways(Data::Timespan(Timespan(12345)), "0a 0000000000003039");
    data_both_ways(Data::EnumValue("foobar".into()), "0b 06 666f6f626172");
    data_both_ways(
        Data::Set([Data::Count(2), Data::Count(1)].into()),
        "0c 02 02 0000000000000001 02 0000000000000002",
    );
    data_both_ways(
        Data::Table([(Data::from("a"), Data::Count(1))].into()),
        "0d 01 05 01 61 02 0000000000000001",
    );
    data_both_ways(
        Data::Vector(vec![Data::from("ping")]),
        "0e 01 05 04 70696e67",
    );
}

#[test]
fn sets_and_tables_are_emitted_in_brokers_order() {
    // Tag first (none < count < integer < string < vector), then value.
    let set = Data::Set(
        [
            Data::Vector(vec![]),
            Data::from("b"),
            Data::from("a"),
            Data::Integer(-1),
            Data::Count(7),
            Data::None,
        ]
        .into(),
    );
    data_both_ways(
        set,
        "0c 06 00 | 02 0000000000000007 | 03 ffffffffffffffff | 05 01 61 | 05 01 62 | 0e 00",
    );
    let table = Data::Table(
        [
            (Data::from("ab"), Data::None),
            (Data::from("a"), Data::None),
            (Data::from("b"), Data::None),
        ]
        .into(),
    );
    data_both_ways(table, "0d 03 05 01 61 00 | 05 02 6162 00 | 05 01 62 00");
}

#[test]
fn lengths_above_127_take_more_varint_bytes() {
    let long = "x".repeat(300);
    let bytes = format!("05 ac02 {}", "78".repeat(300));
    data_both_ways(Data::from(long.as_str()), &bytes);
}

#[test]
fn data_envelope_a() {
    let envelope = Envelope {
        sender: id(N),
        receiver: id("c0551e8d-392b-509b-a47b-ae46f75befac"),
        ttl: 16,
        topic: Topic::from("foobar"),
        content: Content::Data(Data::from("hello world")),
    };
    let body = "5746d8ee36445bd29f54d5a44c26c2a1 c0551e8d392b509ba47bae46f75befac 01 0010 0006 \
                666f6f626172 05 0b 68656c6c6f20776f726c64";
    let frame = format!("{:08x} {body}", hex(body).len());
    envelope_both_ways(envelope, &frame);
}

#[test]
fn full_exchange_b_handshake() {
    let (p, n) = (id(P), id(N));
    handshake_both_ways(Handshake::Probe, "00000005 07 5a45454b");
    handshake_both_ways(
        Handshake::Hello(Hello {
            sender: p,
            min_version: 1,
            max_version: 99,
        }),
        "00000017 06 5a45454b 00000000000040008000000000000000 01 63",
    );
    handshake_both_ways(
        Handshake::Hello(Hello::new(n)),
        "00000017 06 5a45454b 5746d8ee36445bd29f54d5a44c26c2a1 01 01",
    );
    handshake_both_ways(
        Handshake::VersionSelect {
            sender: p,
            version: 1,
        },
        "00000016 08 5a45454b 00000000000040008000000000000000 01",
    );
    handshake_both_ways(
        Handshake::OriginatorSyn(vec![Topic::from("/foo/bar")]),
        "0000000b 0a 01 08 2f666f6f2f626172",
    );
    handshake_both_ways(
        Handshake::ResponderSynAck(vec![Topic::from("/test")]),
        "00000008 0b 01 05 2f74657374",
    );
    handshake_both_ways(Handshake::OriginatorAck, "00000001 0c");
}

#[test]
fn full_exchange_b_ping_pong_and_bye() {
    let (p, n) = (id(P), id(N));
    let ping = Envelope {
        ttl: 1,
        ..Envelope::control(p, n, Content::Ping(b"foo".to_vec()))
    };
    envelope_both_ways(
        ping.clone(),
        &format!(
            "0000002b {} {} 04 0001 0003 3c243e 666f6f",
            id_hex(P),
            id_hex(N)
        ),
    );
    let pong = ping.pong().expect("a ping has a pong");
    envelope_both_ways(
        pong,
        &format!(
            "0000002b {} {} 05 0010 0003 3c243e 666f6f",
            id_hex(N),
            id_hex(P)
        ),
    );
    let bye = Envelope::bye(n, p, 7);
    envelope_both_ways(
        bye.clone(),
        &format!(
            "00000033 {} {} 04 0010 0003 3c243e 425945 0700000000000000",
            id_hex(N),
            id_hex(P)
        ),
    );
    let Content::Ping(payload) = &bye.content else {
        panic!("BYE is a ping")
    };
    assert_eq!(bye_token(payload), Some(7));
    assert_eq!(bye_token(b"foo"), None);
}

#[test]
fn drop_conn_c() {
    let q = id(Q);
    handshake_both_ways(
        Handshake::DropConn(DropConn {
            sender: q,
            code: 39,
            description: "redundant connection".into(),
        }),
        &format!(
            "0000002b 09 5a45454b {} 27 14 726564756e64616e7420636f6e6e656374696f6e",
            id_hex(Q)
        ),
    );
    let description = "unsupported versions offered";
    handshake_both_ways(
        Handshake::DropConn(DropConn {
            sender: q,
            code: 2,
            description: description.into(),
        }),
        &format!(
            "00000033 09 5a45454b {} 02 1c {}",
            id_hex(Q),
            description
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    );
}

#[test]
fn published_data_d() {
    let envelope = Envelope::publish(
        id(P),
        Topic::from("/test"),
        Data::Vector(vec!["ping".into()]),
    );
    envelope_both_ways(
        envelope,
        &format!(
            "00000032 {} 00000000000000000000000000000000 01 0010 0005 2f74657374 0e 01 05 04 70696e67",
            id_hex(P)
        ),
    );
}

const EVENT: &str = "0e 03 | 02 0000000000000001 | 02 0000000000000001 | 0e 02 | 05 04 70696e67 \
                     | 0e 02 05 02 6869 02 000000000000002a";

#[test]
fn zeek_event_e() {
    let event = Event::new("ping", vec![Data::from("hi"), Data::Count(42)]).into_data();
    data_both_ways(event, EVENT);
}

#[test]
fn zeek_event_with_metadata_e() {
    let network_timestamp = Data::Vector(vec![
        Data::Count(1),
        Data::Timestamp(Timestamp(1_700_000_000 * 1_000_000_000)),
    ]);
    let content = Data::Vector(vec![
        Data::from("ping"),
        Data::Vector(vec![Data::from("hi"), Data::Count(42)]),
        Data::Vector(vec![network_timestamp]),
    ]);
    let event = Data::Vector(vec![Data::Count(1), Data::Count(1), content]);
    let bytes = EVENT.replace("0e 02 | 05 04", "0e 03 | 05 04")
        + " 0e 01 0e 02 02 0000000000000001 09 17979cfe362a0000";
    data_both_ways(event.clone(), &bytes);
    let view = Event::try_from(&event).expect("metadata is tolerated");
    assert_eq!(view.name, "ping");
}

#[test]
fn routing_update_f() {
    let filter = vec![Topic::from("/test"), Topic::from("zeek/event/")];
    let envelope = Envelope::control(id(N), id(Q), Content::RoutingUpdate(filter));
    let body = format!(
        "{} {} 03 0010 0003 3c243e 02 05 2f74657374 0b 7a65656b2f6576656e742f",
        id_hex(N),
        id_hex(Q)
    );
    envelope_both_ways(envelope, &format!("{:08x} {body}", hex(&body).len()));
}

#[test]
fn command_g() {
    let n = id(N);
    let entity = EntityId {
        endpoint: n,
        object: 5,
    };
    let command = InternalCommand {
        seq: 2,
        sender: entity,
        receiver: EntityId::NIL,
        content: Command::Put {
            key: Data::from("k"),
            value: Data::Count(1),
            expiry: None,
            publisher: entity,
        },
    };
    let payload = format!(
        "0000000000000002 | {n} 0000000000000005 | 00000000000000000000000000000000 \
         0000000000000000 | 00 | 05 01 6b | 02 0000000000000001 | 00 | {n} 0000000000000005",
        n = id_hex(N)
    );
    assert_eq!(hex(&payload).len(), 94);
    let mut out = Vec::new();
    command.encode(&mut out).unwrap();
    assert_eq!(out, hex(&payload));
    assert_eq!(InternalCommand::decode(&hex(&payload)), Ok(command.clone()));

    let envelope = Envelope {
        sender: n,
        receiver: EndpointId::NIL,
        ttl: 16,
        topic: Topic::from("mystore/<$>/data/clone"),
        content: Content::Command(command),
    };
    let body = format!(
        "{} 00000000000000000000000000000000 02 0010 0016 {} {payload}",
        id_hex(N),
        "mystore/<$>/data/clone"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    envelope_both_ways(envelope, &format!("{:08x} {body}", hex(&body).len()));
}

#[test]
fn clone_attach_nack_g() {
    let clone = EntityId {
        endpoint: id(Q),
        object: 3,
    };
    let nack = InternalCommand {
        seq: 0,
        sender: clone,
        receiver: EntityId::NIL,
        content: Command::Nack { seqs: vec![0] },
    };
    let payload = hex(&format!(
        "0000000000000000 {} 0000000000000003 {} 0000000000000000 0b 01 0000000000000000",
        id_hex(Q),
        "00".repeat(16)
    ));
    let mut out = Vec::new();
    nack.encode(&mut out).unwrap();
    assert_eq!(out, payload);
    assert_eq!(InternalCommand::decode(&payload), Ok(nack));
}

#[test]
fn endpoint_ids_print_and_parse_as_uuids() {
    for text in [P, N, Q] {
        assert_eq!(id(text).to_string(), text);
    }
    assert!("5746d8ee36445bd29f54d5a44c26c2a1"
        .parse::<EndpointId>()
        .is_err());
    assert!("5746d8ee-3644-5bd2-9f54-d5a44c26c2ag"
        .parse::<EndpointId>()
        .is_err());
    let random = EndpointId::from_random([0xff; 16]);
    assert_eq!(random.to_string(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

/// Every kind in one vector, as `tests/native_peer` sends it to the reference Broker's
/// Python bindings, which decode it and publish it back byte for byte
/// (`test_every_data_kind_survives_brokers_decoder_and_encoder`).
#[test]
fn every_kind_as_the_reference_broker_echoes_it() {
    let value = Data::Vector(vec![
        Data::None,
        Data::Boolean(true),
        Data::Count(u64::MAX),
        Data::Integer(-5),
        Data::Real(1.5),
        Data::from("hi"),
        Data::Address(addr("192.168.9.8")),
        Data::Address(addr("2001:db8::1")),
        Data::Subnet("192.168.9.0/24".parse().unwrap()),
        Data::Subnet("2001:db8::/32".parse().unwrap()),
        Data::Port(Port::new(8080, Protocol::Tcp)),
        Data::Port(Port::new(53, Protocol::Udp)),
        Data::Port(Port::new(8, Protocol::Icmp)),
        Data::Port(Port::new(0, Protocol::Unknown)),
        Data::Timestamp(Timestamp(1_700_000_000_123_456_000)),
        Data::Timespan(Timespan(-12_345_000)),
        Data::EnumValue("Foo::BAR".into()),
        Data::Set([Data::from("a"), Data::Count(2), Data::Count(1), Data::None].into()),
        Data::Table(
            [
                (Data::from("b"), Data::Vector(vec![])),
                (Data::from("ab"), Data::None),
                (Data::from("a"), Data::Count(1)),
            ]
            .into(),
        ),
        Data::Vector(vec![Data::Vector(vec![Data::Count(1)])]),
    ]);
    data_both_ways(
        value,
        "0e1400010102ffffffffffffffff03fffffffffffffffb043ff8000000000000050268690600000000\
         000000000000ffffc0a809080620010db80000000000000000000000010700000000000000000000ff\
         ffc0a80900780720010db800000000000000000000000020081f90010800350208000803080000000917\
         979cfe3d85ca000affffffffff43a1580b08466f6f3a3a4241520c040002000000000000000102000000\
         00000000020501610d0305016102000000000000000105026162000501620e000e010e01020000000000\
         000001",
    );
}

/// Every store command after the header, laid out by hand from the spec's table (§5):
/// variant index, then the fields (`data` tagged, expiry an optional i64, entity
/// endpoint + u64, lists a varint count).
#[test]
fn every_store_command_has_the_specs_layout() {
    let (q, n) = (id(Q), id(N));
    let writer = EntityId {
        endpoint: q,
        object: 3,
    };
    let master = EntityId {
        endpoint: n,
        object: 5,
    };
    let (w, m) = (
        format!("{} 0000000000000003", id_hex(Q)),
        format!("{} 0000000000000005", id_hex(N)),
    );
    let k = "05 01 6b";
    let one = "02 0000000000000001";
    let cases = vec![
        (
            Command::PutUnique {
                key: "k".into(),
                value: Data::Count(1),
                expiry: Some(Timespan(1000)),
                who: writer,
                req_id: 9,
                publisher: writer,
            },
            format!("01 {k} {one} 01 00000000000003e8 {w} 0000000000000009 {w}"),
        ),
        (
            Command::PutUniqueResult {
                inserted: true,
                who: writer,
                req_id: 9,
                publisher: master,
            },
            format!("02 01 {w} 0000000000000009 {m}"),
        ),
        (
            Command::Erase {
                key: "k".into(),
                publisher: writer,
            },
            format!("03 {k} {w}"),
        ),
        (
            Command::Expire {
                key: "k".into(),
                publisher: master,
            },
            format!("04 {k} {m}"),
        ),
        (
            Command::Add {
                key: "k".into(),
                value: Data::Count(1),
                init_type: broker_wire::native::DataTag::Count,
                expiry: None,
                publisher: writer,
            },
            format!("05 {k} {one} 02 00 {w}"),
        ),
        (
            Command::Subtract {
                key: "k".into(),
                value: Data::Count(1),
                expiry: None,
                publisher: writer,
            },
            format!("06 {k} {one} 00 {w}"),
        ),
        (Command::Clear { publisher: writer }, format!("07 {w}")),
        (
            Command::AttachWriter {
                offset: 1,
                heartbeat_interval: 5,
            },
            "08 0000000000000001 0005".to_owned(),
        ),
        (
            Command::Keepalive { seq: 7 },
            "09 0000000000000007".to_owned(),
        ),
        (
            Command::CumulativeAck { seq: 7 },
            "0a 0000000000000007".to_owned(),
        ),
        (
            Command::Nack { seqs: vec![3, 4] },
            "0b 02 0000000000000003 0000000000000004".to_owned(),
        ),
        (
            Command::AckClone {
                offset: 1,
                heartbeat_interval: 5,
                state: [("k".into(), Data::Count(1))].into(),
            },
            format!("0c 0000000000000001 0005 01 {k} {one}"),
        ),
        (
            Command::RetransmitFailed { seq: 3 },
            "0d 0000000000000003".to_owned(),
        ),
    ];
    for (content, body) in cases {
        let command = InternalCommand {
            seq: 0,
            sender: writer,
            receiver: master,
            content,
        };
        let bytes = hex(&format!("0000000000000000 {w} {m} {body}"));
        let mut out = Vec::new();
        command.encode(&mut out).unwrap();
        assert_eq!(out, bytes, "{:?}", command.content);
        assert_eq!(InternalCommand::decode(&bytes), Ok(command));
    }
}
