//! Length-prefixed postcard encoding of frames.
//!
//! On the wire every frame is `length: u32 big-endian | body: length bytes`, where
//! the body is the postcard encoding of a [`Frame`]. The announced length is checked
//! against [`FrameCodec::max_frame_len`] as soon as the four prefix bytes are there,
//! before anything is allocated or any more input is awaited.
//!
//! Decoding works on a byte slice holding whatever has arrived so far:
//! [`FrameCodec::decode`] returns `Ok(None)` until a whole frame is there, then the
//! frame and the number of bytes it took, which the caller drops from its buffer.
//! With the `tokio-codec` feature, [`FrameCodec`] also implements tokio-util's
//! `Decoder` and `Encoder`.
//!
//! Publishing to many peers encodes each message once: [`encode_message`] gives the
//! bytes of one [`DataMessage`], and [`FrameCodec::write_batch_frame`] concatenates
//! such encodings into a [`Frame::Batch`] frame, byte for byte what encoding the
//! frame itself would give.

use std::ops::DerefMut;

use postcard::ser_flavors::Flavor;
use serde::Serialize;

use serde::de::DeserializeSeed;

use crate::data::encoding::Validate;
use crate::data::{Data, EncodedData, Payload};
use crate::error::WireError;
use crate::frame::{peek_hello_version, tag, DataMessage, Frame, Hello, NodeId, PROTOCOL_VERSION};
use crate::limits::{take_too_deep, PreallocScope, MAX_DEPTH};
use crate::topic::Topic;

/// Bytes of the length prefix in front of every frame body.
pub const LENGTH_PREFIX_LEN: usize = 4;

/// The default cap on frame bodies: 16 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 << 20;

