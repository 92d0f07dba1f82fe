//! `Display` of values, compared with what Broker 1.4 prints
//! (`python3 -c 'import broker; print(broker.Data(...))'`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use broker_wire::{Data, Port, Protocol, Timespan, Timestamp};
use ipnet::IpNet;

fn addr(s: &str) -> Data {
    Data::Address(s.parse::<IpAddr>().unwrap())
}

fn subnet(s: &str) -> Data {
    Data::Subnet(s.parse::<IpNet>().unwrap())
}

fn set(items: impl IntoIterator<Item = Data>) -> Data {
    Data::Set(items.into_iter().collect::<BTreeSet<_>>())
}

fn table(entries: impl IntoIterator<Item = (Data, Data)>) -> Data {
    Data::Table(entries.into_iter().collect::<BTreeMap<_, _>>())
}

fn assert_prints(cases: &[(Data, &str)]) {
    for (data, expected) in cases {
        assert_eq!(data.to_string(), *expected, "{data:?}");
    }
}

#[test]
fn scalars_print_as_broker_1_4() {
    assert_prints(&[
        (Data::None, "nil"),
        (Data::Boolean(true), "T"),
        (Data::Boolean(false), "F"),
        (Data::Count(42), "42"),
        (Data::Integer(-7), "-7"),
        (Data::from("some string"), "some string"),
        (
            Data::EnumValue("Log::WRITER_ASCII".into()),
            "Log::WRITER_ASCII",
        ),
        (Data::Port(Port::new(80, Protocol::Tcp)), "80/tcp"),
        (Data::Port(Port::new(53, Protocol::Udp)), "53/udp"),
        (Data::Port(Port::new(8, Protocol::Icmp)), "8/icmp"),
        (Data::Port(Port::new(0, Protocol::Unknown)), "0/?"),
        (Data::Timespan(Timespan(1_500_000_000)), "1500000000ns"),
        (Data::Timespan(Timespan(-1500)), "-1500ns"),
        (
            Data::Timestamp(Timestamp(1_577_836_800_000_000_000)),
            "1577836800000000000ns",
        ),
    ]);
}

#[test]
fn reals_print_like_printf_f() {
    assert_prints(&[
        (Data::Real(3.5), "3.500000"),
        (Data::Real(2.25), "2.250000"),
        (Data::Real(1e18), "1000000000000000000.000000"),
        (Data::Real(-0.0), "-0.000000"),
        (Data::Real(0.1), "0.100000"),
        // Exact binary ties round to even, as glibc does.
        (Data::Real(0.0078125), "0.007812"),
        (Data::Real(2.5e-6), "0.000003"),
        (Data::Real(1.5e-7), "0.000000"),
        (Data::Real(f64::NAN), "nan"),
        (Data::Real(-f64::NAN), "-nan"),
        (Data::Real(f64::INFINITY), "inf"),
        (Data::Real(f64::NEG_INFINITY), "-inf"),
    ]);
    let huge = Data::Real(1e300).to_string();
    assert!(huge.starts_with("1000000000000000052504760255204420248704468581108159"));
    assert!(huge.ends_with("459400540160.000000"));
}

#[test]
fn addresses_and_subnets_print_as_broker_1_4() {
    assert_prints(&[
        (addr("1.2.3.4"), "1.2.3.4"),
        (addr("::1"), "::1"),
        (addr("2001:db8::1"), "2001:db8::1"),
        (addr("::ffff:1.2.3.4"), "1.2.3.4"),
        (addr("::1.2.3.4"), "::102:304"),
        (addr("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"),
        (subnet("10.0.0.0/8"), "10.0.0.0/8"),
        (subnet("2001:db8::/32"), "2001:db8::/32"),
        (subnet("0.0.0.0/0"), "0.0.0.0/0"),
        (subnet("::/0"), "::/0"),
        (subnet("1.2.3.4/32"), "1.2.3.4/32"),
        // Broker stores the masked network, and mapped networks as IPv4.
        (subnet("10.1.2.3/8"), "10.0.0.0/8"),
        (subnet("::ffff:10.0.0.0/104"), "10.0.0.0/8"),
        (subnet("::1.2.3.0/120"), "::102:300/120"),
    ]);
}

#[test]
fn containers_print_as_broker_1_4() {
    let vector = Data::Vector(vec![
        Data::Count(1),
        Data::from("a"),
        Data::Vector(vec![Data::Real(2.0)]),
    ]);
    assert_prints(&[
        (vector, "(1, a, (2.000000))"),
        (Data::Vector(vec![]), "()"),
        (set([]), "{}"),
        (table([]), "{}"),
        (set([Data::Count(2), Data::Count(1)]), "{1, 2}"),
        (table([(Data::from("a"), Data::Count(1))]), "{a -> 1}"),
        (
            table([
                (
                    Data::Vector(vec![Data::Count(1), Data::Count(2)]),
                    set([Data::Count(3)]),
                ),
                (Data::from("a"), Data::Count(1)),
            ]),
            "{a -> 1, (1, 2) -> {3}}",
        ),
        (
            table([
                (Data::Count(1), Data::from("x")),
                (Data::from("a"), Data::None),
            ]),
            "{1 -> x, a -> nil}",
        ),
    ]);
}

/// The example of `python-api.md`: iteration follows the order of types first.
#[test]
fn sets_and_tables_iterate_in_type_order() {
    assert_prints(&[
        (
            set([addr("::1"), Data::from("foo"), Data::None]),
            "{nil, foo, ::1}",
        ),
        (
            table([
                (
                    Data::Vector(vec![1.into(), 2.into(), 3.into()]),
                    Data::Integer(1),
                ),
                (
                    Data::Port(Port::new(22, Protocol::Tcp)),
                    Data::Boolean(false),
                ),
                (Data::Boolean(true), Data::Integer(42)),
            ]),
            "{T -> 42, 22/tcp -> F, (1, 2, 3) -> 1}",
        ),
        (
            set([Data::Real(1.0), Data::Integer(1), Data::Count(1)]),
            "{1, 1, 1.000000}",
        ),
    ]);
}

/// Values that are equal (same value, different representation) print the same.
#[test]
fn equal_values_print_the_same() {
    for (a, b) in [
        (addr("1.2.3.4"), addr("::ffff:1.2.3.4")),
        (subnet("10.0.0.0/8"), subnet("::ffff:10.0.0.0/104")),
        (subnet("10.1.2.3/8"), subnet("10.0.0.0/8")),
    ] {
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
    }
}
