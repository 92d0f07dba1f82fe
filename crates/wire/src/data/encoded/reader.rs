//! Reading an encoded value straight into another representation
//! ([`EncodedData::build`]): the parts come to a [`Build`] one by one, scalars as a
//! [`Scalar`], with no [`Data`] built in between (the Python bindings make Python
//! objects this way).

use super::EncodedData;
use crate::codec::decode_exact;
use crate::data::Data;
use crate::WireError;

impl EncodedData {
    /// The value as `builder` builds it from its parts, read straight from the bytes;
    /// `Ok(None)` if a set or table in it is not in Broker's order without repeats
    /// (our encoders always write them so; a [`Data`] built by [`EncodedData::decode`]
    /// sorts them).
    pub fn build<B: Build>(&self, builder: &mut B) -> Result<Option<B::Value>, B::Error> {
        let mut reader = Reader {
            bytes: &self.0,
            pos: 0,
        };
        reader.value(builder, false)
    }
}

/// A value that is not a container, as [`EncodedData::build`] hands it over.
#[derive(Debug)]
pub enum Scalar<'a> {
    /// `nil`.
    None,
    /// A boolean.
    Boolean(bool),
    /// A count.
    Count(u64),
    /// An integer.
    Integer(i64),
    /// A real.
    Real(f64),
    /// A string.
    String(&'a [u8]),
    /// Any other value (address, subnet, port, timestamp, timespan, enum value).
    Other(Data),
}

