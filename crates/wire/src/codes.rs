//! Broker's code tables, each defined once: error codes, status codes, peer statuses and
//! flags, store backends and frontends, port protocols and the types of values.
//!
//! Every table is one [`code_table!`] invocation: a Rust enum whose explicit
//! discriminants are Broker's numbers, with each code's name as Broker's C++ spells it
//! (`peer_added`), its member name in Broker's Python bindings (`PeerAdded`, absent for
//! codes Python cannot name) and a one-line description. The actors, the store crate
//! and the Python enums are all built from these tables.

use serde::{Deserialize, Serialize};

mod error_code;

pub use error_code::ErrorCode;

/// What every code table offers, for code that handles any of them (the Python
/// enumerations are built through it).
pub trait CodeTable: Copy + 'static {
    /// Every code, in declaration order.
    const ALL: &'static [Self];
    /// The code's number.
    fn code(self) -> u8;
    /// The code's name as Broker's C++ spells it.
    fn name(self) -> &'static str;
    /// The member name in Broker's Python bindings, if Python has one.
    fn python_name(self) -> Option<&'static str>;
    /// What the code means.
    fn description(self) -> &'static str;
}

/// Defines a code table. Each row reads
/// `Variant = number, "broker_name", [py "PythonName",] "description";`.
macro_rules! code_table {
    (
        $(#[$meta:meta])*
        $vis:vis enum $table:ident {
            $(
                $(#[$row_meta:meta])*
                $variant:ident = $value:literal, $broker:literal, $(py $python:literal,)? $text:literal;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        $vis enum $table {
            $( $(#[$row_meta])* $variant = $value, )+
        }

        impl $table {
            /// Every code, in declaration order.
            pub const ALL: &'static [$table] = &[$($table::$variant),+];

            /// The code's number.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// The code with number `code`, if there is one.
            pub const fn from_u8(code: u8) -> Option<$table> {
                match code {
                    $($value => Some($table::$variant),)+
                    _ => None,
                }
            }

            /// The code's name as Broker's C++ spells it.
            pub const fn name(self) -> &'static str {
                match self {
                    $($table::$variant => $broker,)+
                }
            }

            /// The code named `name` as Broker's C++ spells it, if there is one.
            pub fn from_name(name: &str) -> Option<$table> {
                match name {
                    $($broker => Some($table::$variant),)+
                    _ => None,
                }
            }

            /// The member name in Broker's Python bindings, if Python has one.
            pub const fn python_name(self) -> Option<&'static str> {
                match self {
                    $($table::$variant => $crate::codes::code_table!(@python $($python)?),)+
                }
            }

            /// What the code means.
            pub const fn description(self) -> &'static str {
                match self {
                    $($table::$variant => $text,)+
                }
            }
        }

        impl ::std::fmt::Display for $table {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl $crate::codes::CodeTable for $table {
            const ALL: &'static [$table] = $table::ALL;

            fn code(self) -> u8 {
                $table::code(self)
            }

            fn name(self) -> &'static str {
                $table::name(self)
            }

            fn python_name(self) -> Option<&'static str> {
                $table::python_name(self)
            }

            fn description(self) -> &'static str {
                $table::description(self)
            }
        }
    };
    (@python) => { None };
    (@python $python:literal) => { Some($python) };
}

pub(crate) use code_table;

code_table! {
    /// Codes of informational statuses (Broker's `sc`, Python's `broker.SC`).
    pub enum StatusCode {
        /// Anything else; a default status.
        Unspecified = 0, "unspecified", py "Unspecified", "unspecified status";
        /// A peering completed its handshake.
        PeerAdded = 1, "peer_added", py "PeerAdded", "added a direct connection to a peer";
        /// This endpoint removed a peering (`unpeer`).
        PeerRemoved = 2, "peer_removed", py "PeerRemoved", "removed a direct connection to a peer";
        /// A peering ended without this endpoint asking.
        PeerLost = 3, "peer_lost", py "PeerLost", "lost a direct connection to a peer";
        /// An endpoint became reachable.
        EndpointDiscovered = 4, "endpoint_discovered", py "EndpointDiscovered",
            "discovered a new endpoint in the network";
        /// An endpoint is no longer reachable.
        EndpointUnreachable = 5, "endpoint_unreachable", py "EndpointUnreachable",
            "lost every path to an endpoint";
    }
}

code_table! {
    /// The life-cycle stage of a peering (Broker's `peer_status`, `broker.PeerStatus`).
    pub enum PeerStatus {
        /// Known but nothing attempted yet.
        Initialized = 0, "initialized", py "Initialized", "peering initiated";
        /// Connection attempt in progress.
        Connecting = 1, "connecting", py "Connecting", "connecting";
        /// Connected, handshake in progress.
        Connected = 2, "connected", py "Connected", "connected, handshake pending";
        /// Handshake done: data flows.
        Peered = 3, "peered", py "Peered", "peered";
        /// Connection lost.
        Disconnected = 4, "disconnected", py "Disconnected", "connection lost";
        /// Lost and trying again.
        Reconnecting = 5, "reconnecting", py "Reconnecting", "reconnecting after a lost connection";
        /// Nothing is known about the peering.
        Unknown = 6, "unknown", py "Unknown", "no information available";
    }
}

code_table! {
    /// The single properties of a peering (Broker's `peer_flags`, `broker.PeerFlags`);
    /// [`PeerFlags`] combines them.
    pub enum PeerFlag {
        /// No property: Broker's value of an empty set.
        Invalid = 0, "invalid", py "Invalid", "no flag set";
        /// The peer lives in this process (unused by network peerings).
        Local = 1, "local", py "Local", "the peer lives in this process";
        /// The peer is reached over the network.
        Remote = 2, "remote", py "Remote", "the peer is reached over the network";
        /// This endpoint initiated the connection.
        Outbound = 4, "outbound", py "Outbound", "this endpoint initiated the connection";
        /// The other endpoint initiated the connection.
        Inbound = 8, "inbound", py "Inbound", "the peer initiated the connection";
    }
}

bitflags::bitflags! {
    /// Properties of a peering, a combination of [`PeerFlag`]s.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PeerFlags: u8 {
        /// [`PeerFlag::Local`].
        const LOCAL = PeerFlag::Local.code();
        /// [`PeerFlag::Remote`].
        const REMOTE = PeerFlag::Remote.code();
        /// [`PeerFlag::Outbound`].
        const OUTBOUND = PeerFlag::Outbound.code();
        /// [`PeerFlag::Inbound`].
        const INBOUND = PeerFlag::Inbound.code();
    }
}

