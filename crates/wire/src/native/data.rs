//! `data` values in `format::bin` v1: a [`DataTag`] byte, then the value. Integers,
//! times and reals are 8 bytes big-endian; strings and enum names a varint length and the
//! bytes; addresses 16 bytes (IPv4 as `::ffff:a.b.c.d`); subnets 16 network bytes and a
//! 128-bit prefix length (IPv4 + 96); ports a `u16` and a protocol byte (0–3); sets,
//! tables and vectors a varint count and the elements (a table's as key, value).
//!
//! Sets and tables are written in [`Data`]'s order, which is Broker's (tag first, then
//! value), and decoding refuses duplicate elements and keys as Broker does. Decoding
//! preallocates no more elements than the input has bytes left, and refuses values
//! nesting deeper than [`MAX_DEPTH`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::bin::{put_bytes, put_u16, put_u64, put_varint, Reader};
use super::codes::DataTag;
use super::error::{Malformation, NativeError};
use crate::codec::ByteSink;
use crate::data::{Data, Port, Protocol, Timespan, Timestamp};
use crate::limits::MAX_DEPTH;

/// The 12 bytes in front of an IPv4 address stored in 16 (`::ffff:a.b.c.d`).
const V4_MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// How much Broker adds to an IPv4 subnet's prefix length (it stores the 128-bit one).
const V4_SUBNET_OFFSET: u8 = 96;

/// Encodes `data` (tag and value) as a payload of its own; on error `out` is unchanged.
pub fn encode_data<S: ByteSink>(data: &Data, out: &mut S) -> Result<(), NativeError> {
    let start = out.len();
    put_data(out, data, 0).inspect_err(|_| out.truncate(start))
}

/// Decodes a payload holding exactly one `data` value, as a data envelope must.
pub fn decode_data(payload: &[u8]) -> Result<Data, NativeError> {
    let malformed = |reason| NativeError::Malformed {
        what: "data",
        reason,
    };
    let mut reader = Reader::new(payload);
    let data = reader.data().map_err(malformed)?;
    reader.finish().map_err(malformed)?;
    Ok(data)
}

