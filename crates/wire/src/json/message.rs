//! The messages of the v1 API: the client's subscriptions, the server's ack, data
//! messages both ways and error messages.

use super::decode;
use super::encode::write_fields;
use super::error::{ErrorCode, JsonError};
use super::text::write_str;
use super::tree::Json;
use crate::{Data, Topic};

/// The client's first message: the topic prefixes it subscribes to, e.g.
/// `["/zeek/", "/test"]`. Empty means publish-only; `""` matches every topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscriptions(pub Vec<Topic>);

impl Subscriptions {
    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut String) {
        out.push('[');
        for (i, topic) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(topic.as_str(), out);
        }
        out.push(']');
    }

    pub(super) fn from_tree(tree: &Json<'_>) -> Result<Self, JsonError> {
        let Json::Array(items) = tree else {
            return Err(JsonError::SubscriptionsNotArray);
        };
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(Topic::new)
                    .ok_or(JsonError::SubscriptionNotString)
            })
            .collect::<Result<_, _>>()
            .map(Subscriptions)
    }
}

/// The server's answer to the subscriptions:
/// `{"type":"ack","endpoint":...,"version":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The server's endpoint id (Broker), or the client's own id (Zeek ≥ 8).
    pub endpoint: String,
    /// The server's version (Broker's or Zeek's).
    pub version: String,
}

impl Ack {
    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut String) {
        out.push_str("{\"type\":\"ack\",\"endpoint\":");
        write_str(&self.endpoint, out);
        out.push_str(",\"version\":");
        write_str(&self.version, out);
        out.push('}');
    }

    fn from_tree(tree: &Json<'_>) -> Result<Self, JsonError> {
        Ok(Ack {
            endpoint: string_field(tree, "endpoint", "an ack")?.to_owned(),
            version: string_field(tree, "version", "an ack")?.to_owned(),
        })
    }
}

/// A published value: `{"type":"data-message","topic":...,"@data-type":...,"data":...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataMessage {
    /// The topic it is published on.
    pub topic: Topic,
    /// The value.
    pub data: Data,
}

impl DataMessage {
    /// Appends the message to `out`. On error `out` is left as it was.
    pub fn encode(&self, out: &mut String) -> Result<(), JsonError> {
        let start = out.len();
        out.push_str("{\"type\":\"data-message\",\"topic\":");
        write_str(self.topic.as_str(), out);
        out.push(',');
        match write_fields(&self.data, 0, out) {
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

    /// Reads a data message; `type` and unknown fields are ignored, `topic` is required.
    pub(super) fn from_tree(tree: &Json<'_>) -> Result<Self, JsonError> {
        const WITHIN: &str = "a data message";
        Ok(DataMessage {
            topic: Topic::new(string_field(tree, "topic", WITHIN)?),
            data: decode::value(tree, 0, WITHIN)?,
        })
    }
}

/// An error report: `{"type":"error","code":...,"context":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    /// What kind of error.
    pub code: ErrorCode,
    /// What went wrong, for humans.
    pub context: String,
}

impl ErrorMessage {
    /// Appends the message to `out`.
    pub fn encode(&self, out: &mut String) {
        out.push_str("{\"type\":\"error\",\"code\":");
        write_str(self.code.as_str(), out);
        out.push_str(",\"context\":");
        write_str(&self.context, out);
        out.push('}');
    }

    /// Reads an error; Zeek 7.2.0 and 7.2.1 sent `message` instead of `context`.
    fn from_tree(tree: &Json<'_>) -> Result<Self, JsonError> {
        const WITHIN: &str = "an error message";
        let context = match tree.get("context").or_else(|| tree.get("message")) {
            Some(context) => context
                .as_str()
                .ok_or_else(|| JsonError::wrong_type("the context", "a string", context))?,
            None => {
                return Err(JsonError::MissingField {
                    field: "context",
                    within: WITHIN,
                })
            }
        };
        Ok(ErrorMessage {
            code: ErrorCode::from_wire(string_field(tree, "code", WITHIN)?),
            context: context.to_owned(),
        })
    }
}

impl From<&JsonError> for ErrorMessage {
    /// The error message telling a peer that its input (or our output) failed.
    fn from(error: &JsonError) -> Self {
        ErrorMessage {
            code: error.code(),
            context: error.to_string(),
        }
    }
}

/// Any message a server sends after the handshake began, told apart by `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// The handshake's answer.
    Ack(Ack),
    /// A published value.
    Data(DataMessage),
    /// An error report.
    Error(ErrorMessage),
}

impl ServerMessage {
    /// Appends the message to `out`. On error `out` is left as it was.
    pub fn encode(&self, out: &mut String) -> Result<(), JsonError> {
        match self {
            ServerMessage::Ack(ack) => ack.encode(out),
            ServerMessage::Data(message) => return message.encode(out),
            ServerMessage::Error(error) => error.encode(out),
        }
        Ok(())
    }

    pub(super) fn from_tree(tree: &Json<'_>) -> Result<Self, JsonError> {
        if !matches!(tree, Json::Object(_)) {
            return Err(JsonError::wrong_type(
                "a server message",
                "a JSON object",
                tree,
            ));
        }
        match string_field(tree, "type", "a server message")? {
            "ack" => Ack::from_tree(tree).map(ServerMessage::Ack),
            "data-message" => DataMessage::from_tree(tree).map(ServerMessage::Data),
            "error" => ErrorMessage::from_tree(tree).map(ServerMessage::Error),
            other => Err(JsonError::UnknownMessageType(super::error::excerpt(other))),
        }
    }
}

/// The string field `field` of the object `tree`, which is called `within` in errors.
fn string_field<'t>(
    tree: &'t Json<'_>,
    field: &'static str,
    within: &'static str,
) -> Result<&'t str, JsonError> {
    if !matches!(tree, Json::Object(_)) {
        return Err(JsonError::wrong_type(within, "a JSON object", tree));
    }
    let value = tree
        .get(field)
        .ok_or(JsonError::MissingField { field, within })?;
    value
        .as_str()
        .ok_or_else(|| JsonError::wrong_type(field, "a string", value))
}