/// Encodes and decodes length-prefixed frames, refusing bodies above a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    /// The largest frame body accepted or produced, in bytes; values above
    /// `u32::MAX` act as `u32::MAX`, the most a prefix can announce.
    pub max_frame_len: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameCodec {
    /// A codec refusing frame bodies longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameCodec { max_frame_len }
    }

    /// The effective cap.
    fn cap(&self) -> usize {
        self.max_frame_len.min(u32::MAX as usize)
    }

    /// The body length announced by the prefix at the start of `buf`, checked against
    /// the cap; `Ok(None)` while fewer than four bytes have arrived.
    pub fn announced_len(&self, buf: &[u8]) -> Result<Option<usize>, WireError> {
        let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > self.cap() {
            return Err(WireError::FrameTooLarge {
                len,
                cap: self.cap(),
            });
        }
        Ok(Some(len))
    }

    /// The body of the first frame in `buf` and the bytes the whole frame takes, or
    /// `Ok(None)` while the frame is incomplete.
    pub fn split_frame<'a>(&self, buf: &'a [u8]) -> Result<Option<(&'a [u8], usize)>, WireError> {
        let Some(len) = self.announced_len(buf)? else {
            return Ok(None);
        };
        let end = LENGTH_PREFIX_LEN + len;
        Ok(buf.get(LENGTH_PREFIX_LEN..end).map(|body| (body, end)))
    }

    /// Decodes the first frame in `buf`: the frame and the bytes it took, or
    /// `Ok(None)` while the frame is incomplete.
    pub fn decode(&self, buf: &[u8]) -> Result<Option<(Frame, usize)>, WireError> {
        let Some((body, used)) = self.split_frame(buf)? else {
            return Ok(None);
        };
        Ok(Some((decode_body(body)?, used)))
    }

    /// Decodes the first frame of a connection, which must be a [`Hello`] of our
    /// protocol version. The version is checked before the rest of the frame is
    /// parsed, so a peer of another version gets [`WireError::Incompatible`] even if
    /// its handshake has a different layout after the version.
    pub fn decode_handshake(&self, buf: &[u8]) -> Result<Option<(Hello, usize)>, WireError> {
        let Some((body, used)) = self.split_frame(buf)? else {
            return Ok(None);
        };
        let version = peek_hello_version(body)?;
        if version != PROTOCOL_VERSION {
            return Err(WireError::Incompatible(format!(
                "peer speaks protocol version {version}, we speak {PROTOCOL_VERSION}"
            )));
        }
        match decode_body(body)? {
            Frame::Hello(hello) => Ok(Some((hello, used))),
            // Unreachable given the peeked tag; refusing beats panicking.
            other => Err(WireError::Incompatible(format!(
                "first frame has tag {}",
                other.tag()
            ))),
        }
    }

    /// Appends `frame`, length prefix included, to `out`. On error `out` is left as
    /// it was.
    pub fn encode<S: ByteSink>(&self, frame: &Frame, out: &mut S) -> Result<(), WireError> {
        let start = out.len();
        out.put(&[0; LENGTH_PREFIX_LEN]);
        if let Err(e) = append_postcard(frame, out) {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start - LENGTH_PREFIX_LEN;
        if len > self.cap() {
            out.truncate(start);
            return Err(WireError::FrameTooLarge {
                len,
                cap: self.cap(),
            });
        }
        out[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// Appends a [`Frame::Batch`] frame made of messages already encoded with
    /// [`encode_message`], in order. Fails with [`WireError::FrameTooLarge`] (leaving
    /// `out` untouched) if the batch exceeds the cap; split it then.
    pub fn write_batch_frame<S: ByteSink, B: AsRef<[u8]>>(
        &self,
        messages: &[B],
        out: &mut S,
    ) -> Result<(), WireError> {
        let mut count = [0; MAX_VARINT_LEN];
        let count = write_varint(messages.len() as u64, &mut count);
        let len = 1 + count.len() + messages.iter().map(|m| m.as_ref().len()).sum::<usize>();
        if len > self.cap() {
            return Err(WireError::FrameTooLarge {
                len,
                cap: self.cap(),
            });
        }
        out.put(&(len as u32).to_be_bytes());
        out.put(&[tag::BATCH]);
        out.put(count);
        for message in messages {
            out.put(message.as_ref());
        }
        Ok(())
    }
}

/// Decodes a frame body (without its length prefix), which must be consumed
/// entirely.
pub fn decode_body(body: &[u8]) -> Result<Frame, WireError> {
    decode_exact(body)
}

/// The messages of a [`Frame::Batch`] body with their containers (vectors, sets,
/// tables) left encoded, each checked to decode exactly as [`decode_body`] would decode
/// it (so the same input is refused); other values are decoded at once, which costs no
/// more than checking them. `Ok(None)` if the body is another frame. Receivers queue the
/// bytes and decode them where they are consumed.
pub fn decode_batch_lazily(body: &[u8]) -> Result<Option<Vec<DataMessage<Payload>>>, WireError> {
    let Some((&tag::BATCH, rest)) = body.split_first() else {
        return Ok(None);
    };
    take_too_deep();
    let (count, mut rest) = postcard::take_from_bytes::<usize>(rest).map_err(postcard_error)?;
    // Every message takes more than one byte: a lying count cannot allocate more.
    let mut messages = Vec::with_capacity(count.min(rest.len()));
    for _ in 0..count {
        let ((origin, id, ttl, topic), value) =
            postcard::take_from_bytes::<(NodeId, u64, u16, Topic)>(rest).map_err(postcard_error)?;
        // Containers' variant indexes (12-14) take one byte.
        let data = if matches!(value.first(), Some(12..=14)) {
            // Values made of our writer's pieces pass a quick check; anything else (or
            // anything wrong) is checked by decoding's rules, which say what is wrong.
            let len = match EncodedData::accepted_len(value) {
                Some(len) => len,
                None => {
                    let mut validate = postcard::Deserializer::from_bytes(value);
                    Validate { depth: 0 }
                        .deserialize(&mut validate)
                        .map_err(postcard_error)?;
                    value.len() - validate.finalize().map_err(postcard_error)?.len()
                }
            };
            rest = &value[len..];
            Payload::Encoded(EncodedData::received(&value[..len]))
        } else {
            let (data, after) = postcard::take_from_bytes::<Data>(value).map_err(postcard_error)?;
            rest = after;
            Payload::Value(data)
        };
        messages.push(DataMessage {
            origin,
            id,
            ttl,
            topic,
            data,
        });
    }
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(Some(messages))
}

/// Decodes a `T` taking all of `bytes`.
pub(crate) fn decode_exact<'de, T: serde::Deserialize<'de>>(
    bytes: &'de [u8],
) -> Result<T, WireError> {
    take_too_deep();
    let _prealloc = PreallocScope::new(bytes.len());
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(postcard_error)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

/// Appends the encoding of one message, as it appears inside a
/// [`Frame::Batch`] body, to `out`. On error `out` is left as it was.
pub fn encode_message<S: ByteSink>(message: &DataMessage, out: &mut S) -> Result<(), WireError> {
    let start = out.len();
    append_postcard(message, out).inspect_err(|_| out.truncate(start))
}

/// [`encode_message`] for a message whose value may be encoded already: those bytes
/// follow the header as they are (the value is the message's last field), giving what
/// encoding the decoded message would give.
pub fn encode_payload_message<S: ByteSink>(
    message: &DataMessage<Payload>,
    out: &mut S,
) -> Result<(), WireError> {
    let DataMessage {
        origin,
        id,
        ttl,
        topic,
        data,
    } = message;
    let start = out.len();
    let written = match data {
        Payload::Value(data) => append_postcard(&(origin, id, ttl, topic, data), out),
        Payload::Encoded(encoded) => {
            append_postcard(&(origin, id, ttl, topic), out).map(|()| out.put(encoded.as_bytes()))
        }
    };
    written.inspect_err(|_| out.truncate(start))
}

/// A growable byte buffer frames can be appended to.
pub trait ByteSink: DerefMut<Target = [u8]> {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn put_byte(&mut self, byte: u8) {
        self.put(&[byte]);
    }
    /// Shortens the buffer to `len` bytes.
    fn truncate(&mut self, len: usize);
}

impl ByteSink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }

    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
}

/// A postcard output appending to a [`ByteSink`].
struct Append<'a, S>(&'a mut S);

