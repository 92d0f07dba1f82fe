//! Proptest strategies for values JSON can carry, shared by the JSON test suites.

use broker_wire::{Data, Port, Protocol, Timespan, Timestamp};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

use super::{arb_addr, arb_subnet};

/// Any finite real (JSON has no NaN or infinities), negative zero included.
pub fn arb_finite_real() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |r| r.is_finite()),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 8.0),
    ]
}

/// Any scalar JSON can carry exactly: strings are UTF-8 (control characters
/// included), timestamps whole milliseconds.
pub fn arb_json_scalar() -> impl Strategy<Value = Data> {
    prop_oneof![
        Just(Data::None),
        any::<bool>().prop_map(Data::Boolean),
        any::<u64>().prop_map(Data::Count),
        any::<i64>().prop_map(Data::Integer),
        arb_finite_real().prop_map(Data::Real),
        "\\PC{0,12}".prop_map(Data::from),
        "[\\x00-\\x7f]{0,8}".prop_map(Data::from),
        arb_addr().prop_map(Data::Address),
        arb_subnet().prop_map(Data::Subnet),
        (any::<u16>(), 0u8..4).prop_map(|(n, p)| {
            let protocol = [
                Protocol::Unknown,
                Protocol::Tcp,
                Protocol::Udp,
                Protocol::Icmp,
            ];
            Data::Port(Port::new(n, protocol[usize::from(p)]))
        }),
        any::<i64>().prop_map(|t| Data::Timestamp(Timestamp(t / 1_000_000 * 1_000_000))),
        any::<i64>().prop_map(|t| Data::Timespan(Timespan(t))),
        (-5i64..5, 0u32..4).prop_map(|(n, p)| Data::Timespan(Timespan(n * 1000i64.pow(p)))),
        "[a-zA-Z:_]{0,12}".prop_map(Data::EnumValue),
    ]
}

/// Any value JSON can carry exactly, nesting at most 4 levels.
pub fn arb_json_data() -> impl Strategy<Value = Data> {
    arb_json_scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Data::Vector),
            btree_set(inner.clone(), 0..6).prop_map(Data::Set),
            btree_map(inner.clone(), inner, 0..6).prop_map(Data::Table),
        ]
    })
}
