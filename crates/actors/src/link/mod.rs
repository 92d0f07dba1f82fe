//! What one connection to a peer is, whatever protocol it speaks: its outbox of encoded
//! bytes, its writer slot (`writer`: the write task and inline writes), its
//! [`Encoding`] (`encoding`), and the slow-peer policy applied when its outbox is full.
//! Routing, the peer's reader and its writer depend on this module; a link reports to
//! the Core only through a [`Reporter`].

mod encoding;
mod native;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use broker_wire::frame::NodeId;
use bytes::Bytes;

use crate::config::SlowPeerPolicy;
use crate::queue::{BoundedQueue, PushError};
use crate::reports::{Report, Reporter};

pub(crate) use encoding::{Encoder, Encoding, BATCH};
pub(crate) use native::NATIVE;
pub(crate) use writer::{write_loop, WriterSlot};

/// The sending side of one peering. Shared by the Core (registration, filters), the
/// connection (its writer drains the outbox) and the routing snapshot (publishers and
/// other peers' readers fill it).
pub(crate) struct Link {
    /// The peer's identity.
    pub(crate) node: NodeId,
    /// How data messages are put on this link.
    pub(crate) encoding: &'static dyn Encoding,
    /// Encoded bytes to write; weights count data messages, control frames weigh nothing.
    pub(crate) outbox: BoundedQueue<Bytes>,
    /// The connection's writer, for inline writes while the write task is idle.
    pub(crate) writer: WriterSlot,
    /// Messages dropped under [`SlowPeerPolicy::Drop`].
    pub(crate) dropped: AtomicU64,
    /// Whether the current drop episode was already reported; the writer ends the
    /// episode whenever it gets a flush through.
    dropping: AtomicBool,
    policy: SlowPeerPolicy,
    reporter: Reporter,
}

impl Link {
    /// A link to `node` speaking `encoding`, with an outbox of `capacity` messages,
    /// under `policy` when the outbox is full.
    pub(crate) fn new(
        node: NodeId,
        encoding: &'static dyn Encoding,
        capacity: usize,
        policy: SlowPeerPolicy,
        reporter: Reporter,
    ) -> Self {
        Link {
            node,
            encoding,
            outbox: BoundedQueue::new(capacity, None, None),
            writer: WriterSlot::default(),
            dropped: AtomicU64::new(0),
            dropping: AtomicBool::new(false),
            policy,
            reporter,
        }
    }

    /// The peer took everything written so far: a later drop is a new episode.
    pub(crate) fn made_progress(&self) {
        if self.dropping.load(Ordering::Relaxed) {
            self.dropping.store(false, Ordering::Relaxed);
        }
    }

    /// Queues `bytes` holding `count` messages, waiting for room as the slow-peer
    /// policy says.
    pub(crate) async fn send(&self, bytes: Bytes, count: usize) {
        let result = match self.policy {
            SlowPeerPolicy::Block => self.outbox.push_async(bytes, count).await,
            SlowPeerPolicy::Disconnect { after } => {
                match tokio::time::timeout(after, self.outbox.push_async(bytes.clone(), count))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(PushError::Full(bytes)),
                }
            }
            SlowPeerPolicy::Drop => self.outbox.try_push(bytes, count),
        };
        self.settle(result, count);
    }

    /// Sends `bytes` holding `count` messages without waiting: written on the caller's
    /// thread where the writer is idle, queued otherwise. Callers checked that the
    /// outbox had room; if another sender filled it meanwhile, it takes the bytes beyond
    /// its capacity rather than block here.
    pub(crate) fn send_now(&self, bytes: Bytes, count: usize) {
        let Err(bytes) = writer::write_inline(self, bytes) else {
            return;
        };
        let result = match self.outbox.try_push(bytes, count) {
            Err(PushError::Full(bytes)) if self.policy != SlowPeerPolicy::Drop => {
                self.outbox.push_unbounded(bytes)
            }
            other => other,
        };
        self.settle(result, count);
    }

    /// Accounts for the outcome of a push: a full outbox is a slow peer.
    fn settle(&self, result: Result<(), PushError<Bytes>>, count: usize) {
        match result {
            Ok(()) => {}
            // The peering is going away; its messages go with it.
            Err(PushError::Closed(_)) => {}
            Err(PushError::Full(_)) => {
                let dropped = self.policy == SlowPeerPolicy::Drop;
                if dropped {
                    self.dropped.fetch_add(count as u64, Ordering::Relaxed);
                }
                if !dropped || !self.dropping.swap(true, Ordering::Relaxed) {
                    self.reporter.report(Report::SlowPeer {
                        node: self.node,
                        dropped,
                    });
                }
            }
        }
    }
}
