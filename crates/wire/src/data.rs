//! Broker's data model: [`Data`] and its scalar helper types.
//!
//! Values have a total order — first by type, in Broker's order (none, boolean, count,
//! integer, real, string, address, subnet, port, timestamp, timespan, enum_value, set,
//! table, vector), then by value — so sets and tables of any values are ordered,
//! comparable and hashable. Equality, ordering and hashing agree with each other:
//! reals compare with [`f64::total_cmp`] and hash their bits, and an IPv4-mapped IPv6
//! address is the same value as the IPv4 address (Broker stores both in 16 bytes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use crate::codes::{DataType, Protocol};

mod display;
mod encoded;
pub(crate) mod encoding;
mod order;

pub use encoded::{Build, DataWriter, EncodedData, Payload, Scalar};

pub(crate) use encoding::{deserialize_bytes, serialize_bytes};

/// A set of Broker values, in Broker's total order.
pub type Set = BTreeSet<Data>;
/// A table (map) of Broker values, keyed in Broker's total order.
pub type Table = BTreeMap<Data, Data>;
/// A vector of Broker values.
pub type Vector = Vec<Data>;

/// A transport-layer port: a number and a protocol, ordered by number, then protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Port {
    /// The port number.
    pub number: u16,
    /// The transport protocol.
    pub protocol: Protocol,
}

impl Port {
    /// A port with the given number and protocol.
    pub fn new(number: u16, protocol: Protocol) -> Self {
        Port { number, protocol }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol.name())
    }
}

/// A point in time: nanoseconds since the Unix epoch (UTC).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub i64);

/// A duration: signed nanoseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timespan(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        let now = chrono::Utc::now();
        Timestamp(now.timestamp_nanos_opt().unwrap_or(i64::MAX))
    }

    /// This timestamp as a chrono UTC date-time.
    pub fn to_chrono(self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_nanos(self.0)
    }

    /// The time elapsed since the epoch.
    pub fn since_epoch(self) -> Timespan {
        Timespan(self.0)
    }
}

impl Timespan {
    /// A timespan of the given (possibly fractional) seconds, rounded to nanoseconds.
    pub fn from_secs_f64(secs: f64) -> Self {
        Timespan((secs * 1e9).round() as i64)
    }

    /// This timespan in (fractional) seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// This timespan as a chrono duration.
    pub fn to_chrono(self) -> chrono::Duration {
        chrono::Duration::nanoseconds(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ns", self.0)
    }
}

impl fmt::Display for Timespan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ns", self.0)
    }
}

/// A Broker value.
///
/// Its serde impls (in `encoding`) match what a derive would produce, but limit
/// nesting to [`MAX_DEPTH`](crate::limits::MAX_DEPTH) levels.
#[derive(Debug, Clone, Default)]
pub enum Data {
    /// No value (`nil`).
    #[default]
    None,
    /// A boolean.
    Boolean(bool),
    /// An unsigned 64-bit integer.
    Count(u64),
    /// A signed 64-bit integer.
    Integer(i64),
    /// A 64-bit float.
    Real(f64),
    /// A string of bytes; usually, but not necessarily, UTF-8.
    String(Vec<u8>),
    /// An IPv4 or IPv6 address.
    Address(IpAddr),
    /// An IP network.
    Subnet(IpNet),
    /// A transport-layer port.
    Port(Port),
    /// A point in time.
    Timestamp(Timestamp),
    /// A duration.
    Timespan(Timespan),
    /// A named enumeration value.
    EnumValue(String),
    /// An ordered set.
    Set(Set),
    /// An ordered map.
    Table(Table),
    /// A sequence.
    Vector(Vector),
}

impl Data {
    /// Rank of the value's type in Broker's total order.
    fn type_rank(&self) -> u8 {
        match self {
            Data::None => 0,
            Data::Boolean(_) => 1,
            Data::Count(_) => 2,
            Data::Integer(_) => 3,
            Data::Real(_) => 4,
            Data::String(_) => 5,
            Data::Address(_) => 6,
            Data::Subnet(_) => 7,
            Data::Port(_) => 8,
            Data::Timestamp(_) => 9,
            Data::Timespan(_) => 10,
            Data::EnumValue(_) => 11,
            Data::Set(_) => 12,
            Data::Table(_) => 13,
            Data::Vector(_) => 14,
        }
    }

    /// The value's type.
    pub fn data_type(&self) -> DataType {
        match self {
            Data::None => DataType::Nil,
            Data::Boolean(_) => DataType::Boolean,
            Data::Count(_) => DataType::Count,
            Data::Integer(_) => DataType::Integer,
            Data::Real(_) => DataType::Real,
            Data::String(_) => DataType::String,
            Data::Address(_) => DataType::Address,
            Data::Subnet(_) => DataType::Subnet,
            Data::Port(_) => DataType::Port,
            Data::Timestamp(_) => DataType::Timestamp,
            Data::Timespan(_) => DataType::Timespan,
            Data::EnumValue(_) => DataType::EnumValue,
            Data::Set(_) => DataType::Set,
            Data::Table(_) => DataType::Table,
            Data::Vector(_) => DataType::Vector,
        }
    }

    /// A string value from UTF-8 text.
    pub fn string(s: impl Into<String>) -> Data {
        Data::String(s.into().into_bytes())
    }

    /// The string's bytes, if this is a string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Data::String(s) => Some(s),
            _ => None,
        }
    }

    /// The string as UTF-8 text, if this is a string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The elements, if this is a vector.
    pub fn as_vector(&self) -> Option<&Vector> {
        match self {
            Data::Vector(v) => Some(v),
            _ => None,
        }
    }

    /// The count, if this is a count.
    pub fn as_count(&self) -> Option<u64> {
        match self {
            Data::Count(c) => Some(*c),
            _ => None,
        }
    }
}

macro_rules! data_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Data {
            fn from(v: $t) -> Data {
                Data::$variant(v.into())
            }
        })*
    };
}

data_from! {
    bool => Boolean,
    u64 => Count,
    i64 => Integer,
    i32 => Integer,
    f64 => Real,
    Vec<u8> => String,
    IpAddr => Address,
    IpNet => Subnet,
    Port => Port,
    Timestamp => Timestamp,
    Timespan => Timespan,
    Set => Set,
    Table => Table,
    Vector => Vector,
}

impl From<&str> for Data {
    fn from(s: &str) -> Data {
        Data::String(s.as_bytes().to_vec())
    }
}

impl From<String> for Data {
    fn from(s: String) -> Data {
        Data::String(s.into_bytes())
    }
}

impl From<()> for Data {
    fn from(_: ()) -> Data {
        Data::None
    }
}