impl PeerFlags {
    /// [`PeerFlag::Invalid`]: no flag set.
    pub const INVALID: PeerFlags = PeerFlags::from_bits_retain(PeerFlag::Invalid.code());
}

code_table! {
    /// Storage engines of a master store (Broker's `backend`, `broker.Backend`). The
    /// numbers are Broker 1.4's, which still had RocksDB; today's Broker numbers memory
    /// and SQLite the same.
    pub enum BackendType {
        /// In memory.
        Memory = 0, "memory", py "Memory", "in-memory backend";
        /// An SQLite file.
        Sqlite = 1, "sqlite", py "SQLite", "SQLite backend";
        /// RocksDB: Broker 1.4 knows it, broker-rs does not provide it.
        RocksDb = 2, "rocksdb", py "RocksDB", "RocksDB backend";
    }
}

code_table! {
    /// The role of a store (`broker.Frontend`, with Broker 1.4's Python values).
    pub enum Frontend {
        /// The authoritative copy.
        Master = 1, "master", py "Master", "the store's master";
        /// A replica of a master.
        Clone = 0, "clone", py "Clone", "a clone of a master";
    }
}

code_table! {
    /// The transport protocol of a [`Port`](crate::Port) (`broker.Port.Protocol`). The
    /// Broker names are how Broker prints them after a port number (`80/tcp`).
    #[derive(PartialOrd, Ord, Serialize, Deserialize)]
    pub enum Protocol {
        /// Unknown protocol.
        Unknown = 0, "?", py "Unknown", "unknown transport protocol";
        /// TCP.
        Tcp = 1, "tcp", py "TCP", "TCP";
        /// UDP.
        Udp = 2, "udp", py "UDP", "UDP";
        /// ICMP.
        Icmp = 3, "icmp", py "ICMP", "ICMP";
    }
}