/// Builds a value of another representation from the parts of an encoded one (see
/// [`EncodedData::build`]). `key` says whether the part is, or is inside, a set
/// element or a table key.
pub trait Build {
    /// What is built.
    type Value;
    /// Why building failed.
    type Error: From<WireError>;
    /// A vector being filled: its items go straight into their place (a builder of
    /// Python tuples fills the tuple itself, with no list of items in between).
    type Vector;
    /// A value that is not a container.
    fn scalar(&mut self, value: Scalar<'_>, key: bool) -> Result<Self::Value, Self::Error>;
    /// Starts a vector of exactly `len` items, each given next to [`Build::push`].
    fn start_vector(&mut self, len: usize, key: bool) -> Result<Self::Vector, Self::Error>;
    /// Adds the next item to a vector.
    fn push(&mut self, vector: &mut Self::Vector, item: Self::Value) -> Result<(), Self::Error>;
    /// The vector, once all its items are in.
    fn vector(&mut self, vector: Self::Vector, key: bool) -> Result<Self::Value, Self::Error>;
    /// A set of the elements, which come in Broker's order without repeats.
    fn set(&mut self, elements: Vec<Self::Value>, key: bool) -> Result<Self::Value, Self::Error>;
    /// A table of the entries, whose keys come in Broker's order without repeats.
    fn table(
        &mut self,
        entries: Vec<(Self::Value, Self::Value)>,
        key: bool,
    ) -> Result<Self::Value, Self::Error>;
}

/// Reads a value's parts from its bytes (checked when received, or written by a
/// [`DataWriter`](super::DataWriter); anything else still fails cleanly).
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

fn truncated() -> WireError {
    WireError::Malformed(postcard::Error::DeserializeUnexpectedEnd)
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let taken = &self.bytes[self.pos..end.ok_or_else(truncated)?];
        self.pos += n;
        Ok(taken)
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, WireError> {
        // Most are one byte (variant indexes, lengths, small numbers), many two (the
        // numbers up to 16,383, integers of either sign up to 8,191).
        match self.bytes.get(self.pos..self.pos + 2) {
            Some(&[low, _]) if low < 0x80 => {
                self.pos += 1;
                Ok(u64::from(low))
            }
            Some(&[low, high]) if high < 0x80 => {
                self.pos += 2;
                Ok(u64::from(low & 0x7f) | u64::from(high) << 7)
            }
            _ => self.long_varint(),
        }
    }

    /// [`Reader::varint`] of more than two bytes, or at the very end.
    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Malformed(postcard::Error::DeserializeBadVarint))
    }

    fn len(&mut self) -> Result<usize, WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| truncated())?;
        // Every item takes at least a byte: a length beyond the rest is garbage.
        if len > self.bytes.len() - self.pos {
            return Err(truncated());
        }
        Ok(len)
    }

    /// The next value; `None` if a set or table in it is out of order. Inlined into
    /// the loops over items: scalars, most items, cost no call of their own here.
    #[inline]
    fn value<B: Build>(&mut self, b: &mut B, key: bool) -> Result<Option<B::Value>, B::Error> {
        let start = self.pos;
        let scalar = match self.varint()? {
            0 => Scalar::None,
            1 => Scalar::Boolean(self.take(1)?[0] != 0),
            2 => Scalar::Count(self.varint()?),
            3 => {
                let zigzag = self.varint()?;
                Scalar::Integer((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
            }
            4 => {
                let bytes = self.take(8)?.try_into().map_err(|_| truncated())?;
                Scalar::Real(f64::from_le_bytes(bytes))
            }
            5 => {
                let len = self.len()?;
                Scalar::String(self.take(len)?)
            }
            12 | 13 => return self.ordered(b, key, start),
            14 => return self.vector(b, key),
            _ => Scalar::Other(self.other(start)?),
        };
        b.scalar(scalar, key).map(Some)
    }

    /// A vector's items, after its variant index.
    #[inline(never)]
    fn vector<B: Build>(&mut self, b: &mut B, key: bool) -> Result<Option<B::Value>, B::Error> {
        let len = self.len()?;
        let mut vector = b.start_vector(len, key)?;
        for _ in 0..len {
            let Some(item) = self.value(b, key)? else {
                return Ok(None);
            };
            b.push(&mut vector, item)?;
        }
        b.vector(vector, key).map(Some)
    }

    /// A scalar other than those read here, decoded whole from `start`.
    #[inline(never)]
    fn other(&mut self, start: usize) -> Result<Data, WireError> {
        let (data, rest) = postcard::take_from_bytes::<Data>(&self.bytes[start..])
            .map_err(WireError::Malformed)?;
        self.pos = self.bytes.len() - rest.len();
        Ok(data)
    }

    /// A set (12) or table (13) whose elements or keys are strictly ascending.
    #[inline(never)]
    fn ordered<B: Build>(
        &mut self,
        b: &mut B,
        key: bool,
        start: usize,
    ) -> Result<Option<B::Value>, B::Error> {
        let table = self.bytes[start] == 13;
        let len = self.len()?;
        let (mut elements, mut entries) = (Vec::new(), Vec::new());
        let mut previous: Option<(usize, usize)> = None;
        for _ in 0..len {
            let element_start = self.pos;
            let Some(element) = self.value(b, true)? else {
                return Ok(None);
            };
            let span = (element_start, self.pos);
            if let Some(before) = previous {
                if self.compare(before, span)? != std::cmp::Ordering::Less {
                    return Ok(None);
                }
            }
            previous = Some(span);
            if table {
                let Some(value) = self.value(b, key)? else {
                    return Ok(None);
                };
                entries.push((element, value));
            } else {
                elements.push(element);
            }
        }
        if table {
            b.table(entries, key).map(Some)
        } else {
            b.set(elements, key).map(Some)
        }
    }

    /// Broker's order of two encoded values given by their spans: strings by their
    /// bytes, anything else decoded.
    fn compare(
        &self,
        a: (usize, usize),
        b: (usize, usize),
    ) -> Result<std::cmp::Ordering, WireError> {
        let (a, b) = (&self.bytes[a.0..a.1], &self.bytes[b.0..b.1]);
        if let (Some(a), Some(b)) = (string_bytes(a), string_bytes(b)) {
            return Ok(a.cmp(b));
        }
        Ok(decode_exact::<Data>(a)?.cmp(&decode_exact::<Data>(b)?))
    }
}

/// The bytes of an encoded string in its shortest form (variant 5, a one-byte length).
fn string_bytes(encoded: &[u8]) -> Option<&[u8]> {
    match encoded {
        [5, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataWriter, Table};

    /// Builds `Data` again from the parts, checking the order promised.
    struct Rebuild;

    impl Build for Rebuild {
        type Value = Data;
        type Error = WireError;
        type Vector = Vec<Data>;

        fn scalar(&mut self, value: Scalar<'_>, _: bool) -> Result<Data, WireError> {
            Ok(match value {
                Scalar::None => Data::None,
                Scalar::Boolean(b) => Data::Boolean(b),
                Scalar::Count(c) => Data::Count(c),
                Scalar::Integer(i) => Data::Integer(i),
                Scalar::Real(r) => Data::Real(r),
                Scalar::String(s) => Data::String(s.to_vec()),
                Scalar::Other(data) => data,
            })
        }

        fn start_vector(&mut self, len: usize, _: bool) -> Result<Vec<Data>, WireError> {
            Ok(Vec::with_capacity(len))
        }

        fn push(&mut self, vector: &mut Vec<Data>, item: Data) -> Result<(), WireError> {
            vector.push(item);
            Ok(())
        }

        fn vector(&mut self, items: Vec<Data>, _: bool) -> Result<Data, WireError> {
            Ok(Data::Vector(items))
        }

        fn set(&mut self, elements: Vec<Data>, _: bool) -> Result<Data, WireError> {
            assert!(elements.windows(2).all(|w| w[0] < w[1]));
            Ok(Data::Set(elements.into_iter().collect()))
        }

        fn table(&mut self, entries: Vec<(Data, Data)>, _: bool) -> Result<Data, WireError> {
            assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
            Ok(Data::Table(entries.into_iter().collect()))
        }
    }

    #[test]
    fn building_from_the_bytes_gives_the_decoded_value() {
        use crate::data::{Port, Protocol, Set, Timestamp};
        let set: Set = [Data::Count(3), Data::from("a"), Data::Vector(vec![])]
            .into_iter()
            .collect();
        let table: Table = [
            (Data::from("b"), Data::Integer(-7)),
            (Data::from("a"), Data::Set(set.clone())),
            (Data::Count(1), Data::Port(Port::new(80, Protocol::Tcp))),
            (Data::from("x".repeat(200)), Data::Timestamp(Timestamp(5))),
        ]
        .into_iter()
        .collect();
        let value = Data::Vector(vec![
            Data::Table(table),
            Data::Set(set),
            Data::Real(-0.5),
            Data::Boolean(false),
            Data::None,
            Data::EnumValue("e".into()),
        ]);
        let encoded = EncodedData::new(&value).unwrap();
        assert_eq!(encoded.build(&mut Rebuild).unwrap(), Some(value.clone()));
        assert_eq!(encoded.decode(), value);
    }

    #[test]
    fn tables_out_of_order_or_repeated_are_left_to_decoding() {
        for keys in [["b", "a"], ["a", "a"]] {
            let mut w = DataWriter::new();
            w.table(2).unwrap();
            for key in keys {
                w.string(key.as_bytes());
                w.count(1);
            }
            let encoded = w.finish().unwrap();
            assert_eq!(encoded.build(&mut Rebuild).unwrap(), None, "{keys:?}");
            let distinct = if keys[0] == keys[1] { 1 } else { 2 };
            assert!(matches!(encoded.decode(), Data::Table(t) if t.len() == distinct));
        }
    }
}
