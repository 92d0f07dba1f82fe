//! Proptest strategies for values and frames, shared by the test suites.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use broker_wire::codec::FrameCodec;
use broker_wire::frame::StoreFrame;
use broker_wire::Data;
use broker_wire::{DataMessage, Frame, Hello, NodeId, Port, Protocol, Timespan, Timestamp, Topic};
use ipnet::IpNet;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

/// Any address, v4, v6 or v4-mapped v6.
pub fn arb_addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
        any::<[u8; 4]>().prop_map(|o| IpAddr::V6(Ipv4Addr::from(o).to_ipv6_mapped())),
    ]
}

/// Any subnet, host bits included.
pub fn arb_subnet() -> impl Strategy<Value = IpNet> {
    arb_addr().prop_flat_map(|addr| {
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        (0..=max).prop_map(move |len| IpNet::new(addr, len).expect("valid prefix"))
    })
}

/// Any real, NaNs and infinities included.
pub fn arb_real() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

/// Any scalar value.
pub fn arb_scalar() -> impl Strategy<Value = Data> {
    prop_oneof![
        Just(Data::None),
        any::<bool>().prop_map(Data::Boolean),
        any::<u64>().prop_map(Data::Count),
        any::<i64>().prop_map(Data::Integer),
        arb_real().prop_map(Data::Real),
        "\\PC{0,12}".prop_map(Data::from),
        vec(any::<u8>(), 0..12).prop_map(Data::String),
        arb_addr().prop_map(Data::Address),
        arb_subnet().prop_map(Data::Subnet),
        (any::<u16>(), 0u8..4).prop_map(|(n, p)| Data::Port(Port::new(n, protocol(p)))),
        any::<i64>().prop_map(|t| Data::Timestamp(Timestamp(t))),
        any::<i64>().prop_map(|t| Data::Timespan(Timespan(t))),
        "[a-z:]{0,8}".prop_map(Data::EnumValue),
    ]
}

fn protocol(p: u8) -> Protocol {
    [
        Protocol::Unknown,
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Icmp,
    ][usize::from(p)]
}

/// Any value nesting at most 4 levels.
pub fn arb_data() -> impl Strategy<Value = Data> {
    arb_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Data::Vector),
            btree_set(inner.clone(), 0..6).prop_map(Data::Set),
            btree_map(inner.clone(), inner, 0..6).prop_map(Data::Table),
        ]
    })
}

pub fn arb_node() -> impl Strategy<Value = NodeId> {
    any::<[u8; 16]>().prop_map(NodeId)
}

pub fn arb_topic() -> impl Strategy<Value = Topic> {
    "(/[a-z<$>]{0,6}){0,3}".prop_map(Topic::new)
}

pub fn arb_message() -> impl Strategy<Value = DataMessage> {
    (
        arb_node(),
        any::<u64>(),
        any::<u16>(),
        arb_topic(),
        arb_data(),
    )
        .prop_map(|(origin, id, ttl, topic, data)| DataMessage {
            origin,
            id,
            ttl,
            topic,
            data,
        })
}

/// Any frame, every variant.
pub fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (arb_node(), vec(arb_topic(), 0..4))
            .prop_map(|(node, filter)| Frame::Hello(Hello::new(node, filter))),
        (any::<[u8; 4]>(), any::<u32>(), arb_node()).prop_map(|(magic, version, node)| {
            Frame::Hello(Hello {
                magic,
                version,
                node,
                filter: vec![],
            })
        }),
        vec(arb_topic(), 0..4).prop_map(Frame::Filter),
        vec(arb_message(), 0..4).prop_map(Frame::Batch),
        any::<u64>().prop_map(Frame::Ping),
        any::<u64>().prop_map(Frame::Pong),
        Just(Frame::Goodbye),
        ("[a-z]{0,8}", vec(any::<u8>(), 0..16))
            .prop_map(|(store, payload)| Frame::Store(StoreFrame::Command { store, payload })),
    ]
}

/// `frame` with its length prefix.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    FrameCodec::default()
        .encode(frame, &mut out)
        .expect("frame encodes");
    out
}

/// `depth` vectors nested in each other around a count.
pub fn nested_vectors(depth: usize) -> Data {
    let mut data = Data::Count(1);
    for _ in 0..depth {
        data = Data::Vector(vec![data]);
    }
    data
}

