//! Frames on a byte stream, over `broker_wire::codec`: encoding control frames,
//! assembling batch frames from messages encoded once, and an async reader that
//! checks each announced length against the cap before allocating.

use broker_wire::codec::{encode_payload_message, FrameCodec, LENGTH_PREFIX_LEN};
use broker_wire::frame::{tag, DataMessage, Frame, Hello, MAGIC};
use broker_wire::{Payload, WireError};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Batches are cut into frames of about this many bytes, so that a huge publish batch
/// neither exceeds the receiver's cap nor delays the first bytes on the wire.
const FRAME_TARGET: usize = 256 * 1024;

/// Encodes a control frame with its length prefix.
pub(crate) fn encode_frame(frame: &Frame) -> Bytes {
    let mut out = Vec::new();
    FrameCodec::new(usize::MAX)
        .encode(frame, &mut out)
        .expect("control frames are small and always encodable");
    Bytes::from(out)
}

/// Messages encoded once into one buffer, from which frames for each peer are cut.
#[derive(Default)]
pub(crate) struct EncodedBatch {
    bytes: Vec<u8>,
    /// Byte range of each message in `bytes`, once encoded.
    spans: Vec<Option<(usize, usize)>>,
}

impl EncodedBatch {
    /// Room for `count` messages, none encoded yet.
    pub(crate) fn new(count: usize) -> Self {
        EncodedBatch {
            bytes: Vec::new(),
            spans: vec![None; count],
        }
    }

    /// The encoding of `messages[index]`, encoding it on first use; `None` if it
    /// cannot be encoded (nesting beyond the codec's limit).
    fn message(&mut self, messages: &[DataMessage<Payload>], index: usize) -> Option<&[u8]> {
        if self.spans[index].is_none() {
            let start = self.bytes.len();
            encode_payload_message(&messages[index], &mut self.bytes).ok()?;
            self.spans[index] = Some((start, self.bytes.len()));
        }
        let (start, end) = self.spans[index]?;
        Some(&self.bytes[start..end])
    }

    /// Batch frames, back to back, holding `messages[i]` for every selected `i`;
    /// and how many messages they hold. Messages larger than `cap` alone are skipped:
    /// no receiver would accept them.
    pub(crate) fn frames(
        &mut self,
        messages: &[DataMessage<Payload>],
        selected: &[usize],
        cap: usize,
    ) -> (Bytes, usize) {
        let codec = FrameCodec::new(cap);
        let target = FRAME_TARGET.min(cap);
        let mut out = Vec::new();
        let mut parts: Vec<(usize, usize)> = Vec::new();
        let mut size = 0;
        let mut count = 0;
        for &index in selected {
            let Some(encoded) = self.message(messages, index) else {
                continue;
            };
            let len = encoded.len();
            if len + 16 > cap {
                continue;
            }
            if size + len > target && !parts.is_empty() {
                count += self.flush(&codec, &mut parts, &mut out);
                size = 0;
            }
            let span = self.spans[index].expect("encoded above");
            parts.push(span);
            size += len;
        }
        count += self.flush(&codec, &mut parts, &mut out);
        (Bytes::from(out), count)
    }

    fn flush(
        &self,
        codec: &FrameCodec,
        parts: &mut Vec<(usize, usize)>,
        out: &mut Vec<u8>,
    ) -> usize {
        if parts.is_empty() {
            return 0;
        }
        let slices: Vec<&[u8]> = parts.iter().map(|&(a, b)| &self.bytes[a..b]).collect();
        codec
            .write_batch_frame(&slices, out)
            .expect("batches are cut below the cap");
        let count = parts.len();
        parts.clear();
        count
    }
}

/// Reads frames from a byte stream.
pub(crate) struct FrameReader<R> {
    io: R,
    buf: BytesMut,
    codec: FrameCodec,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader accepting frames of at most `cap` bytes.
    pub(crate) fn new(io: R, cap: usize) -> Self {
        FrameReader {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
            codec: FrameCodec::new(cap),
        }
    }