impl<S: ByteSink> Flavor for Append<'_, S> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.put_byte(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // Most pieces are one-byte varints (variant indexes, lengths, small numbers):
        // pushed, they skip a call to `memcpy`.
        match bytes {
            [byte] => self.0.put_byte(*byte),
            _ => self.0.put(bytes),
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends the postcard encoding of `value` to `out`.
pub(crate) fn append_postcard<T: Serialize, S: ByteSink>(
    value: &T,
    out: &mut S,
) -> Result<(), WireError> {
    take_too_deep();
    postcard::serialize_with_flavor(value, Append(out)).map_err(postcard_error)
}

/// Turns a postcard error into ours, recognising values refused for nesting too deep.
fn postcard_error(e: postcard::Error) -> WireError {
    let custom = matches!(
        e,
        postcard::Error::SerdeDeCustom | postcard::Error::SerdeSerCustom
    );
    if custom && take_too_deep() {
        WireError::TooDeep(MAX_DEPTH)
    } else {
        WireError::Malformed(e)
    }
}

/// The longest varint encoding of a `u64`.
const MAX_VARINT_LEN: usize = 10;

/// Writes `value` as postcard's varint (7 bits per byte, least significant first, high
/// bit set on all but the last byte) into `buf`; returns the bytes written.
fn write_varint(mut value: u64, buf: &mut [u8; MAX_VARINT_LEN]) -> &[u8] {
    let mut len = 0;
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            buf[len] = low;
            return &buf[..=len];
        }
        buf[len] = low | 0x80;
        len += 1;
    }
}

