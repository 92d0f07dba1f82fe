//! The JSON form of Broker values behind every `--json`: the WebSocket API's JSON v1
//! (`broker_wire::json`, documented in `docs/wire.md`), so that one mapping serves the
//! tools and the WebSocket API. A value is `{"@data-type":...,"data":...}`; a message
//! is a v1 data message `{"type":"data-message","topic":...,"@data-type":...,"data":...}`.

use broker_wire::json::{to_json as encode, DataMessage, Decoder, JsonError};
use broker_wire::{Data, Topic};
use serde_json::Value;

use crate::error::CliError;

/// The JSON form of `data`, for embedding in other JSON. Values JSON cannot carry
/// (NaN, infinities, strings that are not UTF-8) are an error.
pub fn to_json(data: &Data) -> Result<Value, CliError> {
    let text = encode(data).map_err(|e| invalid(data, e))?;
    Ok(serde_json::from_str(&text).expect("the encoder writes valid JSON"))
}

/// The Broker value a JSON value stands for.
pub fn from_json(value: &Value) -> Result<Data, CliError> {
    parse_value(&value.to_string())
}

/// The Broker value a JSON value stands for, where a bare JSON string may also stand
/// for itself as a Broker string (topology files, `--put KEY=VALUE`).
pub fn from_json_or_text(value: &Value) -> Result<Data, CliError> {
    match value {
        Value::String(text) => Ok(Data::string(text.as_str())),
        _ => from_json(value),
    }
}

/// Parses one line of JSON into a Broker value.
pub fn parse_value(line: &str) -> Result<Data, CliError> {
    Decoder::default()
        .data(line.as_bytes())
        .map_err(|e| invalid(line, e))
}

/// Parses one line of `--json` input: a data message as `broker-pipe --mode subscribe
/// --json` prints them (its topic, and its value), or else a value (no topic).
pub fn parse_line(line: &str) -> Result<(Option<Topic>, Data), CliError> {
    match Decoder::default().data_message(line.as_bytes()) {
        Ok(message) => Ok((Some(message.topic), message.data)),
        Err(JsonError::MissingField { field: "topic", .. }) => Ok((None, parse_value(line)?)),
        Err(e) => Err(invalid(line, e)),
    }
}

/// One line of `--json` output: the data message of `data` on `topic`.
pub fn message_line(topic: &Topic, data: &Data) -> Result<String, CliError> {
    let message = DataMessage {
        topic: topic.clone(),
        data: data.clone(),
    };
    let mut line = String::new();
    message.encode(&mut line).map_err(|e| invalid(data, e))?;
    Ok(line)
}

fn invalid(what: impl std::fmt::Display, error: JsonError) -> CliError {
    CliError::Json {
        input: broker_wire::json::excerpt(what),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_messages_or_values() {
        let (topic, data) =
            parse_line(r#"{"type":"data-message","topic":"/a/b","@data-type":"count","data":1}"#)
                .unwrap();
        assert_eq!((topic.unwrap().as_str(), data), ("/a/b", Data::Count(1)));
        let (topic, data) = parse_line(r#"{"@data-type":"integer","data":-1}"#).unwrap();
        assert_eq!((topic, data), (None, Data::Integer(-1)));
        assert!(parse_line(r#"{"topic":"/a","@data-type":"count","data":-1}"#).is_err());
        assert!(parse_line(r#"{"topic":1,"@data-type":"count","data":1}"#).is_err());
        assert!(parse_line("[1]").is_err());
    }

    #[test]
    fn messages_print_as_v1_data_messages() {
        let line = message_line(&Topic::new("/t"), &Data::Count(1)).unwrap();
        assert_eq!(
            line,
            r#"{"type":"data-message","topic":"/t","@data-type":"count","data":1}"#
        );
        assert!(message_line(&Topic::new("/t"), &Data::Real(f64::NAN)).is_err());
    }

    #[test]
    fn embedded_values_read_back() {
        let data = Data::Vector(vec![Data::Count(1), Data::Real(2.5), Data::from("x")]);
        assert_eq!(from_json(&to_json(&data).unwrap()).unwrap(), data);
        assert_eq!(
            from_json_or_text(&Value::String("red".into())).unwrap(),
            Data::from("red")
        );
        assert!(from_json(&Value::String("red".into())).is_err());
        assert!(to_json(&Data::String(vec![0xff])).is_err());
    }
}
