//! `format::bin` v1, the binary encoding under every native message (CAF 0.18's
//! binary serializer): fixed-width big-endian integers, IEEE-754 reals as their bits,
//! LEB128-style varints of at most 32 bits for lengths and counts, and `data` values
//! as a [`DataTag`] byte followed by the value.
//!
//! Sets and tables are written in [`Data`]'s order, which is Broker's (tag first, then
//! value), and decoding refuses duplicate elements and keys as Broker does. Decoding
//! preallocates no more elements than the input has bytes left, and refuses values
//! nesting deeper than [`MAX_DEPTH`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use super::codes::DataTag;
use super::error::{Malformation, NativeError};
use super::ids::{EndpointId, EntityId};
use crate::codec::ByteSink;
use crate::data::{Data, Port, Protocol, Timespan, Timestamp};
use crate::limits::MAX_DEPTH;
use crate::topic::Topic;

/// The most bytes a varint may take: 5 × 7 bits hold the 32 bits Broker allows.
pub const MAX_VARINT_LEN: usize = 5;

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

/// Appends `value` big-endian.
pub(crate) fn put_u16<S: ByteSink>(out: &mut S, value: u16) {
    out.put(&value.to_be_bytes());
}

/// Appends `value` big-endian.
pub(crate) fn put_u32<S: ByteSink>(out: &mut S, value: u32) {
    out.put(&value.to_be_bytes());
}

/// Appends `value` big-endian.
pub(crate) fn put_u64<S: ByteSink>(out: &mut S, value: u64) {
    out.put(&value.to_be_bytes());
}

