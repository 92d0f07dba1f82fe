//! The phase-3 envelope: one per frame once the handshake is done.
//!
//! Layout: `sender[16] receiver[16] type u8 ttl u16 topic_len u16 topic payload`, the
//! payload running to the end of the frame. A data payload is exactly one `data`
//! value (trailing bytes are refused, as Broker drops such messages); a command is an
//! [`InternalCommand`]; a routing_update is the sender's whole new filter; ping and
//! pong carry opaque bytes. Command and routing_update payloads may carry trailing
//! bytes, which Broker does not check either.

use super::bin::{put_filter, put_u16, Reader};
use super::codes::MessageType;
use super::command::InternalCommand;
use super::data::{decode_data, encode_data};
use super::error::NativeError;
use super::ids::EndpointId;
use crate::codec::ByteSink;
use crate::data::Data;
use crate::topic::Topic;

/// The bytes in front of the topic.
pub const ENVELOPE_HEADER_LEN: usize = 37;

/// The TTL Broker writes (and never checks).
pub const DEFAULT_TTL: u16 = 16;

/// The topic of routing updates, pings and pongs.
pub const CONTROL_TOPIC: &str = "<$>";

/// What opens the payload of a ping asking the peer to unpeer (then an 8-byte id).
pub const BYE_PREFIX: &[u8; 3] = b"BYE";

/// What an envelope carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Type 1: a published value.
    Data(Data),
    /// Type 2: a store command.
    Command(InternalCommand),
    /// Type 3: the sender's full new filter, replacing the previous one.
    RoutingUpdate(Vec<Topic>),
    /// Type 4: answered by a pong with the same bytes.
    Ping(Vec<u8>),
    /// Type 5: the answer to a ping.
    Pong(Vec<u8>),
}

impl Content {
    /// The envelope type of this content.
    pub fn message_type(&self) -> MessageType {
        match self {
            Content::Data(_) => MessageType::Data,
            Content::Command(_) => MessageType::Command,
            Content::RoutingUpdate(_) => MessageType::RoutingUpdate,
            Content::Ping(_) => MessageType::Ping,
            Content::Pong(_) => MessageType::Pong,
        }
    }
}

/// One phase-3 message.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The last hop; Broker drops messages from a nil sender as "local".
    pub sender: EndpointId,
    /// The addressee, or nil to reach every peer subscribed to the topic.
    pub receiver: EndpointId,
    /// Hops left; carried, never checked.
    pub ttl: u16,
    /// The topic (`<$>` for control messages).
    pub topic: Topic,
    /// The payload.
    pub content: Content,
}

impl Envelope {
    /// A value published by `sender` on `topic` to every subscribed peer.
    pub fn publish(sender: EndpointId, topic: Topic, data: Data) -> Self {
        Envelope {
            sender,
            receiver: EndpointId::NIL,
            ttl: DEFAULT_TTL,
            topic,
            content: Content::Data(data),
        }
    }

    /// A control message (routing_update, ping, pong) from `sender` to `receiver`.
    pub fn control(sender: EndpointId, receiver: EndpointId, content: Content) -> Self {
        Envelope {
            sender,
            receiver,
            ttl: DEFAULT_TTL,
            topic: Topic::from(CONTROL_TOPIC),
            content,
        }
    }

    /// The ping asking `peer` to end the peering: "BYE" and `token` (Broker writes it in
    /// host order; only its sender compares it, so we fix little-endian).
    pub fn bye(sender: EndpointId, peer: EndpointId, token: u64) -> Self {
        let mut payload = BYE_PREFIX.to_vec();
        payload.extend_from_slice(&token.to_le_bytes());
        Envelope::control(sender, peer, Content::Ping(payload))
    }

    /// The pong answering this envelope if it is a ping: same bytes, sender and
    /// receiver swapped.
    pub fn pong(&self) -> Option<Envelope> {
        match &self.content {
            Content::Ping(payload) => Some(Envelope::control(
                self.receiver,
                self.sender,
                Content::Pong(payload.clone()),
            )),
            _ => None,
        }
    }