    /// The next frame; `Ok(None)` on a clean end of stream between frames. (The
    /// peer's reader takes bodies, decoding batches lazily.)
    #[cfg(test)]
    pub(crate) async fn next(&mut self) -> Result<Option<Frame>, WireError> {
        loop {
            if let Some((frame, used)) = self.codec.decode(&self.buf)? {
                self.buf.advance(used);
                return Ok(Some(frame));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// The next frame's body, undecoded: Broker's native frames share our length
    /// prefix. `Ok(None)` on a clean end of stream between frames.
    pub(crate) async fn next_body(&mut self) -> Result<Option<Bytes>, WireError> {
        loop {
            if let Some(body) = self.buffered_body()? {
                return Ok(Some(body));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// The next frame's body if all of it has been read already.
    pub(crate) fn buffered_body(&mut self) -> Result<Option<Bytes>, WireError> {
        let Some((len, used)) = self
            .codec
            .split_frame(&self.buf)?
            .map(|(body, used)| (body.len(), used))
        else {
            return Ok(None);
        };
        let mut frame = self.buf.split_to(used);
        frame.advance(used - len);
        Ok(Some(frame.freeze()))
    }

    /// The first frame of a connection, which must be a handshake of our version.
    /// Input that is not a handshake at all is `Malformed`-like garbage
    /// ([`WireError::TrailingBytes`] is never returned here); a handshake of another
    /// version is [`WireError::Incompatible`].
    pub(crate) async fn handshake(&mut self) -> Result<Option<Hello>, WireError> {
        loop {
            if let Some((body, _)) = self.codec.split_frame(&self.buf)? {
                if body.first() != Some(&tag::HELLO) || !body[1..].starts_with(&MAGIC) {
                    return Err(WireError::Malformed(postcard::Error::DeserializeBadEnum));
                }
            }
            if let Some((hello, used)) = self.codec.decode_handshake(&self.buf)? {
                self.buf.advance(used);
                return Ok(Some(hello));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads more bytes; false on a clean end of stream.
    async fn fill(&mut self) -> Result<bool, WireError> {
        if let Some(len) = self.codec.announced_len(&self.buf)? {
            self.buf
                .reserve((LENGTH_PREFIX_LEN + len).saturating_sub(self.buf.len()));
        }
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        if self.io.read_buf(&mut self.buf).await? == 0 {
            if self.buf.is_empty() {
                return Ok(false);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_wire::frame::NodeId;
    use broker_wire::{Data, Topic};

    fn message(id: u64, payload: usize) -> DataMessage<Payload> {
        DataMessage {
            origin: NodeId([7; 16]),
            id,
            ttl: 20,
            topic: Topic::from("/a/b"),
            data: Data::from("x".repeat(payload)).into(),
        }
    }

    async fn read_all(bytes: Bytes, cap: usize) -> Vec<Frame> {
        let mut reader = FrameReader::new(&bytes[..], cap);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await.unwrap() {
            frames.push(frame);
        }
        frames
    }

    #[tokio::test]
    async fn frames_hold_exactly_the_selected_messages_in_order() {
        let messages: Vec<_> = (0..100).map(|i| message(i, 10_000)).collect();
        let selected: Vec<usize> = (0..100).filter(|i| i % 3 != 0).collect();
        let mut batch = EncodedBatch::new(messages.len());
        let (bytes, count) = batch.frames(&messages, &selected, 1 << 20);
        assert_eq!(count, selected.len());
        let frames = read_all(bytes, 1 << 20).await;
        assert!(frames.len() > 1, "a large batch is cut into several frames");
        let received: Vec<DataMessage> = frames
            .into_iter()
            .flat_map(|f| match f {
                Frame::Batch(m) => m,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let ids: Vec<u64> = received.iter().map(|m| m.id).collect();
        let expected: Vec<u64> = selected.iter().map(|&i| messages[i].id).collect();
        assert_eq!(ids, expected);
        assert!(received
            .iter()
            .all(|m| m.data == Data::from("x".repeat(10_000))));
    }

    #[tokio::test]
    async fn messages_above_the_cap_are_skipped() {
        let messages = vec![message(1, 10), message(2, 5000), message(3, 10)];
        let (bytes, count) = EncodedBatch::new(3).frames(&messages, &[0, 1, 2], 1024);
        assert_eq!(count, 2);
        assert_eq!(read_all(bytes, 1024).await.len(), 1);
    }

    #[tokio::test]
    async fn handshake_tells_garbage_from_another_version() {
        let mut garbage = Vec::new();
        garbage.extend_from_slice(&5u32.to_be_bytes());
        garbage.extend_from_slice(b"hello");
        let err = FrameReader::new(&garbage[..], 1024)
            .handshake()
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::Malformed(_)), "{err}");
        let mut hello = Hello::new(NodeId([1; 16]), vec![]);
        hello.version += 1;
        let bytes = encode_frame(&Frame::Hello(hello));
        let err = FrameReader::new(&bytes[..], 1024)
            .handshake()
            .await
            .unwrap_err();
        assert!(matches!(err, WireError::Incompatible(_)), "{err}");
    }
}
