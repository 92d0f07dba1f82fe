//! Second decoding stage: a parsed JSON tree into [`Data`], leniently where the
//! v1 API's clients differ (see `docs/wire.md`), strictly where Broker is.

use std::collections::btree_map::Entry;

use super::error::{excerpt, JsonError};
use super::text;
use super::tree::Json;
use crate::data::{Set, Table};
use crate::limits::MAX_DEPTH;
use crate::{Data, Timespan, Timestamp};

/// The value of the object `node` (`{"@data-type":...,"data":...}`, other keys
/// ignored), nested inside `depth` containers; `within` names the object for errors.
pub(super) fn value(
    node: &Json<'_>,
    depth: usize,
    within: &'static str,
) -> Result<Data, JsonError> {
    if !matches!(node, Json::Object(_)) {
        return Err(JsonError::wrong_type(within, "a JSON object", node));
    }
    let data_type = node.get("@data-type").ok_or(JsonError::MissingField {
        field: "@data-type",
        within,
    })?;
    let data_type = data_type
        .as_str()
        .ok_or_else(|| JsonError::wrong_type("@data-type", "a string", data_type))?;
    let payload = node.get("data").ok_or(JsonError::MissingField {
        field: "data",
        within,
    })?;
    decode_payload(data_type, payload, depth)
}

fn decode_payload(data_type: &str, payload: &Json<'_>, depth: usize) -> Result<Data, JsonError> {
    let text = |data_type: &'static str| {
        payload
            .as_str()
            .ok_or_else(|| expected(data_type, "a string", payload))
    };
    Ok(match data_type {
        // The payload of none is not checked, as in Broker.
        "none" => Data::None,
        "boolean" => match payload {
            Json::Bool(b) => Data::Boolean(*b),
            _ => return Err(expected("boolean", "true or false", payload)),
        },
        "count" => match payload {
            Json::Unsigned(c) => Data::Count(*c),
            _ => return Err(expected("count", "an integer in 0..=2^64-1", payload)),
        },
        "integer" => match payload {
            Json::Signed(i) => Data::Integer(*i),
            Json::Unsigned(u) => Data::Integer(
                i64::try_from(*u)
                    .map_err(|_| expected("integer", "a 64-bit signed integer", payload))?,
            ),
            _ => return Err(expected("integer", "a 64-bit signed integer", payload)),
        },
        // Integer literals are accepted too (zeek-client and others send them).
        "real" => match payload {
            Json::Float(r) => Data::Real(*r),
            Json::Unsigned(u) => Data::Real(*u as f64),
            Json::Signed(i) => Data::Real(*i as f64),
            _ => return Err(expected("real", "a number", payload)),
        },
        "string" => Data::String(text("string")?.as_bytes().to_vec()),
        "enum-value" => Data::EnumValue(text("enum-value")?.to_owned()),
        "address" => Data::Address(text::parse_address(text("address")?)?),
        "subnet" => Data::Subnet(text::parse_subnet(text("subnet")?)?),
        "port" => Data::Port(text::parse_port(text("port")?)?),
        "timestamp" => Data::Timestamp(Timestamp(text::parse_timestamp(text("timestamp")?)?)),
        "timespan" => Data::Timespan(Timespan(text::parse_timespan(text("timespan")?)?)),
        "vector" => {
            let (items, depth) = elements("vector", payload, depth)?;
            Data::Vector(
                items
                    .iter()
                    .map(|item| value(item, depth, "a vector element"))
                    .collect::<Result<_, _>>()?,
            )
        }
        "set" => {
            let (items, depth) = elements("set", payload, depth)?;
            let mut set = Set::new();
            for item in items {
                if let Some(duplicate) = set.replace(value(item, depth, "a set element")?) {
                    return Err(JsonError::DuplicateSetElement(excerpt(duplicate)));
                }
            }
            Data::Set(set)
        }
        "table" => {
            let (entries, depth) = elements("table", payload, depth)?;
            let mut table = Table::new();
            for entry in entries {
                let (key, val) = table_entry(entry, depth)?;
                match table.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(val);
                    }
                    Entry::Occupied(slot) => {
                        return Err(JsonError::DuplicateTableKey(excerpt(slot.key())))
                    }
                }
            }
            Data::Table(table)
        }
        other => return Err(JsonError::UnknownDataType(excerpt(other))),
    })
}

/// The array payload of a container at `depth`, and the depth of its elements.
fn elements<'t, 'a>(
    data_type: &'static str,
    payload: &'t Json<'a>,
    depth: usize,
) -> Result<(&'t [Json<'a>], usize), JsonError> {
    let Json::Array(items) = payload else {
        return Err(expected(data_type, "an array", payload));
    };
    let depth = depth + 1;
    if depth > MAX_DEPTH {
        return Err(JsonError::TooDeep(MAX_DEPTH));
    }
    Ok((items, depth))
}

fn table_entry(entry: &Json<'_>, depth: usize) -> Result<(Data, Data), JsonError> {
    const WITHIN: &str = "a table entry";
    if !matches!(entry, Json::Object(_)) {
        return Err(JsonError::wrong_type(
            WITHIN,
            "an object {\"key\":...,\"value\":...}",
            entry,
        ));
    }
    let field = |field| {
        entry.get(field).ok_or(JsonError::MissingField {
            field,
            within: WITHIN,
        })
    };
    Ok((
        value(field("key")?, depth, "a table key")?,
        value(field("value")?, depth, "a table value")?,
    ))
}

/// The payload of `data_type` is not `what`; numbers are quoted, other JSON named.
fn expected(data_type: &'static str, what: &str, payload: &Json<'_>) -> JsonError {
    let found = match payload {
        Json::Unsigned(n) => n.to_string(),
        Json::Signed(n) => n.to_string(),
        Json::Float(n) => format!("{n:?}"),
        other => other.kind().to_owned(),
    };
    JsonError::invalid(data_type, format!("expected {what}, found {found}"))
}
