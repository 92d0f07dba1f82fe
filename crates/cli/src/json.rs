//! The JSON form of Broker values used by `--json` (documented in `docs/tools.md`).
//!
//! JSON's own types carry the values JSON has: `null`, booleans, integers (Broker
//! `integer`), numbers with a fraction or exponent (`real`), UTF-8 strings, arrays
//! (`vector`) and objects with string keys (`table`). Every other value is an object
//! with a single `@`-tag key, e.g. `{"@count": 3}` or `{"@port": "80/tcp"}`. A table
//! that would look like a tag (one key starting with `@`) or has non-string keys is
//! written as `{"@table": [[key, value], ...]}`.

use std::net::IpAddr;

use broker_wire::data::{Set, Table};
use broker_wire::{Data, Port, Protocol, Timespan, Timestamp, Topic};
use ipnet::IpNet;
use serde_json::{Map, Number, Value};

use crate::error::CliError;

/// The JSON form of `data`.
pub fn to_json(data: &Data) -> Value {
    match data {
        Data::None => Value::Null,
        Data::Boolean(b) => Value::Bool(*b),
        Data::Count(c) => tagged("@count", Value::from(*c)),
        Data::Integer(i) => Value::from(*i),
        Data::Real(r) => match Number::from_f64(*r) {
            Some(n) => Value::Number(n),
            None => tagged("@real", Value::String(fmt_non_finite(*r).into())),
        },
        Data::String(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => Value::String(s.into()),
            Err(_) => tagged("@bytes", Value::String(hex(bytes))),
        },
        Data::Address(a) => tagged("@address", Value::String(a.to_canonical().to_string())),
        Data::Subnet(_) => tagged("@subnet", Value::String(data.to_string())),
        Data::Port(p) => tagged("@port", Value::String(p.to_string())),
        Data::Timestamp(t) => tagged("@timestamp", Value::from(t.0)),
        Data::Timespan(t) => tagged("@timespan", Value::from(t.0)),
        Data::EnumValue(e) => tagged("@enum", Value::String(e.clone())),
        Data::Set(s) => tagged("@set", Value::Array(s.iter().map(to_json).collect())),
        Data::Table(t) => table_to_json(t),
        Data::Vector(v) => Value::Array(v.iter().map(to_json).collect()),
    }
}

