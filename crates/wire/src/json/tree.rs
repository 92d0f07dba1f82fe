//! First decoding stage: JSON text into a small borrowed tree, bounded in size and
//! depth, refusing duplicate object keys.
//!
//! A separate stage because field order is free in the v1 API (`data` may come before
//! `@data-type`), so a payload can only be read once its object is complete; and
//! because serde_json would otherwise silently keep the last of duplicate keys.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::JsonError;
use crate::limits::MAX_DEPTH;

/// How deep JSON may nest: enough for a value of [`MAX_DEPTH`] containers (a table
/// level takes three JSON levels: its object, its array and an entry object) plus
/// a scalar's object and payload at the bottom. Keeps the parser's recursion bounded.
pub(super) const MAX_JSON_DEPTH: usize = 3 * MAX_DEPTH + 2;

/// Objects up to this many keys are checked for duplicates by a linear scan.
const LINEAR_SCAN_KEYS: usize = 16;

/// A parsed JSON value; strings borrow from the input unless they had escapes.
#[derive(Debug, PartialEq)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The JSON type, for error messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Unsigned(_) | Json::Signed(_) => "an integer",
            Json::Float(_) => "a float",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value of `key`, if this is an object that has it.
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses `input` (at most `cap` bytes) into a tree.
pub(super) fn parse(input: &[u8], cap: usize) -> Result<Json<'_>, JsonError> {
    if input.len() > cap {
        return Err(JsonError::TooLarge {
            len: input.len(),
            cap,
        });
    }
    let failure = Cell::new(None);
    let mut parser = serde_json::Deserializer::from_slice(input);
    // Our own depth limit (in `NodeSeed`) replaces serde_json's, which would stop at
    // 128 JSON levels: too few for values nesting MAX_DEPTH containers.
    parser.disable_recursion_limit();
    let seed = NodeSeed {
        depth: 0,
        failure: &failure,
    };
    match seed.deserialize(&mut parser).and_then(|tree| {
        parser.end()?;
        Ok(tree)
    }) {
        Ok(tree) => Ok(tree),
        Err(error) => Err(failure.take().unwrap_or(JsonError::Syntax(error))),
    }
}

/// Deserializes one JSON value at `depth`; typed failures go to `failure`, because
/// serde_json keeps only the text of custom errors.
#[derive(Clone, Copy)]
struct NodeSeed<'c> {
    depth: usize,
    failure: &'c Cell<Option<JsonError>>,
}

impl NodeSeed<'_> {
    fn fail<E: de::Error>(&self, error: JsonError) -> E {
        let message = error.to_string();
        self.failure.set(Some(error));
        E::custom(message)
    }

    fn child<E: de::Error>(&self) -> Result<Self, E> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(self.fail(JsonError::TooDeep(MAX_DEPTH)));
        }
        Ok(NodeSeed {
            depth: self.depth + 1,
            failure: self.failure,
        })
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Json<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Unsigned(n))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Signed(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(n))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let child = self.child()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(child)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let child = self.child()?;
        let mut fields: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        // Built only for objects too large to scan.
        let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let duplicate = if fields.len() < LINEAR_SCAN_KEYS {
                fields.iter().any(|(k, _)| *k == key)
            } else {
                if seen.is_empty() {
                    seen.extend(fields.iter().map(|(k, _)| k.clone()));
                }
                !seen.insert(key.clone())
            };
            if duplicate {
                return Err(self.fail(JsonError::DuplicateKey(super::error::excerpt(&key))));
            }
            let value = map.next_value_seed(child)?;
            fields.push((key, value));
        }
        Ok(Json::Object(fields))
    }
}

/// Deserializes an object key, borrowing it when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_borrowing_plain_strings() {
        let tree = parse(br#"{"a":[1,-2,2.5,"x\n",null,true]}"#, 1024).unwrap();
        let Some(Json::Array(items)) = tree.get("a") else {
            panic!("{tree:?}")
        };
        assert_eq!(items[0], Json::Unsigned(1));
        assert_eq!(items[1], Json::Signed(-2));
        assert_eq!(items[2], Json::Float(2.5));
        assert!(matches!(&items[3], Json::Str(Cow::Owned(s)) if s == "x\n"));
        assert!(matches!(tree, Json::Object(ref f) if matches!(f[0].0, Cow::Borrowed("a"))));
    }

    #[test]
    fn duplicate_keys_are_refused_in_small_and_large_objects() {
        assert!(matches!(
            parse(br#"{"a":1,"b":2,"a":3}"#, 1024),
            Err(JsonError::DuplicateKey(k)) if k == "a"
        ));
        let mut large: String = (0..40).map(|i| format!("\"k{i}\":{i},")).collect();
        large.insert(0, '{');
        large.push_str("\"k33\":0}");
        assert!(matches!(
            parse(large.as_bytes(), 1 << 20),
            Err(JsonError::DuplicateKey(k)) if k == "k33"
        ));
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert!(matches!(
            parse(deep.as_bytes(), 1 << 20),
            Err(JsonError::TooDeep(_))
        ));
        let fits = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(parse(fits.as_bytes(), 1 << 20).is_ok());
        assert!(matches!(
            parse(b"[1, 2]", 5),
            Err(JsonError::TooLarge { len: 6, cap: 5 })
        ));
        assert!(matches!(parse(b"[1,", 64), Err(JsonError::Syntax(_))));
        assert!(matches!(parse(b"[1] x", 64), Err(JsonError::Syntax(_))));
    }
}
