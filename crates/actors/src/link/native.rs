//! Broker's native protocol as a link encoding ([`NATIVE`]): one envelope per message,
//! sent by this endpoint to every subscribed peer (receiver nil), as Broker sends what
//! it publishes or forwards. A store command the data path carries wrapped
//! (`broker_store::messages::broker_command_to_data`) goes out as a command envelope;
//! the commands name their receivers themselves. Every link of this encoding wants the same bytes for a
//! message, so each is encoded once per batch and shared; control frames are
//! routing_update (our filter), ping (keepalive) and the "BYE" ping (goodbye).

use broker_store::messages::broker_command_payload;
use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::native::{Content, EndpointId, Envelope, Header, NativeCodec};
use broker_wire::{Payload, Topic};
use bytes::Bytes;

use super::encoding::{Encoder, Encoding};

/// Broker's native envelopes.
pub(crate) struct NativeEnvelopes;

/// The encoding of the links to Broker (Zeek) endpoints.
pub(crate) static NATIVE: NativeEnvelopes = NativeEnvelopes;

/// The BYE token we send: only its sender compares it, and we close without waiting
/// for the pong, so any value does.
const BYE_TOKEN: u64 = 1;

impl NativeEnvelopes {
    fn control(&self, from: NodeId, to: NodeId, content: Content) -> Bytes {
        let envelope = Envelope::control(from, to, content);
        let mut out = Vec::new();
        NativeCodec::new(usize::MAX)
            .encode_envelope(&envelope, &mut out)
            .map(|()| Bytes::from(out))
            // Topics are checked when subscribing (u16 lengths); a filter too long for
            // one frame would be a bug of ours.
            .expect("control envelopes are encodable")
    }
}

impl Encoding for NativeEnvelopes {
    fn name(&self) -> &'static str {
        "native"
    }

    fn encoder(&self, from: NodeId, messages: usize, max_frame_len: usize) -> Box<dyn Encoder> {
        Box::new(NativeEncoder {
            sender: from,
            codec: NativeCodec::new(max_frame_len),
            bytes: Vec::new(),
            spans: vec![None; messages],
        })
    }

    fn filter(&self, from: NodeId, to: NodeId, topics: &[Topic]) -> Option<Bytes> {
        Some(self.control(from, to, Content::RoutingUpdate(topics.to_vec())))
    }

    fn ping(&self, from: NodeId, to: NodeId, nonce: u64) -> Option<Bytes> {
        let payload = nonce.to_be_bytes().to_vec();
        Some(self.control(from, to, Content::Ping(payload)))
    }

    fn goodbye(&self, from: NodeId, to: NodeId) -> Option<Bytes> {
        let bye = Envelope::bye(from, to, BYE_TOKEN);
        let mut out = Vec::new();
        NativeCodec::new(usize::MAX)
            .encode_envelope(&bye, &mut out)
            .expect("a BYE ping is encodable");
        Some(Bytes::from(out))
    }
}

/// Encodes each message of a batch once, as a whole frame every link shares.
struct NativeEncoder {
    sender: EndpointId,
    codec: NativeCodec,
    bytes: Vec<u8>,
    /// Byte range of each message's frame in `bytes`, once encoded; `Some((0, 0))`
    /// marks a message that cannot be encoded (too deep, above the cap).
    spans: Vec<Option<(usize, usize)>>,
}

impl NativeEncoder {
    fn span(&mut self, message: &DataMessage<Payload>, index: usize) -> (usize, usize) {
        *self.spans[index].get_or_insert_with(|| {
            let start = self.bytes.len();
            let header = Header {
                sender: self.sender,
                receiver: EndpointId::NIL,
                ttl: message.ttl,
                topic: &message.topic,
            };
            let data = message.data.to_data();
            let encoded = match broker_command_payload(&data) {
                Some(command) => self.codec.encode_command(&header, command, &mut self.bytes),
                None => self.codec.encode_data(&header, &data, &mut self.bytes),
            };
            match encoded {
                Ok(()) => (start, self.bytes.len()),
                Err(_) => (0, 0),
            }
        })
    }

    fn frames(&mut self, messages: &[DataMessage<Payload>], selected: &[usize]) -> (Bytes, usize) {
        let mut out = Vec::new();
        let mut count = 0;
        for &index in selected {
            let (start, end) = self.span(&messages[index], index);
            if start < end {
                out.extend_from_slice(&self.bytes[start..end]);
                count += 1;
            }
        }
        (Bytes::from(out), count)
    }
}

impl Encoder for NativeEncoder {
    fn encode(
        &mut self,
        messages: &[DataMessage<Payload>],
        selected: &[usize],
        _: NodeId,
    ) -> (Bytes, usize) {
        self.frames(messages, selected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_wire::Data;

    #[test]
    fn each_message_is_one_envelope_from_us_to_every_subscriber() {
        let us = NodeId([3; 16]);
        let messages: Vec<DataMessage<Payload>> = (0..3)
            .map(|i| DataMessage {
                origin: NodeId([9; 16]),
                id: i,
                ttl: 16,
                topic: Topic::from("/t"),
                data: Data::from(i).into(),
            })
            .collect();
        let mut encoder = NATIVE.encoder(us, messages.len(), 1 << 20);
        let (bytes, count) = encoder.encode(&messages, &[0, 2], NodeId([5; 16]));
        assert_eq!(count, 2);
        let codec = NativeCodec::new(1 << 20);
        let (first, used) = codec.decode_envelope(&bytes).unwrap().unwrap();
        let (second, rest) = codec.decode_envelope(&bytes[used..]).unwrap().unwrap();
        assert_eq!(used + rest, bytes.len());
        let expected = |i: u64| Envelope {
            ttl: 16,
            ..Envelope::publish(EndpointId([3; 16]), Topic::from("/t"), Data::from(i))
        };
        assert_eq!((first, second), (expected(0), expected(2)));
    }
}