/// The Broker value a JSON value stands for.
pub fn from_json(value: &Value) -> Result<Data, CliError> {
    Ok(match value {
        Value::Null => Data::None,
        Value::Bool(b) => Data::Boolean(*b),
        Value::Number(n) => number(n)?,
        Value::String(s) => Data::string(s.as_str()),
        Value::Array(items) => Data::Vector(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Value::Object(map) => match single_tag(map) {
            Some((tag, inner)) => from_tagged(tag, inner)?,
            None => Data::Table(
                map.iter()
                    .map(|(k, v)| Ok((Data::string(k.as_str()), from_json(v)?)))
                    .collect::<Result<_, CliError>>()?,
            ),
        },
    })
}

/// Parses one line of JSON into a Broker value.
pub fn parse_value(line: &str) -> Result<Data, CliError> {
    let value: Value = serde_json::from_str(line).map_err(|e| invalid(line, e.to_string()))?;
    from_json(&value)
}

/// Parses one line of `--json` input: a message `{"topic": "...", "data": <value>}` as
/// `broker-pipe --mode subscribe --json` prints them (its topic, and its value), or
/// else any value (no topic). So a table with exactly the keys `topic` (a string) and
/// `data` reads as a message; write it as `{"@table": ...}` to mean the table.
pub fn parse_line(line: &str) -> Result<(Option<Topic>, Data), CliError> {
    let value: Value = serde_json::from_str(line).map_err(|e| invalid(line, e.to_string()))?;
    if let Value::Object(map) = &value {
        if let (2, Some(Value::String(topic)), Some(data)) =
            (map.len(), map.get("topic"), map.get("data"))
        {
            return Ok((Some(Topic::new(topic.as_str())), from_json(data)?));
        }
    }
    Ok((None, from_json(&value)?))
}

fn tagged(tag: &str, inner: Value) -> Value {
    let mut map = Map::new();
    map.insert(tag.to_owned(), inner);
    Value::Object(map)
}

fn single_tag(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    match map.iter().next() {
        Some((key, inner)) if map.len() == 1 && key.starts_with('@') => Some((key, inner)),
        _ => None,
    }
}

fn table_to_json(table: &Table) -> Value {
    let plain: Option<Map<String, Value>> = table
        .iter()
        .map(|(k, v)| k.as_str().map(|k| (k.to_owned(), to_json(v))))
        .collect();
    match plain {
        Some(map) if single_tag(&map).is_none() => Value::Object(map),
        _ => tagged(
            "@table",
            Value::Array(
                table
                    .iter()
                    .map(|(k, v)| Value::Array(vec![to_json(k), to_json(v)]))
                    .collect(),
            ),
        ),
    }
}

fn number(n: &Number) -> Result<Data, CliError> {
    if let Some(i) = n.as_i64() {
        Ok(Data::Integer(i))
    } else if n.is_u64() {
        Err(invalid(
            n,
            "integer out of range (use {\"@count\": n} for counts)",
        ))
    } else {
        Ok(Data::Real(n.as_f64().unwrap_or(f64::NAN)))
    }
}

fn from_tagged(tag: &str, inner: &Value) -> Result<Data, CliError> {
    let text = || {
        inner
            .as_str()
            .ok_or_else(|| invalid(inner, format!("{tag} takes a string")))
    };
    let int = || {
        inner
            .as_i64()
            .ok_or_else(|| invalid(inner, format!("{tag} takes an integer")))
    };
    let items = || {
        inner
            .as_array()
            .ok_or_else(|| invalid(inner, format!("{tag} takes an array")))
    };
    Ok(match tag {
        "@count" => Data::Count(
            inner
                .as_u64()
                .ok_or_else(|| invalid(inner, "@count takes a non-negative integer"))?,
        ),
        "@real" => Data::Real(parse_real(inner)?),
        "@bytes" => {
            Data::String(unhex(text()?).ok_or_else(|| invalid(inner, "@bytes takes hex digits"))?)
        }
        "@address" => Data::Address(
            text()?
                .parse::<IpAddr>()
                .map_err(|e| invalid(inner, e.to_string()))?,
        ),
        "@subnet" => Data::Subnet(
            text()?
                .parse::<IpNet>()
                .map_err(|e| invalid(inner, e.to_string()))?,
        ),
        "@port" => Data::Port(
            parse_port(text()?)
                .ok_or_else(|| invalid(inner, "@port takes \"N/tcp|udp|icmp|?\""))?,
        ),
        "@timestamp" => Data::Timestamp(Timestamp(int()?)),
        "@timespan" => Data::Timespan(Timespan(int()?)),
        "@enum" => Data::EnumValue(text()?.to_owned()),
        "@set" => Data::Set(items()?.iter().map(from_json).collect::<Result<Set, _>>()?),
        "@table" => Data::Table(
            items()?
                .iter()
                .map(table_entry)
                .collect::<Result<Table, _>>()?,
        ),
        _ => return Err(invalid(tag, "unknown tag")),
    })
}

fn table_entry(entry: &Value) -> Result<(Data, Data), CliError> {
    match entry.as_array().map(Vec::as_slice) {
        Some([key, value]) => Ok((from_json(key)?, from_json(value)?)),
        _ => Err(invalid(entry, "@table entries are [key, value] pairs")),
    }
}

fn parse_real(inner: &Value) -> Result<f64, CliError> {
    match inner {
        Value::Number(n) => n.as_f64().ok_or_else(|| invalid(inner, "not a number")),
        Value::String(s) => match s.as_str() {
            "nan" => Ok(f64::NAN),
            "-nan" => Ok(-f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(invalid(
                inner,
                "@real takes a number, \"nan\", \"inf\" or \"-inf\"",
            )),
        },
        _ => Err(invalid(inner, "@real takes a number")),
    }
}

fn fmt_non_finite(r: f64) -> &'static str {
    match (r.is_nan(), r.is_sign_negative()) {
        (true, false) => "nan",
        (true, true) => "-nan",
        (false, false) => "inf",
        (false, true) => "-inf",
    }
}

/// Parses Broker's port notation, e.g. `80/tcp`.
pub fn parse_port(text: &str) -> Option<Port> {
    let (number, protocol) = text.split_once('/')?;
    Some(Port::new(
        number.parse().ok()?,
        Protocol::from_name(protocol)?,
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => u8::from_str_radix(std::str::from_utf8(&[*high, *low]).ok()?, 16).ok(),
            _ => None,
        })
        .collect()
}

fn invalid(what: impl std::fmt::Display, reason: impl Into<String>) -> CliError {
    CliError::Json {
        input: what.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_messages_or_values() {
        let (topic, data) = parse_line(r#"{"topic":"/a/b","data":{"@count":1}}"#).unwrap();
        assert_eq!((topic.unwrap().as_str(), data), ("/a/b", Data::Count(1)));
        let (topic, data) = parse_line(r#"{"topic":"/a","data":1,"more":2}"#).unwrap();
        assert!(topic.is_none());
        assert!(matches!(data, Data::Table(t) if t.len() == 3));
        let (topic, data) = parse_line(r#"{"topic":1,"data":2}"#).unwrap();
        assert!(topic.is_none());
        assert!(matches!(data, Data::Table(_)));
        assert_eq!(
            parse_line("[1]").unwrap(),
            (None, Data::Vector(vec![Data::Integer(1)]))
        );
        assert!(parse_line(r#"{"topic":"/a","data":{"@count":-1}}"#).is_err());
    }

    fn round_trip(data: Data) {
        let json = to_json(&data);
        let text = json.to_string();
        let back = parse_value(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(back, data, "{text}");
    }

    #[test]
    fn every_type_round_trips() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let net: IpNet = "2001:db8::/32".parse().unwrap();
        let values = vec![
            Data::None,
            Data::Boolean(true),
            Data::Count(u64::MAX),
            Data::Integer(-7),
            Data::Real(1.0),
            Data::Real(f64::INFINITY),
            Data::string("text"),
            Data::String(vec![0xff, 0x00]),
            Data::Address(ip),
            Data::Subnet(net),
            Data::Port(Port::new(80, Protocol::Tcp)),
            Data::Timestamp(Timestamp(1_600_000_000_123_456_789)),
            Data::Timespan(Timespan(-5)),
            Data::EnumValue("Log::WRITER_ASCII".into()),
            Data::Set([Data::Count(1), Data::string("a")].into_iter().collect()),
            Data::Table(
                [(Data::string("k"), Data::Integer(1))]
                    .into_iter()
                    .collect(),
            ),
            Data::Table([(Data::Count(1), Data::Integer(1))].into_iter().collect()),
            Data::Table(
                [(Data::string("@count"), Data::Integer(1))]
                    .into_iter()
                    .collect(),
            ),
            Data::Vector(vec![Data::None, Data::Vector(vec![])]),
        ];
        for value in values.clone() {
            round_trip(value);
        }
        round_trip(Data::Vector(values));
    }

    #[test]
    fn plain_json_maps_to_natural_types() {
        let data = parse_value(r#"{"a": [1, 2.5, "x", null, true]}"#).unwrap();
        assert_eq!(data.to_string(), "{a -> (1, 2.500000, x, nil, T)}");
        assert_eq!(
            parse_value(r#"{"@port": "53/udp"}"#).unwrap().to_string(),
            "53/udp"
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        for bad in [
            r#"{"@count": -1}"#,
            r#"{"@nope": 1}"#,
            r#"{"@port": "80"}"#,
            "18446744073709551615",
            "[1,",
        ] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
    }
}