/// The 16 bytes Broker stores an address in.
fn address_bytes(address: &IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Appends `data`, enclosed by `depth` containers.
pub(crate) fn put_data<S: ByteSink>(
    out: &mut S,
    data: &Data,
    depth: usize,
) -> Result<(), NativeError> {
    let tag = data_tag(data);
    out.put_byte(tag as u8);
    match data {
        Data::None => {}
        Data::Boolean(b) => out.put_byte(u8::from(*b)),
        Data::Count(c) => put_u64(out, *c),
        Data::Integer(i) => put_u64(out, *i as u64),
        Data::Real(r) => put_u64(out, r.to_bits()),
        Data::String(s) => put_bytes(out, s)?,
        Data::Address(a) => out.put(&address_bytes(a)),
        Data::Subnet(IpNet::V4(net)) => {
            out.put(&net.network().to_ipv6_mapped().octets());
            out.put_byte(net.prefix_len() + V4_SUBNET_OFFSET);
        }
        Data::Subnet(IpNet::V6(net)) => {
            out.put(&net.network().octets());
            out.put_byte(net.prefix_len());
        }
        Data::Port(p) => {
            put_u16(out, p.number);
            out.put_byte(p.protocol.code());
        }
        Data::Timestamp(t) => put_u64(out, t.0 as u64),
        Data::Timespan(t) => put_u64(out, t.0 as u64),
        Data::EnumValue(e) => put_bytes(out, e.as_bytes())?,
        Data::Set(items) => {
            let depth = nested(depth)?;
            put_varint(out, items.len())?;
            for item in items {
                put_data(out, item, depth)?;
            }
        }
        Data::Table(entries) => {
            let depth = nested(depth)?;
            put_varint(out, entries.len())?;
            for (key, value) in entries {
                put_data(out, key, depth)?;
                put_data(out, value, depth)?;
            }
        }
        Data::Vector(items) => {
            let depth = nested(depth)?;
            put_varint(out, items.len())?;
            for item in items {
                put_data(out, item, depth)?;
            }
        }
    }
    Ok(())
}

/// The depth of the elements of a container enclosed by `depth` containers, if it may
/// nest there.
fn nested(depth: usize) -> Result<usize, NativeError> {
    if depth >= MAX_DEPTH {
        return Err(NativeError::TooDeep(MAX_DEPTH));
    }
    Ok(depth + 1)
}

/// The tag of `data`'s kind.
pub fn data_tag(data: &Data) -> DataTag {
    match data {
        Data::None => DataTag::None,
        Data::Boolean(_) => DataTag::Boolean,
        Data::Count(_) => DataTag::Count,
        Data::Integer(_) => DataTag::Integer,
        Data::Real(_) => DataTag::Real,
        Data::String(_) => DataTag::String,
        Data::Address(_) => DataTag::Address,
        Data::Subnet(_) => DataTag::Subnet,
        Data::Port(_) => DataTag::Port,
        Data::Timestamp(_) => DataTag::Timestamp,
        Data::Timespan(_) => DataTag::Timespan,
        Data::EnumValue(_) => DataTag::EnumValue,
        Data::Set(_) => DataTag::Set,
        Data::Table(_) => DataTag::Table,
        Data::Vector(_) => DataTag::Vector,
    }
}

impl Reader<'_> {
    /// One `data` value.
    pub(crate) fn data(&mut self) -> Result<Data, Malformation> {
        let mut data = Data::None;
        self.data_into(0, &mut data)?;
        Ok(data)
    }

    /// Decodes one `data` value enclosed by `depth` containers into `slot`. Decoded
    /// values are written in place rather than returned: moving a `Result<Data, _>`
    /// out of every recursive call made decoding containers 1.5-3 times slower.
    fn data_into(&mut self, depth: usize, slot: &mut Data) -> Result<(), Malformation> {
        let tag = self.u8()?;
        let tag = DataTag::try_from(tag).map_err(Malformation::UnknownDataTag)?;
        *slot = match tag {
            DataTag::Set => {
                let items = self.elements(depth, 1)?;
                let items = sorted_unique(items, |item| item, Malformation::DuplicateSetElement)?;
                Data::Set(items.into_iter().collect())
            }
            DataTag::Table => {
                let mut flat = self.elements(depth, 2)?.into_iter();
                let entries = std::iter::from_fn(|| Some((flat.next()?, flat.next()?))).collect();
                let entries =
                    sorted_unique(entries, |(key, _)| key, Malformation::DuplicateTableKey)?;
                Data::Table(entries.into_iter().collect())
            }
            DataTag::Vector => Data::Vector(self.elements(depth, 1)?),
            scalar => self.scalar(scalar)?,
        };
        Ok(())
    }

    /// The elements of a container enclosed by `depth` containers: a varint count of
    /// entries, each `per_entry` values.
    fn elements(&mut self, depth: usize, per_entry: usize) -> Result<Vec<Data>, Malformation> {
        let depth = elements_depth(depth)?;
        let (count, capacity) = self.count()?;
        let mut items = Vec::with_capacity(capacity);
        for _ in 0..count.saturating_mul(per_entry) {
            items.push(Data::None);
            if let Some(item) = items.last_mut() {
                self.data_into(depth, item)?;
            }
        }
        Ok(items)
    }

    /// The value of a scalar kind; kept apart from the containers so the recursion
    /// above stays small.
    #[inline]
    fn scalar(&mut self, tag: DataTag) -> Result<Data, Malformation> {
        Ok(match tag {
            DataTag::None => Data::None,
            DataTag::Boolean => Data::Boolean(self.bool()?),
            DataTag::Count => Data::Count(self.u64()?),
            DataTag::Integer => Data::Integer(self.u64()? as i64),
            DataTag::Real => Data::Real(f64::from_bits(self.u64()?)),
            DataTag::String => Data::String(self.bytes()?.to_vec()),
            DataTag::Address => Data::Address(self.address()?),
            DataTag::Subnet => Data::Subnet(self.subnet()?),
            DataTag::Port => {
                let number = self.u16()?;
                let byte = self.u8()?;
                let protocol = Protocol::from_u8(byte).ok_or(Malformation::PortProtocol(byte))?;
                Data::Port(Port::new(number, protocol))
            }
            DataTag::Timestamp => Data::Timestamp(Timestamp(self.u64()? as i64)),
            DataTag::Timespan => Data::Timespan(Timespan(self.u64()? as i64)),
            DataTag::EnumValue => Data::EnumValue(self.string()?),
            DataTag::Set | DataTag::Table | DataTag::Vector => {
                unreachable!("data_into decodes containers")
            }
        })
    }

    /// 16 address bytes; a v4-mapped address is IPv4, as Broker treats it.
    fn address(&mut self) -> Result<IpAddr, Malformation> {
        let bytes = self.array::<16>()?;
        Ok(match bytes.strip_prefix(&V4_MAPPED_PREFIX) {
            Some(&[a, b, c, d]) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            _ => IpAddr::V6(Ipv6Addr::from(bytes)),
        })
    }

    /// 16 network bytes and a prefix length counted in 128 bits.
    fn subnet(&mut self) -> Result<IpNet, Malformation> {
        let address = self.address()?;
        let len = self.u8()?;
        let net = match address {
            IpAddr::V4(_) if len >= V4_SUBNET_OFFSET => IpNet::new(address, len - V4_SUBNET_OFFSET),
            IpAddr::V4(v4) => IpNet::new(IpAddr::V6(v4.to_ipv6_mapped()), len),
            IpAddr::V6(_) => IpNet::new(address, len),
        };
        net.map_err(|_| Malformation::SubnetLength(len))
    }
}

/// Decoded set elements or table entries sorted by `key`, or `duplicate` if two keys
/// are equal. Broker sends them sorted: that is checked in one pass, and the sorted
/// elements then build the set or table in bulk instead of by a search per element.
fn sorted_unique<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> &Data,
    duplicate: Malformation,
) -> Result<Vec<T>, Malformation> {
    if !items.windows(2).all(|pair| key(&pair[0]) < key(&pair[1])) {
        items.sort_by(|a, b| key(a).cmp(key(b)));
        if items.windows(2).any(|pair| key(&pair[0]) == key(&pair[1])) {
            return Err(duplicate);
        }
    }
    Ok(items)
}

/// The depth of the elements of a container enclosed by `depth` containers, if it may
/// nest there.
fn elements_depth(depth: usize) -> Result<usize, Malformation> {
    nested(depth).map_err(|_| Malformation::TooDeep(MAX_DEPTH))
}
