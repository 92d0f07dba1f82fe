//! The quick check of a received value ([`EncodedData::accepted_len`]): a walk over
//! its bytes that accepts only what decoding a [`Data`](crate::Data) certainly accepts,
//! so a link can keep the value encoded without running serde per item.

use super::EncodedData;
use crate::limits::MAX_DEPTH;

impl EncodedData {
    /// The length of the value at the start of `bytes` if it holds only what a
    /// [`DataWriter`](super::DataWriter) writes piece by piece (nil, booleans, counts,
    /// integers, reals, strings, vectors, sets, tables) in a form that decoding
    /// certainly accepts; `None` when unsure (any other value, a long varint, a
    /// truncated value, nesting near the limit), leaving the check to decoding's own
    /// rules. A quick check of received values: no serde calls per item.
    pub(crate) fn accepted_len(bytes: &[u8]) -> Option<usize> {
        let mut skim = Skim { bytes, pos: 0 };
        skim.value(0)?;
        Some(skim.pos)
    }
}

/// Steps over a value as postcard decodes a [`Data`](crate::Data) (see
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::encoded::tests::encoded;
    use crate::data::{Data, DataWriter};

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
}
