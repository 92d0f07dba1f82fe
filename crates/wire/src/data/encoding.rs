//! Serde impls of [`Data`], written by hand for two reasons: nesting is limited to
//! [`MAX_DEPTH`] levels in both directions (so hostile input cannot overflow the
//! stack, and we never encode what a peer would refuse), and byte strings go through
//! serde's bytes API (one copy instead of a loop per byte).
//!
//! The wire format is exactly what `#[derive(Serialize, Deserialize)]` on [`Data`]
//! would give with postcard: the variant index as a varint, then the payload; byte
//! strings, sequences and maps are a varint length followed by the items.

use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Data, Set, Table, Vector};
use crate::limits::{flag_too_deep, reserve_capacity, MAX_DEPTH};

/// The variant names of [`Data`], indexed by variant index.
const VARIANTS: [&str; 15] = [
    "None",
    "Boolean",
    "Count",
    "Integer",
    "Real",
    "String",
    "Address",
    "Subnet",
    "Port",
    "Timestamp",
    "Timespan",
    "EnumValue",
    "Set",
    "Table",
    "Vector",
];

impl Data {
    /// Index of the value's variant on the wire (the same as its rank in the order).
    fn variant_index(&self) -> u32 {
        u32::from(self.type_rank())
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Nested {
            data: self,
            depth: 0,
        }
        .serialize(serializer)
    }
}

/// A value together with the number of containers enclosing it.
pub(super) struct Nested<'a> {
    pub(super) data: &'a Data,
    pub(super) depth: usize,
}

/// The items of a container whose elements sit at `depth`.
struct Items<'a, C: ?Sized> {
    items: &'a C,
    depth: usize,
}

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.data.variant_index();
        let name = VARIANTS[index as usize];
        let inner = self.depth + 1;
        if inner > MAX_DEPTH && matches!(self.data, Data::Set(_) | Data::Table(_) | Data::Vector(_))
        {
            return Err(ser::Error::custom(flag_too_deep()));
        }
        match self.data {
            Data::None => s.serialize_unit_variant("Data", index, name),
            Data::Boolean(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Count(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Integer(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Real(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::String(v) => s.serialize_newtype_variant("Data", index, name, &Bytes(v)),
            Data::Address(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Subnet(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Port(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Timestamp(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Timespan(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::EnumValue(v) => s.serialize_newtype_variant("Data", index, name, v),
            Data::Set(v) => {
                let items = Items {
                    items: v,
                    depth: inner,
                };
                s.serialize_newtype_variant("Data", index, name, &items)
            }
            Data::Table(v) => {
                let items = Items {
                    items: v,
                    depth: inner,
                };
                s.serialize_newtype_variant("Data", index, name, &items)
            }
            Data::Vector(v) => {
                let items = Items {
                    items: v,
                    depth: inner,
                };
                s.serialize_newtype_variant("Data", index, name, &items)
            }
        }
    }
}

impl Serialize for Items<'_, Set> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_seq(self.items.iter(), self.items.len(), self.depth, s)
    }
}

impl Serialize for Items<'_, Vector> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_seq(self.items.iter(), self.items.len(), self.depth, s)
    }
}

impl Serialize for Items<'_, Table> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.items.len()))?;
        for (key, value) in self.items {
            let nest = |data| Nested {
                data,
                depth: self.depth,
            };
            map.serialize_entry(&nest(key), &nest(value))?;
        }
        map.end()
    }
}

/// Serializes `len` values at `depth` as a sequence.
fn serialize_seq<'a, S: Serializer>(
    items: impl Iterator<Item = &'a Data>,
    len: usize,
    depth: usize,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(len))?;
    for data in items {
        seq.serialize_element(&Nested { data, depth })?;
    }
    seq.end()
}

/// A byte string serialized with serde's bytes API (on postcard: the same layout as a
/// `Vec<u8>`, written in one go).
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Serializes a byte vector with serde's bytes API
/// (`#[serde(serialize_with = "...")]`).
pub(crate) fn serialize_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

/// Deserializes a byte vector through serde's bytes API
/// (`#[serde(deserialize_with = "...")]`).
pub(crate) fn deserialize_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_byte_buf(ByteBufVisitor)
}

/// Collects a byte string, from a bytes payload or (for self-describing formats) a
/// sequence of bytes.
struct ByteBufVisitor;

