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
    (any::<[u8; 20]>(), any::<u32>()).prop_map(|(id, pid)| NodeId { id, pid })
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

/// Strategies for values JSON can carry (the WebSocket JSON suites).
pub mod json;
