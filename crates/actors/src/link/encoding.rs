//! How a link puts data messages on the wire. Each kind of link has an [`Encoding`]
//! (ours: batch frames, [`BATCH`]); routing asks a link's encoding for an [`Encoder`]
//! per batch of messages, one per encoding in use, so each message is encoded once per
//! encoding however many links share it, and it hands each link the bytes its encoder
//! made. A new kind of link (Broker's native protocol: [`NATIVE`], WebSocket JSON) brings
//! its own `Encoding` and needs no change to routing.

use broker_wire::frame::{DataMessage, Frame, NodeId, Reach};
use broker_wire::{Payload, Topic};
use bytes::Bytes;

use crate::framing::{encode_frame, EncodedBatch};

/// A wire encoding of data messages, and of the control frames the Core sends on a link.
pub(crate) trait Encoding: Send + Sync {
    /// Names the encoding: links whose encodings have the same name share each batch's
    /// encoder (and so its encoded bytes).
    fn name(&self) -> &'static str;

    /// An encoder for one batch of `messages` messages sent by endpoint `from`;
    /// `max_frame_len` bounds what a receiver accepts.
    fn encoder(&self, from: NodeId, messages: usize, max_frame_len: usize) -> Box<dyn Encoder>;

    /// The frame from `from` announcing our subscriptions to `to`, for protocols that
    /// have one.
    fn filter(&self, _from: NodeId, _to: NodeId, _topics: &[Topic]) -> Option<Bytes> {
        None
    }

    /// A liveness probe from `from` that `to` answers with a pong, for protocols that
    /// have one; the Core sends it to a peer silent for a keepalive interval (see
    /// `link::Liveness`).
    fn ping(&self, _from: NodeId, _to: NodeId, _nonce: u64) -> Option<Bytes> {
        None
    }

    /// The frame from `from` ending the connection to `to` gracefully, for protocols
    /// that have one.
    fn goodbye(&self, _from: NodeId, _to: NodeId) -> Option<Bytes> {
        None
    }

    /// The frame telling a peer of changes of the endpoints we reach, for protocols that
    /// have one (ours only: Broker's native peers are never told).
    fn reach(&self, _changes: &[Reach]) -> Option<Bytes> {
        None
    }
}

/// Encodes one batch of messages for the links of one encoding. It sees every link it
/// encodes for: ours shares one set of frames between links wanting the same messages;
/// one whose envelopes name the receiver (Broker's native protocol) can still encode
/// each payload once and add the envelope per link.
pub(crate) trait Encoder: Send {
    /// The bytes carrying `messages[i]` for every selected `i`, in order, to peer `to`;
    /// and how many messages they hold (a message no receiver accepts is left out).
    fn encode(
        &mut self,
        messages: &[DataMessage<Payload>],
        selected: &[usize],
        to: NodeId,
    ) -> (Bytes, usize);

    /// Whether the bytes depend on the receiver `to`. If not (every protocol so far),
    /// routing encodes the whole batch once for all the links wanting all of it.
    fn names_receiver(&self) -> bool {
        false
    }
}

/// Our own protocol: messages encoded once into batch frames of about 256 KiB, which
/// every link wanting the same messages shares.
pub(crate) struct BatchFrames;

/// The encoding of the links speaking our protocol.
pub(crate) static BATCH: BatchFrames = BatchFrames;

impl Encoding for BatchFrames {
    fn name(&self) -> &'static str {
        "batch"
    }

    fn encoder(&self, _: NodeId, messages: usize, max_frame_len: usize) -> Box<dyn Encoder> {
        Box::new(BatchEncoder {
            encoded: EncodedBatch::new(messages),
            cap: max_frame_len,
        })
    }

    fn filter(&self, _: NodeId, _: NodeId, topics: &[Topic]) -> Option<Bytes> {
        Some(encode_frame(&Frame::Filter(topics.to_vec())))
    }

    fn ping(&self, _: NodeId, _: NodeId, nonce: u64) -> Option<Bytes> {
        Some(encode_frame(&Frame::Ping(nonce)))
    }

    fn goodbye(&self, _: NodeId, _: NodeId) -> Option<Bytes> {
        Some(encode_frame(&Frame::Goodbye))
    }

    fn reach(&self, changes: &[Reach]) -> Option<Bytes> {
        Some(encode_frame(&Frame::Reach(changes.to_vec())))
    }
}

struct BatchEncoder {
    encoded: EncodedBatch,
    cap: usize,
}

impl Encoder for BatchEncoder {
    fn encode(
        &mut self,
        messages: &[DataMessage<Payload>],
        selected: &[usize],
        _: NodeId,
    ) -> (Bytes, usize) {
        self.encoded.frames(messages, selected, self.cap)
    }
}
