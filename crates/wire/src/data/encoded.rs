//! Values already in our wire encoding: [`DataWriter`] writes one piece by piece, for
//! callers that hold values in another form (the Python bindings encode Python objects
//! straight into these bytes, without building a [`Data`] first), and [`Payload`] is a
//! message's value in either form.
//!
//! The bytes are exactly what [`Data`]'s `Serialize` impl gives with postcard (see
//! `encoding`): the variant index as a varint, then the payload; counts as varints,
//! integers zigzagged, reals as 8 little-endian bytes, strings and containers as a
//! varint length followed by their bytes or items.

use std::borrow::Cow;

use super::encoding::Nested;
use super::Data;
use crate::codec::{append_postcard, decode_exact};
use crate::limits::MAX_DEPTH;
use crate::WireError;

/// The wire variant indexes (`Data::type_rank`) of the values written piece by piece.
mod variant {
    pub const NONE: u8 = 0;
    pub const BOOLEAN: u8 = 1;
    pub const COUNT: u8 = 2;
    pub const INTEGER: u8 = 3;
    pub const REAL: u8 = 4;
    pub const STRING: u8 = 5;
    pub const TABLE: u8 = 13;
    pub const VECTOR: u8 = 14;
}

/// Writes one value in the wire encoding, piece by piece: scalars, containers opened
/// with their length (the next values written are their items), and any [`Data`] as a
/// whole. [`DataWriter::finish`] gives the bytes once exactly one value is complete, so
/// an [`EncodedData`] always holds a valid encoding.
#[derive(Debug, Default)]
pub struct DataWriter {
    bytes: Vec<u8>,
    /// Items still owed to each open container, innermost last (two per table entry).
    owed: Vec<usize>,
    /// Complete values at the outermost level.
    complete: usize,
}

impl DataWriter {
    /// An empty writer.
    pub fn new() -> Self {
        DataWriter::default()
    }

    /// Clears the writer for the next value, keeping its buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.owed.clear();
        self.complete = 0;
    }

    /// Writes `nil`.
    #[inline]
    pub fn none(&mut self) {
        self.bytes.push(variant::NONE);
        self.completed();
    }

    /// Writes a boolean.
    #[inline]
    pub fn boolean(&mut self, value: bool) {
        self.bytes.push(variant::BOOLEAN);
        self.bytes.push(u8::from(value));
        self.completed();
    }

    /// Writes a count.
    #[inline]
    pub fn count(&mut self, value: u64) {
        self.bytes.push(variant::COUNT);
        self.varint(value);
        self.completed();
    }

    /// Writes an integer.
    #[inline]
    pub fn integer(&mut self, value: i64) {
        self.bytes.push(variant::INTEGER);
        // Zigzag: small magnitudes of either sign take few bytes.
        self.varint(((value << 1) ^ (value >> 63)) as u64);
        self.completed();
    }

    /// Writes a real.
    #[inline]
    pub fn real(&mut self, value: f64) {
        self.bytes.push(variant::REAL);
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self.completed();
    }

    /// Writes a string.
    #[inline]
    pub fn string(&mut self, value: &[u8]) {
        self.bytes.push(variant::STRING);
        self.varint(value.len() as u64);
        self.bytes.extend_from_slice(value);
        self.completed();
    }

    /// Opens a vector of `len` items: the next `len` values written.
    pub fn vector(&mut self, len: usize) -> Result<(), WireError> {
        self.open(variant::VECTOR, len, len)
    }

    /// Opens a table of `len` entries: the next `2 * len` values written, each key
    /// followed by its value. Keys come in Broker's order of values, as a table holds
    /// them, without repeats (a receiver would sort them, and keep the last of equal
    /// keys, otherwise).
    pub fn table(&mut self, len: usize) -> Result<(), WireError> {
        self.open(variant::TABLE, len, len.saturating_mul(2))
    }

    /// Writes a whole value (nested inside the open containers); on error nothing is
    /// written.
    pub fn value(&mut self, data: &Data) -> Result<(), WireError> {
        let (start, depth) = (self.bytes.len(), self.owed.len());
        if let Err(e) = append_postcard(&Nested { data, depth }, &mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        self.completed();
        Ok(())
    }

    /// The encoded value, once exactly one value is complete; `None` otherwise. The
    /// writer keeps its buffer (and its size) for the next value.
    pub fn finish(&self) -> Option<EncodedData> {
        (self.owed.is_empty() && self.complete == 1).then(|| EncodedData(self.bytes.clone()))
    }

    fn open(&mut self, variant: u8, len: usize, items: usize) -> Result<(), WireError> {
        // As when serializing a `Data`: the outermost container is level 1.
        if self.owed.len() >= MAX_DEPTH {
            return Err(WireError::TooDeep(MAX_DEPTH));
        }
        self.bytes.push(variant);
        self.varint(len as u64);
        if items == 0 {
            self.completed();
        } else {
            self.owed.push(items);
        }
        Ok(())
    }

    /// Counts one complete value towards the innermost open container, closing every
    /// container it completes.
    #[inline]
    fn completed(&mut self) {
        // Most values are items of a container that still owes more: inlined into each
        // scalar written, without a call.
        if let Some(owed) = self.owed.last_mut().filter(|owed| **owed > 1) {
            *owed -= 1;
            return;
        }
        self.closed();
    }

    /// [`DataWriter::completed`] for the last item of containers or a value at the
    /// outermost level.
    fn closed(&mut self) {
        loop {
            let Some(owed) = self.owed.last_mut() else {
                self.complete += 1;
                return;
            };
            *owed -= 1;
            if *owed > 0 {
                return;
            }
            self.owed.pop();
        }
    }

    /// Postcard's varint, byte by byte: most are one byte, and pushing them skips a
    /// call to `memcpy` per piece.
    #[inline]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push(value as u8 | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }
}