    /// Appends the envelope (no length prefix); on error `out` is unchanged.
    pub fn encode<S: ByteSink>(&self, out: &mut S) -> Result<(), NativeError> {
        let start = out.len();
        let header = Header {
            sender: self.sender,
            receiver: self.receiver,
            ttl: self.ttl,
            topic: &self.topic,
        };
        header.put(self.content.message_type(), out)?;
        let payload = match &self.content {
            Content::Data(data) => encode_data(data, out),
            Content::Command(command) => command.encode(out),
            Content::RoutingUpdate(filter) => put_filter(out, filter),
            Content::Ping(bytes) | Content::Pong(bytes) => {
                out.put(bytes);
                Ok(())
            }
        };
        payload.inspect_err(|_| out.truncate(start))
    }

    /// Decodes an envelope filling a whole frame body.
    pub fn decode(body: &[u8]) -> Result<Envelope, NativeError> {
        let header = |reason| NativeError::Malformed {
            what: "envelope",
            reason,
        };
        let mut reader = Reader::new(body);
        let sender = reader.endpoint().map_err(header)?;
        let receiver = reader.endpoint().map_err(header)?;
        let kind = reader.u8().map_err(header)?;
        let ttl = reader.u16().map_err(header)?;
        let topic_len = reader.u16().map_err(header)?;
        let topic = reader
            .topic_of_len(usize::from(topic_len))
            .map_err(header)?;
        let payload = reader.rest();
        let content = match MessageType::try_from(kind) {
            Ok(MessageType::Data) => Content::Data(decode_data(payload)?),
            Ok(MessageType::Command) => Content::Command(InternalCommand::decode(payload)?),
            Ok(MessageType::RoutingUpdate) => {
                Content::RoutingUpdate(Reader::new(payload).filter().map_err(|reason| {
                    NativeError::Malformed {
                        what: "routing_update",
                        reason,
                    }
                })?)
            }
            Ok(MessageType::Ping) => Content::Ping(payload.to_vec()),
            Ok(MessageType::Pong) => Content::Pong(payload.to_vec()),
            _ => return Err(NativeError::UnknownMessageType(kind)),
        };
        Ok(Envelope {
            sender,
            receiver,
            ttl,
            topic,
            content,
        })
    }
}

/// The fields in front of an envelope's payload, borrowed: what encoding a data
/// envelope without building an [`Envelope`] (and cloning its value) needs.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// The last hop.
    pub sender: EndpointId,
    /// The addressee, or nil.
    pub receiver: EndpointId,
    /// Hops left.
    pub ttl: u16,
    /// The topic.
    pub topic: &'a Topic,
}

impl Header<'_> {
    /// Appends the header of an envelope of type `kind`; on error `out` is unchanged.
    pub fn put<S: ByteSink>(&self, kind: MessageType, out: &mut S) -> Result<(), NativeError> {
        let topic = self.topic.as_str().as_bytes();
        let topic_len =
            u16::try_from(topic.len()).map_err(|_| NativeError::TopicTooLong(topic.len()))?;
        out.put(&self.sender.0);
        out.put(&self.receiver.0);
        out.put_byte(kind as u8);
        put_u16(out, self.ttl);
        put_u16(out, topic_len);
        out.put(topic);
        Ok(())
    }

    /// Appends a command envelope whose `internal_command` is encoded already
    /// (`payload`); on error `out` is unchanged.
    pub fn put_command<S: ByteSink>(&self, payload: &[u8], out: &mut S) -> Result<(), NativeError> {
        self.put(MessageType::Command, out)?;
        out.put(payload);
        Ok(())
    }

    /// Appends a data envelope carrying `data`; on error `out` is unchanged.
    pub fn put_data<S: ByteSink>(&self, data: &Data, out: &mut S) -> Result<(), NativeError> {
        let start = out.len();
        self.put(MessageType::Data, out)?;
        encode_data(data, out).inspect_err(|_| out.truncate(start))
    }
}

/// The token of a BYE ping payload made by [`Envelope::bye`], if it is one.
pub fn bye_token(payload: &[u8]) -> Option<u64> {
    let token = payload.strip_prefix(BYE_PREFIX.as_slice())?;
    Some(u64::from_le_bytes(token.try_into().ok()?))
}
