//! Framing of native messages: `u32` big-endian body length, then the body (a
//! [`Handshake`] in phases 1–2, an [`Envelope`] in phase 3). The length is checked
//! against the cap as soon as its four bytes are there, before anything is allocated;
//! a partial frame decodes as `Ok(None)`. The length prefix is the same as that of
//! broker-rs's own frames, so [`FrameCodec`] splits both.

use super::envelope::{Envelope, Header};
use super::error::NativeError;
use super::handshake::Handshake;
use crate::codec::{ByteSink, FrameCodec, LENGTH_PREFIX_LEN};
use crate::data::Data;
use crate::error::WireError;

/// Encodes and decodes length-prefixed native frames, refusing bodies above a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NativeCodec {
    frames: FrameCodec,
}

impl NativeCodec {
    /// A codec refusing frame bodies longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        NativeCodec {
            frames: FrameCodec::new(max_frame_len),
        }
    }

    /// The body of the first frame in `buf` and the bytes the whole frame takes, or
    /// `Ok(None)` while the frame is incomplete.
    pub fn split_frame<'a>(&self, buf: &'a [u8]) -> Result<Option<(&'a [u8], usize)>, NativeError> {
        self.frames.split_frame(buf).map_err(|e| match e {
            WireError::FrameTooLarge { len, cap } => NativeError::FrameTooLarge { len, cap },
            // `split_frame` fails only on the cap.
            other => unreachable!("split_frame failed with {other}"),
        })
    }

    /// Decodes the first frame in `buf` as a handshake message.
    pub fn decode_handshake(&self, buf: &[u8]) -> Result<Option<(Handshake, usize)>, NativeError> {
        self.decode_with(buf, Handshake::decode)
    }

    /// Decodes the first frame in `buf` as an envelope.
    pub fn decode_envelope(&self, buf: &[u8]) -> Result<Option<(Envelope, usize)>, NativeError> {
        self.decode_with(buf, Envelope::decode)
    }

    fn decode_with<T>(
        &self,
        buf: &[u8],
        decode: impl FnOnce(&[u8]) -> Result<T, NativeError>,
    ) -> Result<Option<(T, usize)>, NativeError> {
        let Some((body, used)) = self.split_frame(buf)? else {
            return Ok(None);
        };
        Ok(Some((decode(body)?, used)))
    }

    /// Appends `message` with its length prefix; on error `out` is unchanged.
    pub fn encode_handshake<S: ByteSink>(
        &self,
        message: &Handshake,
        out: &mut S,
    ) -> Result<(), NativeError> {
        self.encode_with(out, |out| message.encode(out))
    }

    /// Appends `envelope` with its length prefix; on error `out` is unchanged.
    pub fn encode_envelope<S: ByteSink>(
        &self,
        envelope: &Envelope,
        out: &mut S,
    ) -> Result<(), NativeError> {
        self.encode_with(out, |out| envelope.encode(out))
    }

    /// Appends a data envelope with `header` carrying `data`, with its length prefix;
    /// on error (a value nested too deep, a frame above the cap) `out` is unchanged.
    pub fn encode_data<S: ByteSink>(
        &self,
        header: &Header<'_>,
        data: &Data,
        out: &mut S,
    ) -> Result<(), NativeError> {
        self.encode_with(out, |out| header.put_data(data, out))
    }

    /// Appends a command envelope with `header` carrying the encoded
    /// `internal_command` `payload`, with its length prefix; on error (a frame above the
    /// cap) `out` is unchanged.
    pub fn encode_command<S: ByteSink>(
        &self,
        header: &Header<'_>,
        payload: &[u8],
        out: &mut S,
    ) -> Result<(), NativeError> {
        self.encode_with(out, |out| header.put_command(payload, out))
    }

    fn encode_with<S: ByteSink>(
        &self,
        out: &mut S,
        body: impl FnOnce(&mut S) -> Result<(), NativeError>,
    ) -> Result<(), NativeError> {
        let start = out.len();
        out.put(&[0; LENGTH_PREFIX_LEN]);
        if let Err(e) = body(out) {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start - LENGTH_PREFIX_LEN;
        let cap = self.frames.max_frame_len.min(u32::MAX as usize);
        if len > cap {
            out.truncate(start);
            return Err(NativeError::FrameTooLarge { len, cap });
        }
        out[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }
}

/// Fuzzing entry point: decodes `bytes` as a stream of frames, each as a handshake
/// message and as an envelope, and checks for every message decoded that a truncated
/// frame is incomplete and that its re-encoding decodes to the same message. Never
/// panics unless the codec is broken.
pub fn exercise_decode(bytes: &[u8]) {
    let codec = NativeCodec::new(1 << 20);
    let mut rest = bytes;
    while let Ok(Some((body, used))) = codec.split_frame(rest) {
        assert!(
            matches!(codec.split_frame(&rest[..used - 1]), Ok(None)),
            "a truncated frame must be incomplete"
        );
        if let Ok(message) = Handshake::decode(body) {
            let mut encoded = Vec::new();
            codec
                .encode_handshake(&message, &mut encoded)
                .expect("a decoded handshake message re-encodes");
            let again = codec.decode_handshake(&encoded);
            assert_eq!(again, Ok(Some((message, encoded.len()))));
        }
        if let Ok(envelope) = Envelope::decode(body) {
            let mut encoded = Vec::new();
            codec
                .encode_envelope(&envelope, &mut encoded)
                .expect("a decoded envelope re-encodes");
            let (again, again_used) = codec
                .decode_envelope(&encoded)
                .expect("a re-encoded envelope decodes")
                .expect("a re-encoded envelope is complete");
            assert_eq!(again, envelope, "re-encoding changed the envelope");
            assert_eq!(again_used, encoded.len());
        }
        rest = &rest[used..];
    }
}