/// Bytes from hex digits; spaces, newlines and `|` separators are ignored.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits in {text:?}"
    );
    digits
        .chunks_exact(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

pub mod native {
    //! Proptest strategies for the native protocol's messages.

    use broker_wire::native::{
        Command, Content, DataTag, DropConn, EndpointId, EntityId, Envelope, Handshake, Hello,
        InternalCommand,
    };
    use broker_wire::{Timespan, Topic};
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    use super::{arb_data, arb_topic};

    pub fn arb_endpoint() -> impl Strategy<Value = EndpointId> {
        any::<[u8; 16]>().prop_map(EndpointId)
    }

    pub fn arb_entity() -> impl Strategy<Value = EntityId> {
        (arb_endpoint(), any::<u64>()).prop_map(|(endpoint, object)| EntityId { endpoint, object })
    }

    pub fn arb_filter() -> impl Strategy<Value = Vec<Topic>> {
        vec(arb_topic(), 0..4)
    }

    /// Every handshake message that passes Broker's checks.
    pub fn arb_handshake() -> impl Strategy<Value = Handshake> {
        prop_oneof![
            (arb_endpoint(), 0u8..=1, 1u8..=255).prop_map(|(sender, min_version, max_version)| {
                Handshake::Hello(Hello {
                    sender,
                    min_version,
                    max_version,
                })
            }),
            Just(Handshake::Probe),
            arb_endpoint().prop_map(|sender| Handshake::VersionSelect { sender, version: 1 }),
            (arb_endpoint(), 0u8..=41, "\\PC{0,20}").prop_map(|(sender, code, description)| {
                Handshake::DropConn(DropConn {
                    sender,
                    code,
                    description,
                })
            }),
            arb_filter().prop_map(Handshake::OriginatorSyn),
            arb_filter().prop_map(Handshake::ResponderSynAck),
            Just(Handshake::OriginatorAck),
        ]
    }

    fn arb_expiry() -> impl Strategy<Value = Option<Timespan>> {
        proptest::option::of(any::<i64>().prop_map(Timespan))
    }

    fn arb_tag() -> impl Strategy<Value = DataTag> {
        (0u8..15).prop_map(|t| DataTag::try_from(t).expect("tags 0-14 exist"))
    }

    /// Every store command.
    pub fn arb_command() -> impl Strategy<Value = Command> {
        let kv = || (arb_data(), arb_data(), arb_expiry(), arb_entity());
        prop_oneof![
            kv().prop_map(|(key, value, expiry, publisher)| Command::Put {
                key,
                value,
                expiry,
                publisher
            }),
            (kv(), arb_entity(), any::<u64>()).prop_map(
                |((key, value, expiry, publisher), who, req_id)| Command::PutUnique {
                    key,
                    value,
                    expiry,
                    who,
                    req_id,
                    publisher
                }
            ),
            (any::<bool>(), arb_entity(), any::<u64>(), arb_entity()).prop_map(
                |(inserted, who, req_id, publisher)| Command::PutUniqueResult {
                    inserted,
                    who,
                    req_id,
                    publisher
                }
            ),
            (arb_data(), arb_entity())
                .prop_map(|(key, publisher)| Command::Erase { key, publisher }),
            (arb_data(), arb_entity())
                .prop_map(|(key, publisher)| Command::Expire { key, publisher }),
            (kv(), arb_tag()).prop_map(|((key, value, expiry, publisher), init_type)| {
                Command::Add {
                    key,
                    value,
                    init_type,
                    expiry,
                    publisher,
                }
            }),
            kv().prop_map(|(key, value, expiry, publisher)| Command::Subtract {
                key,
                value,
                expiry,
                publisher
            }),
            arb_entity().prop_map(|publisher| Command::Clear { publisher }),
            (any::<u64>(), any::<u16>()).prop_map(|(offset, heartbeat_interval)| {
                Command::AttachWriter {
                    offset,
                    heartbeat_interval,
                }
            }),
            any::<u64>().prop_map(|seq| Command::Keepalive { seq }),
            any::<u64>().prop_map(|seq| Command::CumulativeAck { seq }),
            vec(any::<u64>(), 0..5).prop_map(|seqs| Command::Nack { seqs }),
            (
                any::<u64>(),
                any::<u16>(),
                btree_map(arb_data(), arb_data(), 0..4)
            )
                .prop_map(|(offset, heartbeat_interval, state)| Command::AckClone {
                    offset,
                    heartbeat_interval,
                    state
                }),
            any::<u64>().prop_map(|seq| Command::RetransmitFailed { seq }),
        ]
    }

    pub fn arb_internal_command() -> impl Strategy<Value = InternalCommand> {
        (any::<u64>(), arb_entity(), arb_entity(), arb_command()).prop_map(
            |(seq, sender, receiver, content)| InternalCommand {
                seq,
                sender,
                receiver,
                content,
            },
        )
    }

    /// Every kind of envelope.
    pub fn arb_envelope() -> impl Strategy<Value = Envelope> {
        let content = prop_oneof![
            arb_data().prop_map(Content::Data),
            arb_internal_command().prop_map(Content::Command),
            arb_filter().prop_map(Content::RoutingUpdate),
            vec(any::<u8>(), 0..16).prop_map(Content::Ping),
            vec(any::<u8>(), 0..16).prop_map(Content::Pong),
        ];
        (
            arb_endpoint(),
            arb_endpoint(),
            any::<u16>(),
            arb_topic(),
            content,
        )
            .prop_map(|(sender, receiver, ttl, topic, content)| Envelope {
                sender,
                receiver,
                ttl,
                topic,
                content,
            })
    }
}

/// Strategies for values JSON can carry (the WebSocket JSON suites).
pub mod json;