code_table! {
    /// The type of a [`Data`](crate::Data) value, with the discriminants of Broker 1.4's
    /// Python bindings (`broker.Data.Type`).
    pub enum DataType {
        /// An IPv4 or IPv6 address.
        Address = 0, "address", py "Address", "an IPv4 or IPv6 address";
        /// `T` or `F`.
        Boolean = 1, "boolean", py "Boolean", "a boolean";
        /// An unsigned 64-bit integer.
        Count = 2, "count", py "Count", "an unsigned 64-bit integer";
        /// A named enumeration value.
        EnumValue = 3, "enum_value", py "EnumValue", "a named enumeration value";
        /// A signed 64-bit integer.
        Integer = 4, "integer", py "Integer", "a signed 64-bit integer";
        /// The absence of a value.
        Nil = 5, "none", py "Nil", "no value";
        /// A transport-layer port.
        Port = 6, "port", py "Port", "a transport-layer port";
        /// A 64-bit float.
        Real = 7, "real", py "Real", "a 64-bit float";
        /// An ordered set.
        Set = 8, "set", py "Set", "an ordered set";
        /// A byte string.
        String = 9, "string", py "String", "a byte string";
        /// An IP network.
        Subnet = 10, "subnet", py "Subnet", "an IP network";
        /// An ordered map.
        Table = 11, "table", py "Table", "an ordered map";
        /// A duration.
        Timespan = 12, "timespan", py "Timespan", "a duration";
        /// A point in time.
        Timestamp = 13, "timestamp", py "Timestamp", "a point in time";
        /// A sequence.
        Vector = 14, "vector", py "Vector", "a sequence";
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Numbers and both names identify each code of `T` both ways.
    fn check_table<T: CodeTable + PartialEq + std::fmt::Debug>(
        from_u8: fn(u8) -> Option<T>,
        from_name: fn(&str) -> Option<T>,
    ) {
        let mut python_names = HashSet::new();
        for &code in T::ALL {
            assert_eq!(from_u8(code.code()), Some(code));
            assert_eq!(from_name(code.name()), Some(code));
            assert!(!code.description().is_empty());
            if let Some(name) = code.python_name() {
                assert!(python_names.insert(name), "{name} twice");
            }
        }
        let numbers: HashSet<u8> = T::ALL.iter().map(|c| c.code()).collect();
        for number in (0..=u8::MAX).filter(|n| !numbers.contains(n)) {
            assert_eq!(from_u8(number), None);
        }
        assert_eq!(from_name("no_such_code"), None);
    }

    #[test]
    fn every_table_maps_numbers_and_names_both_ways() {
        check_table(ErrorCode::from_u8, ErrorCode::from_name);
        check_table(StatusCode::from_u8, StatusCode::from_name);
        check_table(PeerStatus::from_u8, PeerStatus::from_name);
        check_table(PeerFlag::from_u8, PeerFlag::from_name);
        check_table(BackendType::from_u8, BackendType::from_name);
        check_table(Frontend::from_u8, Frontend::from_name);
        check_table(Protocol::from_u8, Protocol::from_name);
        check_table(DataType::from_u8, DataType::from_name);
    }

    #[test]
    fn codes_have_brokers_numbers_and_names() {
        assert_eq!(
            (StatusCode::PeerAdded.code(), StatusCode::PeerAdded.name()),
            (1, "peer_added")
        );
        assert_eq!(StatusCode::EndpointUnreachable.code(), 5);
        assert_eq!(
            ErrorCode::from_name("peer_timeout"),
            Some(ErrorCode::PeerTimeout)
        );
        assert_eq!(ErrorCode::PeerTimeout.code(), 6);
        assert_eq!(
            ErrorCode::RequestTimeOut.python_name(),
            Some("RequestTimeOut")
        );
        assert_eq!(ErrorCode::from_u8(28), Some(ErrorCode::ShuttingDown));
        assert_eq!(ErrorCode::from_u8(38), Some(ErrorCode::WrongMagicNumber));
        assert_eq!(ErrorCode::from_u8(39), Some(ErrorCode::RedundantConnection));
        assert_eq!(ErrorCode::InvalidJson.code(), 41);
        assert_eq!(ErrorCode::NoError.python_name(), None);
        assert_eq!(BackendType::Sqlite.python_name(), Some("SQLite"));
        assert_eq!(Protocol::from_name("tcp"), Some(Protocol::Tcp));
        assert_eq!(Protocol::Unknown.to_string(), "?");
    }

    #[test]
    fn peer_flags_combine_the_single_flags() {
        let flags = PeerFlags::REMOTE | PeerFlags::OUTBOUND;
        assert_eq!(flags.bits(), 6);
        assert_eq!(PeerFlags::INVALID, PeerFlags::empty());
        let all: u8 = PeerFlag::ALL
            .iter()
            .fold(0, |bits, flag| bits | flag.code());
        assert_eq!(PeerFlags::all().bits(), all);
    }
}