/// Fuzzing entry point: decodes `bytes` as a stream of frames and checks, for every
/// frame decoded, that a truncated copy decodes as incomplete and that its
/// re-encoding decodes to the same frame. Also runs the handshake decoder on `bytes`.
/// Never panics unless the codec is broken.
pub fn exercise_decode(bytes: &[u8]) {
    let codec = FrameCodec::new(1 << 20);
    let _ = codec.decode_handshake(bytes);
    if let Ok(Some((body, _))) = codec.split_frame(bytes) {
        check_lazy_batch(body);
    }
    let mut rest = bytes;
    while let Ok(Some((frame, used))) = codec.decode(rest) {
        assert!(
            (LENGTH_PREFIX_LEN..=rest.len()).contains(&used),
            "consumed {used} of {} bytes",
            rest.len()
        );
        assert!(
            matches!(codec.decode(&rest[..used - 1]), Ok(None)),
            "a truncated frame must be incomplete"
        );
        let mut encoded = Vec::new();
        codec
            .encode(&frame, &mut encoded)
            .expect("a decoded frame re-encodes");
        let (again, again_used) = codec
            .decode(&encoded)
            .expect("a re-encoded frame decodes")
            .expect("a re-encoded frame is complete");
        assert_eq!(again, frame, "re-encoding changed the frame");
        assert_eq!(again_used, encoded.len());
        rest = &rest[used..];
    }
}

/// Checks that [`decode_batch_lazily`] accepts exactly the batch bodies
/// [`decode_body`] accepts, with the same messages.
fn check_lazy_batch(body: &[u8]) {
    match (decode_body(body), decode_batch_lazily(body)) {
        (Ok(Frame::Batch(messages)), Ok(Some(lazy))) => {
            assert_eq!(messages.len(), lazy.len(), "as many messages");
            for (m, l) in messages.iter().zip(&lazy) {
                assert_eq!(
                    (m.origin, m.id, m.ttl, &m.topic),
                    (l.origin, l.id, l.ttl, &l.topic)
                );
                assert_eq!(m.data, *l.data.to_data(), "the same value");
            }
        }
        (Ok(Frame::Batch(_)), lazy) => panic!("a batch decoded, lazily not: {lazy:?}"),
        (Ok(_) | Err(_), Ok(None)) | (Err(_), Err(_)) => {}
        (decoded, lazy) => panic!("decoded {decoded:?}, lazily {lazy:?}"),
    }
}

#[cfg(feature = "tokio-codec")]
mod tokio_codec {
    //! tokio-util `Decoder`/`Encoder` for [`FrameCodec`] over `BytesMut`.

    use bytes::{Buf, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};

    use super::{ByteSink, FrameCodec, LENGTH_PREFIX_LEN};
    use crate::error::WireError;
    use crate::frame::Frame;

    impl ByteSink for BytesMut {
        fn put(&mut self, bytes: &[u8]) {
            self.extend_from_slice(bytes);
        }

        fn put_byte(&mut self, byte: u8) {
            bytes::BufMut::put_u8(self, byte);
        }

        fn truncate(&mut self, len: usize) {
            BytesMut::truncate(self, len);
        }
    }

    impl Decoder for FrameCodec {
        type Item = Frame;
        type Error = WireError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, WireError> {
            if let Some((frame, used)) = FrameCodec::decode(self, src)? {
                src.advance(used);
                return Ok(Some(frame));
            }
            // The announced length passed the cap: make room for the whole frame.
            if let Some(len) = self.announced_len(src)? {
                src.reserve(LENGTH_PREFIX_LEN + len - src.len());
            }
            Ok(None)
        }
    }

    impl Encoder<Frame> for FrameCodec {
        type Error = WireError;

        fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), WireError> {
            FrameCodec::encode(self, &frame, dst)
        }
    }
}