impl<'de> Visitor<'de> for ByteBufVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut bytes = Vec::with_capacity(reserve_capacity(seq.size_hint()));
        while let Some(b) = seq.next_element()? {
            bytes.push(b);
        }
        Ok(bytes)
    }
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut slot = None;
        DecodeInto {
            depth: 0,
            target: &mut slot,
        }
        .deserialize(deserializer)?;
        slot.ok_or_else(|| de::Error::custom("no value"))
    }
}

/// Where decoded values go. Decoding stores each value where it belongs from inside
/// the visitor, instead of returning it: moving a `Result<Data, _>` out of the
/// decoder costs store-forwarding stalls that made decoding several times slower.
trait Collect {
    /// Stores one decoded value.
    fn collect(&mut self, data: Data);
}

impl Collect for Option<Data> {
    fn collect(&mut self, data: Data) {
        *self = Some(data);
    }
}

impl Collect for Vector {
    fn collect(&mut self, data: Data) {
        self.push(data);
    }
}

impl Collect for Set {
    fn collect(&mut self, data: Data) {
        self.insert(data);
    }
}

/// Table entries in wire order, awaiting the value of `key`.
struct TableEntry<'a> {
    entries: &'a mut Vec<(Data, Data)>,
    key: Data,
}

impl Collect for TableEntry<'_> {
    fn collect(&mut self, data: Data) {
        self.entries.push((std::mem::take(&mut self.key), data));
    }
}

/// Decodes one value enclosed by `depth` containers into `target`.
struct DecodeInto<'a, C> {
    depth: usize,
    target: &'a mut C,
}

impl<C> DecodeInto<'_, C> {
    /// The depth of the elements of a container at this depth, if one may nest here.
    fn elements<E: de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(flag_too_deep()));
        }
        Ok(self.depth + 1)
    }
}

impl<'de, C: Collect> DeserializeSeed<'de> for DecodeInto<'_, C> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_enum("Data", &VARIANTS, self)
    }
}

impl<'de, C: Collect> Visitor<'de> for DecodeInto<'_, C> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Broker value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (index, variant) = data.variant_seed(VariantIndex)?;
        let value = match index {
            0 => {
                variant.unit_variant()?;
                Data::None
            }
            1 => Data::Boolean(variant.newtype_variant()?),
            2 => Data::Count(variant.newtype_variant()?),
            3 => Data::Integer(variant.newtype_variant()?),
            4 => Data::Real(variant.newtype_variant()?),
            5 => Data::String(variant.newtype_variant_seed(ByteBufSeed)?),
            6 => Data::Address(variant.newtype_variant()?),
            7 => Data::Subnet(variant.newtype_variant()?),
            8 => Data::Port(variant.newtype_variant()?),
            9 => Data::Timestamp(variant.newtype_variant()?),
            10 => Data::Timespan(variant.newtype_variant()?),
            11 => Data::EnumValue(variant.newtype_variant()?),
            12 => Data::Set(variant.newtype_variant_seed(SetSeed(self.elements()?))?),
            13 => Data::Table(variant.newtype_variant_seed(TableSeed(self.elements()?))?),
            // `VariantIndex` admits nothing above 14.
            _ => Data::Vector(variant.newtype_variant_seed(VectorSeed(self.elements()?))?),
        };
        self.target.collect(value);
        Ok(())
    }
}

/// The variant index of a [`Data`], by number or by name.
struct VariantIndex;

impl<'de> DeserializeSeed<'de> for VariantIndex {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for VariantIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a variant index below {}", VARIANTS.len())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
        usize::try_from(v)
            .ok()
            .filter(|&i| i < VARIANTS.len())
            .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        VARIANTS
            .iter()
            .position(|&name| name == v)
            .ok_or_else(|| E::unknown_variant(v, &VARIANTS))
    }
}

/// Deserializes a byte string.
struct ByteBufSeed;

impl<'de> DeserializeSeed<'de> for ByteBufSeed {
    type Value = Vec<u8>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        deserialize_bytes(d)
    }
}

/// Deserializes a vector whose elements sit at the given depth.
struct VectorSeed(usize);

/// Deserializes a set whose elements sit at the given depth.
struct SetSeed(usize);

/// Deserializes a table whose keys and values sit at the given depth.
struct TableSeed(usize);

macro_rules! container_seed {
    ($($seed:ident: $value:ty => $deserialize:ident),* $(,)?) => {
        $(impl<'de> DeserializeSeed<'de> for $seed {
            type Value = $value;

            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.$deserialize(self)
            }
        })*
    };
}

