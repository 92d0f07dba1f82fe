//! [`DataWriter`]: one value written in the wire encoding piece by piece (scalars,
//! containers opened with their length, whole [`Data`] values), so that a caller
//! holding values in another form need not build a [`Data`] first.

use super::EncodedData;
use crate::codec::append_postcard;
use crate::data::encoding::Nested;
use crate::data::Data;
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
    /// The encoding so far (taken whole by `EncodedData::new`).
    pub(super) bytes: Vec<u8>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encoded::tests::encoded;
    use crate::data::Table;

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
}
