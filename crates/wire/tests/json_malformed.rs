//! Malformed WebSocket JSON: each kind of bad input is a clean, typed error naming
//! what was wrong, with the API's error code.

mod common;

use broker_wire::json::{to_json, Decoder, ErrorCode, ErrorMessage, JsonError};
use broker_wire::limits::MAX_DEPTH;
use broker_wire::Data;
use common::nested_vectors;

fn data_error(text: &str) -> JsonError {
    match Decoder::default().data(text.as_bytes()) {
        Ok(data) => panic!("{text} decoded to {data}"),
        Err(error) => error,
    }
}

fn value(data_type: &str, payload: &str) -> String {
    format!(r#"{{"@data-type":"{data_type}","data":{payload}}}"#)
}

#[test]
fn bad_first_messages_get_zeeks_errors() {
    let decoder = Decoder::default();
    for (input, expected) in [
        (&br#"["broken", "brrr"#[..], "subscriptions not an array"),
        (b"{}", "subscriptions not an array"),
        (b"\"/topic\"", "subscriptions not an array"),
        (b"[1, 2]", "individual subscription not a string"),
        (br#"["/a", null]"#, "individual subscription not a string"),
    ] {
        let error = decoder.subscriptions(input).unwrap_err();
        assert_eq!(
            error.to_string(),
            expected,
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(error.code(), ErrorCode::DeserializationFailed);
    }
}

#[test]
fn malformed_json_is_a_syntax_error() {
    for text in [
        "",
        "{",
        r#"{"@data-type":"count","data":1"#,
        "nan",
        "[1,]",
        "{} {}",
        "\u{feff}{}",
    ] {
        assert!(matches!(data_error(text), JsonError::Syntax(_)), "{text:?}");
    }
    assert!(matches!(
        Decoder::default().data(b"{\"a\xff\":1}"),
        Err(JsonError::Syntax(_))
    ));
    // A real printed by Broker for NaN is not JSON either.
    assert!(matches!(
        data_error(&value("real", "nan")),
        JsonError::Syntax(_)
    ));
}

#[test]
fn unknown_data_types_are_named() {
    // Broker's error btest sends a phone number.
    let error = Decoder::default()
        .data_message(br#"{"topic":"/test","@data-type":"phone","data":"555-0123"}"#)
        .unwrap_err();
    assert!(
        matches!(&error, JsonError::UnknownDataType(t) if t == "phone"),
        "{error}"
    );
    assert_eq!(error.to_string(), r#"unknown @data-type "phone""#);
    let message = ErrorMessage::from(&error);
    let mut out = String::new();
    message.encode(&mut out);
    assert_eq!(
        out,
        r#"{"type":"error","code":"deserialization_failed","context":"unknown @data-type \"phone\""}"#
    );
}

#[test]
fn missing_fields_and_wrong_shapes_are_named() {
    let decoder = Decoder::default();
    let no_topic = decoder
        .data_message(br#"{"type":"data-message","@data-type":"count","data":1}"#)
        .unwrap_err();
    assert!(matches!(
        no_topic,
        JsonError::MissingField { field: "topic", .. }
    ));
    for (text, field) in [
        (r#"{"data":1}"#, "@data-type"),
        (r#"{"@data-type":"count"}"#, "data"),
    ] {
        assert!(
            matches!(data_error(text), JsonError::MissingField { field: f, .. } if f == field),
            "{text}"
        );
    }
    assert!(matches!(
        data_error("[1]"),
        JsonError::WrongType {
            found: "an array",
            ..
        }
    ));
    assert!(matches!(
        data_error(&value("vector", "[1]")),
        JsonError::WrongType { .. }
    ));
    assert!(matches!(
        data_error(&value(
            "table",
            r#"[{"key":{"@data-type":"count","data":1}}]"#
        )),
        JsonError::MissingField { field: "value", .. }
    ));
    assert!(matches!(
        data_error(r#"{"@data-type":1,"data":1}"#),
        JsonError::WrongType {
            what: "@data-type",
            ..
        }
    ));
    assert!(matches!(
        decoder.server_message(br#"{"type":"hello"}"#),
        Err(JsonError::UnknownMessageType(t)) if t == "hello"
    ));
}

#[test]
fn payloads_of_the_wrong_form_name_their_type() {
    for (data_type, payload) in [
        ("boolean", "1"),
        ("count", "-1"),
        ("count", "1.0"),
        ("count", "18446744073709551616"),
        ("integer", "9223372036854775808"),
        ("integer", "1.0"),
        ("real", r#""1.0""#),
        ("string", "1"),
        ("address", r#""1.2.3""#),
        ("address", r#""::g""#),
        ("address", r#""10.0.0.1/8""#),
        ("subnet", r#""10.0.0.0""#),
        ("subnet", r#""10.0.0.0/33""#),
        ("subnet", r#""::/129""#),
        ("subnet", r#""x/8""#),
        ("port", r#""70000/tcp""#),
        ("port", r#""/tcp""#),
        ("port", r#""http""#),
        ("timespan", r#""1""#),
        ("timespan", r#""1 s""#),
        ("timespan", r#""1w""#),
        ("timespan", r#""s""#),
        ("timespan", "1000"),
        ("timespan", r#""99999999999999999999h""#),
        ("timestamp", r#""2014-07-09""#),
        ("timestamp", r#""2014-13-09T10:16:44""#),
        ("timestamp", r#""2014-07-09T10:16:44+1""#),
        ("timestamp", "1404901004"),
        ("enum-value", "null"),
        ("vector", "{}"),
        ("set", r#""a""#),
        ("table", "{}"),
    ] {
        let text = value(data_type, payload);
        match data_error(&text) {
            JsonError::InvalidValue {
                data_type: named,
                reason,
            } => {
                assert_eq!(named, data_type, "{text}: {reason}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn errors_quote_what_was_wrong() {
    for (text, message) in [
        (
            value("timespan", r#""1w""#),
            r#"invalid timespan: "1w": unknown unit (ns, us, ms, s, min, h or d)"#,
        ),
        (
            value("count", "-1"),
            "invalid count: expected an integer in 0..=2^64-1, found -1",
        ),
        (
            value("port", r#""http""#),
            r#"invalid port: "http": expected <0..65535>/<protocol>"#,
        ),
        (
            value("vector", "[1]"),
            "a vector element must be a JSON object, found an integer",
        ),
    ] {
        assert_eq!(data_error(&text).to_string(), message, "{text}");
    }
    let error = Decoder::default()
        .data_message(br#"{"@data-type":"count","data":1}"#)
        .unwrap_err();
    assert_eq!(error.to_string(), r#"no "topic" in a data message"#);
}

#[test]
fn duplicates_are_refused() {
    let one = r#"{"@data-type":"count","data":1}"#;
    assert!(matches!(
        data_error(&value("set", &format!("[{one},{one}]"))),
        JsonError::DuplicateSetElement(e) if e == "1"
    ));
    let entry = format!(r#"{{"key":{one},"value":{one}}}"#);
    assert!(matches!(
        data_error(&value("table", &format!("[{entry},{entry}]"))),
        JsonError::DuplicateTableKey(k) if k == "1"
    ));
    // The same address twice, once IPv4-mapped.
    let addr = |a: &str| format!(r#"{{"@data-type":"address","data":"{a}"}}"#);
    let set = value(
        "set",
        &format!("[{},{}]", addr("10.0.0.1"), addr("::ffff:10.0.0.1")),
    );
    assert!(matches!(
        data_error(&set),
        JsonError::DuplicateSetElement(_)
    ));
    assert!(matches!(
        data_error(r#"{"@data-type":"count","@data-type":"integer","data":1}"#),
        JsonError::DuplicateKey(k) if k == "@data-type"
    ));
}

#[test]
fn nesting_is_limited_like_the_native_codec() {
    let fits = to_json(&nested_vectors(MAX_DEPTH)).unwrap();
    assert_eq!(
        Decoder::default().data(fits.as_bytes()).unwrap(),
        nested_vectors(MAX_DEPTH)
    );
    assert!(matches!(
        to_json(&nested_vectors(MAX_DEPTH + 1)),
        Err(JsonError::TooDeep(MAX_DEPTH))
    ));
    // One vector too many, written by hand.
    let too_deep = format!(r#"{{"@data-type":"vector","data":[{fits}]}}"#);
    assert!(matches!(
        data_error(&too_deep),
        JsonError::TooDeep(MAX_DEPTH)
    ));
    // Deep tables and raw JSON nesting far beyond any limit.
    let mut table = Data::Count(1);
    for _ in 0..MAX_DEPTH {
        table = Data::Table([(table, Data::None)].into_iter().collect());
    }
    let tables = to_json(&table).unwrap();
    assert_eq!(Decoder::default().data(tables.as_bytes()).unwrap(), table);
    let brackets = "[".repeat(100_000);
    assert!(matches!(
        data_error(&brackets),
        JsonError::TooDeep(MAX_DEPTH)
    ));
    let payload = format!(r#"{{"@data-type":"none","data":{}}}"#, "[".repeat(100_000));
    assert!(matches!(
        data_error(&payload),
        JsonError::TooDeep(MAX_DEPTH)
    ));
}

#[test]
fn input_beyond_the_cap_is_refused_before_parsing() {
    let text = value("string", &format!("\"{}\"", "x".repeat(100)));
    let decoder = Decoder::new(64);
    assert!(matches!(
        decoder.data(text.as_bytes()),
        Err(JsonError::TooLarge { len, cap: 64 }) if len == text.len()
    ));
    assert!(matches!(
        decoder.subscriptions(&[b' '; 65]),
        Err(JsonError::TooLarge { .. })
    ));
    assert!(Decoder::new(text.len()).data(text.as_bytes()).is_ok());
}

#[test]
fn values_json_cannot_carry_are_refused_with_serialization_failed() {
    for data in [
        Data::Real(f64::NAN),
        Data::Real(f64::NEG_INFINITY),
        Data::String(vec![b'a', 0xff]),
    ] {
        let error = to_json(&Data::Vector(vec![data.clone()])).unwrap_err();
        assert_eq!(
            error.code(),
            ErrorCode::SerializationFailed,
            "{data:?}: {error}"
        );
    }
    assert!(matches!(
        to_json(&Data::String(vec![b'a', 0xff])),
        Err(JsonError::InvalidUtf8 { valid_up_to: 1 })
    ));
}