container_seed! {
    VectorSeed: Vector => deserialize_seq,
    SetSeed: Set => deserialize_seq,
    TableSeed: Table => deserialize_map,
}

impl<'de> Visitor<'de> for VectorSeed {
    type Value = Vector;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a vector of Broker values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vector, A::Error> {
        let mut items = Vec::with_capacity(reserve_capacity(seq.size_hint()));
        collect_seq(&mut seq, self.0, &mut items)?;
        Ok(items)
    }
}

impl<'de> Visitor<'de> for SetSeed {
    type Value = Set;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a set of Broker values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Set, A::Error> {
        let mut items = Set::new();
        collect_seq(&mut seq, self.0, &mut items)?;
        Ok(items)
    }
}

/// Decodes the elements of `seq`, at `depth`, into `target`.
fn collect_seq<'de, A: SeqAccess<'de>, C: Collect>(
    seq: &mut A,
    depth: usize,
    target: &mut C,
) -> Result<(), A::Error> {
    while seq
        .next_element_seed(DecodeInto {
            depth,
            target: &mut *target,
        })?
        .is_some()
    {}
    Ok(())
}

impl<'de> Visitor<'de> for TableSeed {
    type Value = Table;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of Broker values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Table, A::Error> {
        // Entries arrive sorted (we encode tables in order), so building the map from
        // all of them at once checks the order in one pass and fills nodes without a
        // search per entry; the last of equal keys wins, as with repeated inserts.
        let mut entries = Vec::with_capacity(reserve_capacity(map.size_hint()));
        let mut key = None;
        let depth = self.0;
        while map
            .next_key_seed(DecodeInto {
                depth,
                target: &mut key,
            })?
            .is_some()
        {
            let key = key.take().unwrap_or_default();
            let target = &mut TableEntry {
                entries: &mut entries,
                key,
            };
            map.next_value_seed(DecodeInto { depth, target })?;
        }
        Ok(Table::from_iter(entries))
    }
}

/// Checks one encoded value, enclosed by `depth` containers, exactly as decoding it
/// into a [`Data`] would (the same serde calls, so the same input is refused), without
/// building it.
pub(crate) struct Validate {
    pub(crate) depth: usize,
}

impl Validate {
    fn elements<E: de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(flag_too_deep()));
        }
        Ok(self.depth + 1)
    }
}

impl<'de> DeserializeSeed<'de> for Validate {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_enum("Data", &VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for Validate {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Broker value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (index, variant) = data.variant_seed(VariantIndex)?;
        match index {
            0 => variant.unit_variant()?,
            1 => drop(variant.newtype_variant::<bool>()?),
            2 => drop(variant.newtype_variant::<u64>()?),
            3 => drop(variant.newtype_variant::<i64>()?),
            4 => drop(variant.newtype_variant::<f64>()?),
            5 => variant.newtype_variant_seed(IgnoredBytes)?,
            6 => drop(variant.newtype_variant::<std::net::IpAddr>()?),
            7 => drop(variant.newtype_variant::<ipnet::IpNet>()?),
            8 => drop(variant.newtype_variant::<super::Port>()?),
            9 => drop(variant.newtype_variant::<super::Timestamp>()?),
            10 => drop(variant.newtype_variant::<super::Timespan>()?),
            11 => drop(variant.newtype_variant::<String>()?),
            12 | 14 => variant.newtype_variant_seed(ValidateSeq(self.elements()?))?,
            _ => variant.newtype_variant_seed(ValidateMap(self.elements()?))?,
        }
        Ok(())
    }
}

/// A byte string, read and dropped.
struct IgnoredBytes;

impl<'de> DeserializeSeed<'de> for IgnoredBytes {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_byte_buf(self)
    }
}

impl<'de> Visitor<'de> for IgnoredBytes {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
}

/// The elements of a vector or set, at the given depth.
struct ValidateSeq(usize);

/// The entries of a table, at the given depth.
struct ValidateMap(usize);

impl<'de> DeserializeSeed<'de> for ValidateSeq {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ValidateSeq {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of Broker values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Validate { depth: self.0 })?.is_some() {}
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for ValidateMap {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ValidateMap {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of Broker values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Validate { depth: self.0 })?.is_some() {
            map.next_value_seed(Validate { depth: self.0 })?;
        }
        Ok(())
    }
}
