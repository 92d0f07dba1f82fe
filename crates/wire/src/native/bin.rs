//! `format::bin` v1 primitives, the binary encoding under every native message (CAF
//! 0.18's binary serializer): fixed-width big-endian integers, LEB128-style varints of
//! at most 32 bits for lengths and counts, strings as a varint length and the bytes,
//! optionals as a presence byte, ids as raw bytes. `data` values are in [`data`](super::data).

use super::error::{Malformation, NativeError};
use super::ids::{EndpointId, EntityId};
use crate::codec::ByteSink;
use crate::topic::Topic;

/// The most bytes a varint may take: 5 × 7 bits hold the 32 bits Broker allows.
pub const MAX_VARINT_LEN: usize = 5;

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
    #[inline]
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Malformation> {
        if self.bytes.len() < len {
            return Err(Malformation::Truncated);
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes.
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformation> {
        let (head, tail) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(Malformation::Truncated)?;
        self.bytes = tail;
        Ok(*head)
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Malformation> {
        let [byte] = self.array()?;
        Ok(byte)
    }

    /// A big-endian u16.
    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, Malformation> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian u32.
    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, Malformation> {
        self.array().map(u32::from_be_bytes)
    }

    /// A big-endian u64.
    #[inline]
    pub(crate) fn u64(&mut self) -> Result<u64, Malformation> {
        self.array().map(u64::from_be_bytes)
    }

    /// A boolean: any non-zero byte is true, as Broker reads it.
    #[inline]
    pub(crate) fn bool(&mut self) -> Result<bool, Malformation> {
        Ok(self.u8()? != 0)
    }

    /// A varint of at most [`MAX_VARINT_LEN`] bytes and 32 bits.
    #[inline]
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
    #[inline]
    pub(crate) fn count(&mut self) -> Result<(usize, usize), Malformation> {
        let count = self.varint()?;
        Ok((count, count.min(self.bytes.len())))
    }

    /// A varint length and that many bytes.
    #[inline]
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
}