/// One value in our wire encoding, as [`DataWriter`] made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedData(Vec<u8>);

impl EncodedData {
    /// The encoding of `data`; fails for values nesting deeper than the wire allows.
    pub fn new(data: &Data) -> Result<Self, WireError> {
        let mut writer = DataWriter::new();
        writer.value(data)?;
        Ok(EncodedData(writer.bytes))
    }

    /// A value received from a peer, checked by the caller.
    pub(crate) fn received(bytes: &[u8]) -> Self {
        EncodedData(bytes.to_vec())
    }

    /// The length of the value at the start of `bytes` if it holds only what a
    /// [`DataWriter`] writes piece by piece (nil, booleans, counts, integers, reals,
    /// strings, vectors, sets, tables) in a form that decoding certainly accepts;
    /// `None` when unsure (any other value, a long varint, a truncated value, nesting
    /// near the limit), leaving the check to decoding's own rules. A quick check of
    /// received values: no serde calls per item.
    pub(crate) fn accepted_len(bytes: &[u8]) -> Option<usize> {
        let mut skim = Skim { bytes, pos: 0 };
        skim.value(0)?;
        Some(skim.pos)
    }

    /// The bytes, as they appear at the end of a data message on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

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

    /// The value.
    pub fn decode(&self) -> Data {
        // A writer's output always decodes: failing here is a bug in the writer.
        decode_exact(&self.0).expect("an EncodedData holds a valid encoding")
    }
}

/// Steps over a value as postcard decodes a [`Data`] (see
/// [`EncodedData::accepted_len`]), accepting only what that decoding accepts.
struct Skim<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Skim<'_> {
    /// One value enclosed by `depth` containers; scalars inline, in the loop over a
    /// container's items.
    #[inline(always)]
    fn value(&mut self, depth: usize) -> Option<()> {
        // Variant indexes up to 14 are one-byte varints.
        match self.byte()? {
            0 => {}
            // Postcard refuses any other byte for a boolean.
            1 => (self.byte()? <= 1).then_some(())?,
            2 | 3 => drop(self.varint()?),
            4 => self.skip(8)?,
            5 => {
                let len = self.varint()?;
                self.skip(len)?;
            }
            variant @ 12..=14 => self.container(variant, depth)?,
            _ => return None,
        }
        Some(())
    }

    /// A container's items, after its variant index.
    #[inline(never)]
    fn container(&mut self, variant: u8, depth: usize) -> Option<()> {
        // As decoding counts levels: the outermost container is level 1.
        if depth >= MAX_DEPTH {
            return None;
        }
        let len = self.varint()?;
        let items = if variant == 13 {
            len.checked_mul(2)?
        } else {
            len
        };
        for _ in 0..items {
            self.value(depth + 1)?;
        }
        Some(())
    }

    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(byte)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())?;
        self.pos = end;
        Some(())
    }

    /// A 64-bit varint as postcard takes it: up to ten bytes, the tenth holding the
    /// last bit only.
    #[inline(always)]
    fn varint(&mut self) -> Option<usize> {
        match self.bytes.get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                Some(usize::from(byte))
            }
            _ => self.long_varint(),
        }
    }

    /// [`Skim::varint`] of more than one byte.
    #[inline(never)]
    fn long_varint(&mut self) -> Option<usize> {
        let mut value = 0u64;
        for shift in (0..63).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return usize::try_from(value).ok();
            }
        }
        let last = self.byte().filter(|&byte| byte <= 1)?;
        usize::try_from(value | u64::from(last) << 63).ok()
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
/// [`DataWriter`]; anything else still fails cleanly).
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

