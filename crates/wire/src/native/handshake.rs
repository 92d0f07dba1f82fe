//! The handshake messages of phases 1–2 ([`Handshake`]): a tag byte (6–12), then the
//! fields. hello, probe, version_select and drop_conn open with the magic number.
//!
//! Decoding checks what Broker checks, in Broker's order: the tag, the fields, then the
//! magic number, then the versions. Bytes after the fields are ignored, as Broker
//! ignores them.

use super::bin::{put_bytes, put_filter, put_u32, Reader};
use super::codes::{MessageType, BROKER_RS_VERSION, MAGIC, PROTOCOL_VERSION};
use super::error::{Malformation, NativeError};
use super::ids::EndpointId;
use crate::codec::ByteSink;
use crate::codes::ErrorCode;
use crate::topic::Topic;

/// A hello: the sender and the protocol versions it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The sender's endpoint id.
    pub sender: EndpointId,
    /// The lowest version the sender speaks.
    pub min_version: u8,
    /// The highest version the sender speaks.
    pub max_version: u8,
}

impl Hello {
    /// The hello Broker sends: exactly our version.
    pub fn new(sender: EndpointId) -> Self {
        Hello {
            sender,
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
        }
    }
}

/// A drop_conn: the sender refuses the connection with a `broker::ec` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropConn {
    /// The sender's endpoint id.
    pub sender: EndpointId,
    /// The `ec` code as received; [`Handshake::check`] refuses one that is no
    /// [`ErrorCode`].
    pub code: u8,
    /// Why, for humans.
    pub description: String,
}

/// A message of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Tag 6: `magic u32, sender[16], min_version u8, max_version u8`.
    Hello(Hello),
    /// Tag 7: `magic u32`. The acceptor's first message.
    Probe,
    /// Tag 8: `magic u32, sender[16], selected_version u8`.
    VersionSelect {
        /// The originator.
        sender: EndpointId,
        /// The version picked.
        version: u8,
    },
    /// Tag 9: `magic u32, sender[16], code u8, description (varint length + bytes)`.
    DropConn(DropConn),
    /// Tag 10: the originator's filter (varint count, topics as varint length + bytes).
    OriginatorSyn(Vec<Topic>),
    /// Tag 11: the responder's filter, laid out as in `OriginatorSyn`.
    ResponderSynAck(Vec<Topic>),
    /// Tag 12: no fields; phase 3 follows on the same stream.
    OriginatorAck,
}

