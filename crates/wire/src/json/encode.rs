//! Encoding [`Data`] as v1 JSON: compact, fields in upstream order.

use std::fmt::Write;

use super::error::JsonError;
use super::text;
use crate::limits::MAX_DEPTH;
use crate::Data;

/// The `@data-type` of a value.
pub(super) fn data_type(data: &Data) -> &'static str {
    match data {
        Data::None => "none",
        Data::Boolean(_) => "boolean",
        Data::Count(_) => "count",
        Data::Integer(_) => "integer",
        Data::Real(_) => "real",
        Data::String(_) => "string",
        Data::Address(_) => "address",
        Data::Subnet(_) => "subnet",
        Data::Port(_) => "port",
        Data::Timestamp(_) => "timestamp",
        Data::Timespan(_) => "timespan",
        Data::EnumValue(_) => "enum-value",
        Data::Set(_) => "set",
        Data::Table(_) => "table",
        Data::Vector(_) => "vector",
    }
}

/// Appends `data` as `{"@data-type":...,"data":...}` to `out`. On error `out` is left
/// as it was.
pub fn encode_data(data: &Data, out: &mut String) -> Result<(), JsonError> {
    let start = out.len();
    out.push('{');
    let result = write_fields(data, 0, out);
    match result {
        Ok(()) => {
            out.push('}');
            Ok(())
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// `data` as a JSON string `{"@data-type":...,"data":...}`.
pub fn to_json(data: &Data) -> Result<String, JsonError> {
    let mut out = String::new();
    encode_data(data, &mut out)?;
    Ok(out)
}

/// Writes the two fields `"@data-type":...,"data":...` of a value nested inside
/// `depth` containers; a data message puts them beside its own.
pub(super) fn write_fields(data: &Data, depth: usize, out: &mut String) -> Result<(), JsonError> {
    out.push_str("\"@data-type\":\"");
    out.push_str(data_type(data));
    out.push_str("\",\"data\":");
    write_payload(data, depth, out)
}

fn write_value(data: &Data, depth: usize, out: &mut String) -> Result<(), JsonError> {
    out.push('{');
    write_fields(data, depth, out)?;
    out.push('}');
    Ok(())
}

fn write_payload(data: &Data, depth: usize, out: &mut String) -> Result<(), JsonError> {
    match data {
        Data::None => out.push_str("{}"),
        Data::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::Count(c) => {
            let _ = write!(out, "{c}");
        }
        Data::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Real(r) => text::write_real(*r, out)?,
        Data::String(bytes) => text::write_string(bytes, out)?,
        // Display writes addresses and subnets as Broker does (v4-mapped as v4,
        // compressed lowercase IPv6, masked networks); none needs escaping.
        Data::Address(_) | Data::Subnet(_) | Data::Port(_) => {
            let _ = write!(out, "\"{data}\"");
        }
        Data::Timestamp(t) => text::write_timestamp(t.0, out),
        Data::Timespan(t) => text::write_timespan(t.0, out),
        Data::EnumValue(name) => text::write_str(name, out),
        Data::Set(items) => write_array(items.iter(), depth, out, write_value)?,
        Data::Table(entries) => write_array(entries.iter(), depth, out, |(k, v), depth, out| {
            out.push_str("{\"key\":");
            write_value(k, depth, out)?;
            out.push_str(",\"value\":");
            write_value(v, depth, out)?;
            out.push('}');
            Ok(())
        })?,
        Data::Vector(items) => write_array(items.iter(), depth, out, write_value)?,
    }
    Ok(())
}

/// Writes the elements of a container at `depth` as a JSON array.
fn write_array<T>(
    items: impl Iterator<Item = T>,
    depth: usize,
    out: &mut String,
    write_item: impl Fn(T, usize, &mut String) -> Result<(), JsonError>,
) -> Result<(), JsonError> {
    let depth = depth + 1;
    if depth > MAX_DEPTH {
        return Err(JsonError::TooDeep(MAX_DEPTH));
    }
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_item(item, depth, out)?;
    }
    out.push(']');
    Ok(())
}