/// A message's value: as [`Data`], or already encoded (by a publisher that encodes
/// straight from its own representation). Links of our protocol copy encoded values
/// as they are; everything else decodes them.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A value.
    Value(Data),
    /// A value in our wire encoding.
    Encoded(EncodedData),
}

impl Payload {
    /// The value, decoded if need be.
    pub fn to_data(&self) -> Cow<'_, Data> {
        match self {
            Payload::Value(data) => Cow::Borrowed(data),
            Payload::Encoded(encoded) => Cow::Owned(encoded.decode()),
        }
    }

    /// The value, decoded if need be.
    pub fn into_data(self) -> Data {
        match self {
            Payload::Value(data) => data,
            Payload::Encoded(encoded) => encoded.decode(),
        }
    }
}

impl From<Data> for Payload {
    fn from(data: Data) -> Self {
        Payload::Value(data)
    }
}

impl From<EncodedData> for Payload {
    fn from(encoded: EncodedData) -> Self {
        Payload::Encoded(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Table;

    fn encoded(data: &Data) -> Vec<u8> {
        EncodedData::new(data).unwrap().0
    }

    #[test]
    fn pieces_encode_like_the_whole_value() {
        let mut w = DataWriter::new();
        w.vector(8).unwrap();
        w.none();
        w.boolean(true);
        w.count(300);
        w.integer(-65);
        w.real(2.5);
        w.string(b"key");
        w.table(0).unwrap();
        w.table(1).unwrap();
        w.string(b"a");
        w.value(&Data::Vector(vec![Data::Count(1)])).unwrap();
        let table: Table = [(
            Data::String(b"a".to_vec()),
            Data::Vector(vec![Data::Count(1)]),
        )]
        .into_iter()
        .collect();
        let whole = Data::Vector(vec![
            Data::None,
            Data::Boolean(true),
            Data::Count(300),
            Data::Integer(-65),
            Data::Real(2.5),
            Data::String(b"key".to_vec()),
            Data::Table(Table::new()),
            Data::Table(table),
        ]);
        let piecewise = w.finish().expect("one complete value");
        assert_eq!(piecewise.as_bytes(), encoded(&whole));
        assert_eq!(piecewise.decode(), whole);
    }

    #[test]
    fn integers_zigzag_at_the_extremes() {
        for value in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            let mut w = DataWriter::new();
            w.integer(value);
            assert_eq!(
                w.finish().unwrap().as_bytes(),
                encoded(&Data::Integer(value))
            );
        }
    }

    #[test]
    fn only_one_complete_value_finishes() {
        let mut w = DataWriter::new();
        assert!(w.finish().is_none(), "nothing written");
        w.vector(2).unwrap();
        w.count(1);
        assert!(w.finish().is_none(), "an item missing");
        w.count(2);
        assert!(w.finish().is_some());
        w.count(3);
        assert!(w.finish().is_none(), "two values");
        w.clear();
        w.count(3);
        assert_eq!(w.finish().unwrap().decode(), Data::Count(3));
    }

    #[test]
    fn nesting_stops_where_the_wire_refuses_it() {
        let mut w = DataWriter::new();
        for _ in 0..MAX_DEPTH {
            w.vector(1).unwrap();
        }
        assert!(matches!(w.vector(1), Err(WireError::TooDeep(_))));
        assert!(matches!(
            w.value(&Data::Vector(Vec::new())),
            Err(WireError::TooDeep(_))
        ));
        w.none();
        assert!(w.finish().is_some(), "{MAX_DEPTH} levels are fine");
    }

    #[test]
    fn an_encoded_value_goes_out_as_the_decoded_message_would() {
        use crate::codec::{encode_message, encode_payload_message};
        use crate::frame::{DataMessage, NodeId};
        let data = Data::Vector((0..100).map(Data::Integer).collect());
        let message = DataMessage {
            origin: NodeId([7; 16]),
            id: 1 << 40,
            ttl: 300,
            topic: crate::Topic::new("/a/b"),
            data: data.clone(),
        };
        let mut expected = Vec::new();
        encode_message(&message, &mut expected).unwrap();
        for payload in [
            Payload::Value(data.clone()),
            Payload::Encoded(EncodedData::new(&data).unwrap()),
        ] {
            let mut bytes = Vec::new();
            let message = DataMessage {
                origin: message.origin,
                id: message.id,
                ttl: message.ttl,
                topic: message.topic.clone(),
                data: payload,
            };
            encode_payload_message(&message, &mut bytes).unwrap();
            assert_eq!(bytes, expected);
        }
    }

    /// What decoding a `Data` at the start of `bytes` accepts: the length it takes.
    fn decoded_len(bytes: &[u8]) -> Option<usize> {
        postcard::take_from_bytes::<Data>(bytes)
            .ok()
            .map(|(_, rest)| bytes.len() - rest.len())
    }

    #[test]
    fn the_quick_check_accepts_only_what_decoding_accepts() {
        let mut w = DataWriter::new();
        w.vector(7).unwrap();
        w.integer(i64::MIN);
        w.count(u64::MAX);
        w.real(-0.0);
        w.boolean(true);
        w.string("é".repeat(70).as_bytes());
        w.none();
        w.table(1).unwrap();
        w.string(b"k");
        w.vector(0).unwrap();
        let written = w.finish().unwrap();
        let set = Data::Set([Data::Count(1), Data::from("a")].into_iter().collect());
        let other = Data::Vector(vec![Data::Timespan(crate::data::Timespan(5)), set]);
        let mut samples = vec![
            written.0.clone(),
            encoded(&other),
            // A boolean byte other than 0 or 1, varints of ten bytes (the last too
            // large, and right), a variant index beyond the last, a length beyond the
            // bytes.
            vec![14, 1, 1, 2],
            [vec![14, 1, 2], vec![0xff; 9], vec![2]].concat(),
            [vec![14, 1, 2], vec![0xff; 9], vec![1]].concat(),
            vec![14, 1, 15],
            vec![14, 3, 0],
        ];
        // Every truncation and every single-byte change of the valid ones.
        for valid in [written.0.clone(), encoded(&other)] {
            for end in 0..valid.len() {
                samples.push(valid[..end].to_vec());
            }
            for at in 0..valid.len() {
                for byte in [0, 1, 2, 0x7f, 0x80, 0xff] {
                    let mut changed = valid.clone();
                    changed[at] = byte;
                    samples.push(changed);
                }
            }
        }
        for bytes in &samples {
            if let Some(len) = EncodedData::accepted_len(bytes) {
                assert_eq!(decoded_len(bytes), Some(len), "{bytes:?}");
            }
        }
        let len = written.0.len();
        assert_eq!(EncodedData::accepted_len(&written.0), Some(len));
        assert_eq!(EncodedData::accepted_len(&samples[3]), None);
        assert_eq!(EncodedData::accepted_len(&samples[4]), Some(13));
        assert_eq!(decoded_len(&samples[4]), Some(13));
        assert_eq!(
            EncodedData::accepted_len(&encoded(&other)),
            None,
            "a timespan"
        );
        // The nesting limit is decoding's.
        let mut deep = [14, 1].repeat(MAX_DEPTH);
        deep.push(0);
        assert_eq!(EncodedData::accepted_len(&deep), decoded_len(&deep));
        let mut too_deep = [14, 1].repeat(MAX_DEPTH + 1);
        too_deep.push(0);
        assert_eq!(EncodedData::accepted_len(&too_deep), None);
        assert_eq!(decoded_len(&too_deep), None);
    }

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
