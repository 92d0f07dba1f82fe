//! The benchmark's event types, after Broker's `broker-benchmark`: Zeek events whose
//! arguments are (1) a small vector, (2) a conn.log-like record, (3) a large table.

use std::net::{IpAddr, Ipv4Addr};

use broker_wire::data::{Set, Table};
use broker_wire::zeek::Event;
use broker_wire::{Data, Port, Protocol, Timespan, Timestamp};

/// Which payload a benchmark event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum EventType {
    /// `(42, "test")`.
    #[value(name = "1")]
    SmallVector,
    /// A Zeek conn.log entry: timestamps, addresses, ports, counts, strings.
    #[value(name = "2")]
    ConnLog,
    /// A table of 100 strings to sets of 10 strings.
    #[value(name = "3")]
    LargeTable,
}

impl EventType {
    /// A Zeek event of this type; `seq` varies its content a little.
    pub fn make(self, seq: u64) -> Data {
        let (name, args) = match self {
            EventType::SmallVector => ("event_1", vec![Data::Integer(42), Data::string("test")]),
            EventType::ConnLog => ("event_2", vec![conn_log(seq)]),
            EventType::LargeTable => ("event_3", vec![large_table(seq)]),
        };
        Event::new(name, args).into_data()
    }
}

fn conn_log(seq: u64) -> Data {
    let address = |last: u8| Data::Address(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)));
    let port = |number: u16| Data::Port(Port::new(number, Protocol::Tcp));
    Data::Vector(vec![
        Data::Timestamp(Timestamp::now()),
        Data::string(format!("CUPfSu4o7wzHat{seq:04}")),
        Data::Vector(vec![
            address(1),
            port(1024 + (seq % 60000) as u16),
            address(2),
            port(80),
        ]),
        Data::EnumValue("tcp".into()),
        Data::string("http"),
        Data::Timespan(Timespan(1_500_000)),
        Data::Count(1024),
        Data::Count(8192),
        Data::string("SF"),
        Data::Boolean(true),
        Data::Boolean(false),
        Data::Count(0),
        Data::string("ShADadFf"),
        Data::Count(12),
        Data::Count(1500),
        Data::Count(10),
        Data::Count(9000),
        Data::Set(Set::new()),
    ])
}

fn large_table(seq: u64) -> Data {
    let table: Table = (0..100u64)
        .map(|i| {
            let members: Set = (0..10u64)
                .map(|j| Data::string(format!("m{j:04}")))
                .collect();
            (
                Data::string(format!("key-{seq:06}-{i:04}")),
                Data::Set(members),
            )
        })
        .collect();
    Data::Table(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_wire::zeek::EventView;

    #[test]
    fn events_are_zeek_events_of_the_documented_shape() {
        let small = EventType::SmallVector.make(0);
        assert_eq!(
            EventView::parse(&small).unwrap().args,
            &[Data::Integer(42), Data::string("test")]
        );
        let conn = EventType::ConnLog.make(1);
        assert_eq!(
            EventView::parse(&conn).unwrap().args[0]
                .as_vector()
                .unwrap()
                .len(),
            18
        );
        let table = EventType::LargeTable.make(2);
        match &EventView::parse(&table).unwrap().args[0] {
            Data::Table(t) => assert_eq!(t.len(), 100),
            other => panic!("not a table: {other}"),
        }
    }
}