/// Appends a length or count as a varint; fails above `u32::MAX`, where Broker would
/// silently truncate.
pub(crate) fn put_varint<S: ByteSink>(out: &mut S, value: usize) -> Result<(), NativeError> {
    let mut value = u32::try_from(value).map_err(|_| NativeError::LengthTooLarge(value))?;
    while value > 0x7f {
        out.put_byte((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.put_byte(value as u8);
    Ok(())
}

/// Appends a varint length and the bytes.
pub(crate) fn put_bytes<S: ByteSink>(out: &mut S, bytes: &[u8]) -> Result<(), NativeError> {
    put_varint(out, bytes.len())?;
    out.put(bytes);
    Ok(())
}

/// Appends a filter: a varint count, then each topic as varint length + bytes.
pub(crate) fn put_filter<S: ByteSink>(out: &mut S, filter: &[Topic]) -> Result<(), NativeError> {
    put_varint(out, filter.len())?;
    filter
        .iter()
        .try_for_each(|topic| put_bytes(out, topic.as_str().as_bytes()))
}

/// Appends an entity id: 16 endpoint bytes, then the object.
pub(crate) fn put_entity<S: ByteSink>(out: &mut S, entity: &EntityId) {
    out.put(&entity.endpoint.0);
    put_u64(out, entity.object);
}

/// Appends an optional value: a presence byte, then the value if present.
pub(crate) fn put_option<S: ByteSink, T>(
    out: &mut S,
    value: Option<T>,
    put: impl FnOnce(&mut S, T),
) {
    match value {
        Some(value) => {
            out.put_byte(1);
            put(out, value);
        }
        None => out.put_byte(0),
    }
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
            out.put_byte(p.protocol as u8);
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
fn data_tag(data: &Data) -> DataTag {
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

/// Reads `format::bin` v1 fields from the front of a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// Succeeds if everything was read.
    pub(crate) fn finish(&self) -> Result<(), Malformation> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(Malformation::TrailingBytes(n)),
        }
    }

    /// The next `len` bytes.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Malformation> {
        if self.bytes.len() < len {
            return Err(Malformation::Truncated);
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformation> {
        let (head, tail) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(Malformation::Truncated)?;
        self.bytes = tail;
        Ok(*head)
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Malformation> {
        let [byte] = self.array()?;
        Ok(byte)
    }

    /// A big-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16, Malformation> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, Malformation> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64, Malformation> {
        self.array().map(u64::from_be_bytes)
    }

    /// A boolean: any non-zero byte is true, as Broker reads it.
    pub(crate) fn bool(&mut self) -> Result<bool, Malformation> {
        Ok(self.u8()? != 0)
    }

    /// A varint of at most [`MAX_VARINT_LEN`] bytes and 32 bits.
    pub(crate) fn varint(&mut self) -> Result<usize, Malformation> {
        let mut value: u64 = 0;
        for i in 0..MAX_VARINT_LEN {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return u32::try_from(value)
                    .map(|v| v as usize)
                    .map_err(|_| Malformation::VarintTooLong);
            }
        }
        Err(Malformation::VarintTooLong)
    }

    /// A varint count of elements, and the capacity to reserve for them: no more than
    /// bytes remain, since every element takes at least one.
    pub(crate) fn count(&mut self) -> Result<(usize, usize), Malformation> {
        let count = self.varint()?;
        Ok((count, count.min(self.bytes.len())))
    }

    /// A varint length and that many bytes.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], Malformation> {
        let len = self.varint()?;
        self.take(len)
    }

    /// A UTF-8 string with a varint length.
    pub(crate) fn string(&mut self) -> Result<String, Malformation> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Malformation::NotUtf8)
    }

    /// A topic of `len` bytes.
    pub(crate) fn topic_of_len(&mut self, len: usize) -> Result<Topic, Malformation> {
        let bytes = self.take(len)?;
        Topic::decoded(bytes).ok_or(Malformation::NotUtf8)
    }

    /// A filter: a varint count of topics, each a varint length and bytes.
    pub(crate) fn filter(&mut self) -> Result<Vec<Topic>, Malformation> {
        let (count, capacity) = self.count()?;
        let mut filter = Vec::with_capacity(capacity);
        for _ in 0..count {
            let len = self.varint()?;
            filter.push(self.topic_of_len(len)?);
        }
        Ok(filter)
    }

    /// A 16-byte endpoint id.
    pub(crate) fn endpoint(&mut self) -> Result<EndpointId, Malformation> {
        self.array().map(EndpointId)
    }

    /// An entity id: endpoint and object.
    pub(crate) fn entity(&mut self) -> Result<EntityId, Malformation> {
        Ok(EntityId {
            endpoint: self.endpoint()?,
            object: self.u64()?,
        })
    }

    /// An optional value: a presence byte (non-zero: present), then the value.
    pub(crate) fn option<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Malformation>,
    ) -> Result<Option<T>, Malformation> {
        if self.bool()? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

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
                let protocol = match self.u8()? {
                    0 => Protocol::Unknown,
                    1 => Protocol::Tcp,
                    2 => Protocol::Udp,
                    3 => Protocol::Icmp,
                    other => return Err(Malformation::PortProtocol(other)),
                };
                Data::Port(Port::new(number, protocol))
            }
            DataTag::Timestamp => Data::Timestamp(Timestamp(self.u64()? as i64)),
            DataTag::Timespan => Data::Timespan(Timespan(self.u64()? as i64)),
            DataTag::EnumValue => Data::EnumValue(self.string()?),
            DataTag::Set => {
                let depth = elements_depth(depth)?;
                let (count, capacity) = self.count()?;
                let mut items = Vec::with_capacity(capacity);
                for _ in 0..count {
                    items.push(Data::None);
                    if let Some(item) = items.last_mut() {
                        self.data_into(depth, item)?;
                    }
                }
                let items = sorted_unique(items, |item| item, Malformation::DuplicateSetElement)?;
                Data::Set(items.into_iter().collect())
            }
            DataTag::Table => {
                let depth = elements_depth(depth)?;
                let (count, capacity) = self.count()?;
                let mut entries = Vec::with_capacity(capacity / 2);
                for _ in 0..count {
                    entries.push((Data::None, Data::None));
                    if let Some((key, value)) = entries.last_mut() {
                        self.data_into(depth, key)?;
                        self.data_into(depth, value)?;
                    }
                }
                let entries =
                    sorted_unique(entries, |(key, _)| key, Malformation::DuplicateTableKey)?;
                Data::Table(entries.into_iter().collect())
            }
            DataTag::Vector => {
                let depth = elements_depth(depth)?;
                let (count, capacity) = self.count()?;
                let mut items = Vec::with_capacity(capacity);
                for _ in 0..count {
                    items.push(Data::None);
                    if let Some(item) = items.last_mut() {
                        self.data_into(depth, item)?;
                    }
                }
                Data::Vector(items)
            }
        };
        Ok(())
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
