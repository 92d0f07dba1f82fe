//! How data messages travel on a WebSocket link: one JSON v1 data message per text
//! frame. The encoding puts each message's JSON text in the link's outbox, one per
//! line (JSON text never holds a raw newline: the encoder escapes every control
//! character), and the session's writer sends each line as one frame.

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::json::{self, ErrorMessage};
use broker_wire::Payload;
use bytes::Bytes;

use crate::link::{Encoder, Encoding};

/// Separates the JSON texts in an outbox entry.
pub(super) const SEPARATOR: u8 = b'\n';

/// The encoding of WebSocket links. It has no control frames: a WebSocket client
/// states its subscriptions once and hears nothing of ours, and the session's writer
/// ends the connection with a close frame.
pub(crate) struct JsonLines;

/// The one instance links point to.
pub(crate) static JSON: JsonLines = JsonLines;

impl Encoding for JsonLines {
    /// Broker's name for these connections (the `type` of `broker_connections`).
    fn name(&self) -> &'static str {
        super::PEER_TYPE
    }

    fn encoder(&self, _: NodeId, messages: usize, _max_frame_len: usize) -> Box<dyn Encoder> {
        Box::new(JsonEncoder {
            text: String::new(),
            spans: vec![None; messages],
        })
    }
}

/// Encodes each message at most once per batch, however many clients want it.
struct JsonEncoder {
    /// The lines encoded so far, back to back.
    text: String,
    /// Where each message's line is in `text`, once encoded.
    spans: Vec<Option<(usize, usize)>>,
}

impl JsonEncoder {
    /// The span of message `i`'s line, encoding it first if needed. A value JSON
    /// cannot carry (a NaN, a string that is not UTF-8) becomes the error message
    /// Broker sends in its place, so the client learns of it.
    fn line(&mut self, messages: &[DataMessage<Payload>], i: usize) -> (usize, usize) {
        if let Some(span) = self.spans[i] {
            return span;
        }
        let start = self.text.len();
        let message = json::DataMessage {
            topic: messages[i].topic.clone(),
            data: messages[i].data.to_data().into_owned(),
        };
        if let Err(error) = message.encode(&mut self.text) {
            let mut reason = ErrorMessage::from(&error);
            reason.context = format!(
                "cannot send a message on topic {}: {}",
                messages[i].topic.as_str(),
                reason.context
            );
            reason.encode(&mut self.text);
        }
        self.text.push(SEPARATOR as char);
        let span = (start, self.text.len());
        self.spans[i] = Some(span);
        span
    }

    fn lines(&mut self, messages: &[DataMessage<Payload>], selected: &[usize]) -> Bytes {
        let spans: Vec<(usize, usize)> = selected.iter().map(|&i| self.line(messages, i)).collect();
        let mut out = Vec::with_capacity(spans.iter().map(|(a, b)| b - a).sum());
        for (start, end) in spans {
            out.extend_from_slice(&self.text.as_bytes()[start..end]);
        }
        Bytes::from(out)
    }
}

impl Encoder for JsonEncoder {
    fn encode(
        &mut self,
        messages: &[DataMessage<Payload>],
        selected: &[usize],
        _: NodeId,
    ) -> (Bytes, usize) {
        (self.lines(messages, selected), selected.len())
    }
}

#[cfg(test)]
mod tests {
    use broker_wire::{Data, Topic};

    use super::*;

    fn message(topic: &str, data: Data) -> DataMessage<Payload> {
        DataMessage {
            origin: NodeId([1; 16]),
            id: 1,
            ttl: 20,
            topic: Topic::from(topic),
            data: data.into(),
        }
    }

    #[test]
    fn one_line_per_message_and_an_error_line_for_what_json_cannot_carry() {
        let messages = [
            message("/a", Data::Count(1)),
            message("/b", Data::String("x\ny".into())),
            message("/c", Data::Real(f64::NAN)),
        ];
        let node = messages[0].origin;
        let mut encoder = JSON.encoder(node, messages.len(), 1 << 20);
        let (bytes, count) = encoder.encode(&messages, &[0, 1, 2], node);
        assert_eq!(count, 3);
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..2],
            [
                r#"{"type":"data-message","topic":"/a","@data-type":"count","data":1}"#,
                r#"{"type":"data-message","topic":"/b","@data-type":"string","data":"x\ny"}"#,
            ]
        );
        assert!(
            lines[2].starts_with(r#"{"type":"error","code":"serialization_failed","context":"cannot send a message on topic /c: "#),
            "{}",
            lines[2]
        );
        // A subset reuses the lines already encoded.
        let (subset, count) = encoder.encode(&messages, &[1], node);
        assert_eq!((subset, count), (Bytes::from(format!("{}\n", lines[1])), 1));
    }
}