impl Handshake {
    /// The message's type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Handshake::Hello(_) => MessageType::Hello,
            Handshake::Probe => MessageType::Probe,
            Handshake::VersionSelect { .. } => MessageType::VersionSelect,
            Handshake::DropConn(_) => MessageType::DropConn,
            Handshake::OriginatorSyn(_) => MessageType::OriginatorSyn,
            Handshake::ResponderSynAck(_) => MessageType::ResponderSynAck,
            Handshake::OriginatorAck => MessageType::OriginatorAck,
        }
    }

    /// Appends the message body (tag and fields, no length prefix); on error `out` is
    /// unchanged.
    pub fn encode<S: ByteSink>(&self, out: &mut S) -> Result<(), NativeError> {
        let start = out.len();
        self.put(out).inspect_err(|_| out.truncate(start))
    }

    fn put<S: ByteSink>(&self, out: &mut S) -> Result<(), NativeError> {
        out.put_byte(self.message_type() as u8);
        match self {
            Handshake::Hello(hello) => {
                put_u32(out, MAGIC);
                out.put(&hello.sender.0);
                out.put(&[hello.min_version, hello.max_version]);
            }
            Handshake::Probe => put_u32(out, MAGIC),
            Handshake::VersionSelect { sender, version } => {
                put_u32(out, MAGIC);
                out.put(&sender.0);
                out.put_byte(*version);
            }
            Handshake::DropConn(drop) => {
                put_u32(out, MAGIC);
                out.put(&drop.sender.0);
                out.put_byte(drop.code);
                put_bytes(out, drop.description.as_bytes())?;
            }
            Handshake::OriginatorSyn(filter) | Handshake::ResponderSynAck(filter) => {
                put_filter(out, filter)?;
            }
            Handshake::OriginatorAck => {}
        }
        Ok(())
    }

    /// Decodes a handshake body and checks it as Broker does. The error's
    /// [`ec`](NativeError::ec) and [`description`](NativeError::description) are what
    /// goes into the `drop_conn` answering it.
    pub fn decode(body: &[u8]) -> Result<Handshake, NativeError> {
        let (&tag, fields) = body.split_first().ok_or(NativeError::EmptyFrame)?;
        let kind = MessageType::try_from(tag)
            .ok()
            .filter(|kind| (*kind as u8) >= MessageType::Hello as u8)
            .ok_or(NativeError::UnknownMessageType(tag))?;
        let mut reader = Reader::new(fields);
        let (message, magic) =
            Self::fields(kind, &mut reader).map_err(|reason| NativeError::Malformed {
                what: broker_name(kind),
                reason,
            })?;
        if let Some(magic) = magic.filter(|&magic| magic != MAGIC) {
            return Err(NativeError::WrongMagic(magic));
        }
        message.check()?;
        Ok(message)
    }

    /// Reads the fields of a message of type `kind`, and its magic number if it has one.
    fn fields(
        kind: MessageType,
        reader: &mut Reader<'_>,
    ) -> Result<(Handshake, Option<u32>), Malformation> {
        Ok(match kind {
            MessageType::Hello => {
                let magic = reader.u32()?;
                let sender = reader.endpoint()?;
                let [min_version, max_version] = reader.array()?;
                let hello = Hello {
                    sender,
                    min_version,
                    max_version,
                };
                (Handshake::Hello(hello), Some(magic))
            }
            MessageType::Probe => (Handshake::Probe, Some(reader.u32()?)),
            MessageType::VersionSelect => {
                let magic = reader.u32()?;
                let sender = reader.endpoint()?;
                let version = reader.u8()?;
                (Handshake::VersionSelect { sender, version }, Some(magic))
            }
            MessageType::DropConn => {
                let magic = reader.u32()?;
                let sender = reader.endpoint()?;
                let code = reader.u8()?;
                let description = String::from_utf8_lossy(reader.bytes()?).into_owned();
                let drop = DropConn {
                    sender,
                    code,
                    description,
                };
                (Handshake::DropConn(drop), Some(magic))
            }
            MessageType::OriginatorSyn => (Handshake::OriginatorSyn(reader.filter()?), None),
            MessageType::ResponderSynAck => (Handshake::ResponderSynAck(reader.filter()?), None),
            // `decode` admits only handshake types.
            _ => (Handshake::OriginatorAck, None),
        })
    }

    /// Broker's checks beyond parsing: versions we speak (Broker's, and in version_select
    /// also [`BROKER_RS_VERSION`]), `ec` codes it knows.
    pub fn check(&self) -> Result<(), NativeError> {
        match self {
            Handshake::Hello(hello)
                if !(hello.min_version..=hello.max_version).contains(&PROTOCOL_VERSION) =>
            {
                Err(NativeError::UnsupportedVersions {
                    min: hello.min_version,
                    max: hello.max_version,
                })
            }
            Handshake::VersionSelect { version, .. }
                if *version != PROTOCOL_VERSION && *version != BROKER_RS_VERSION =>
            {
                Err(NativeError::UnsupportedVersionSelected(*version))
            }
            Handshake::DropConn(drop) if ErrorCode::from_u8(drop.code).is_none() => {
                Err(NativeError::UnknownDropCode {
                    code: drop.code,
                    description: drop.description.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// Broker's name of a handshake message, as its "failed to parse" descriptions use it.
fn broker_name(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Hello => "hello_msg",
        MessageType::Probe => "probe_msg",
        MessageType::VersionSelect => "version_select_msg",
        MessageType::DropConn => "drop_conn_msg",
        MessageType::OriginatorSyn => "v1::originator_syn_msg",
        MessageType::ResponderSynAck => "v1::responder_syn_ack_msg",
        _ => "v1::originator_ack_msg",
    }
}
