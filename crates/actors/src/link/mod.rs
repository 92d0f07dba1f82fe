//! What one connection to a peer is, whatever protocol it speaks: its outbox of encoded
//! bytes, its writer slot (`writer`: the write task and inline writes), its
//! [`Encoding`] (`encoding`), and the slow-peer policy applied when its outbox is full.
//! Routing, the peer's reader and its writer depend on this module; a link reports to
//! the Core only through a [`Reporter`].

mod encoding;
mod native;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

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
    /// Messages dropped under [`SlowPeerPolicy::Drop`] or [`SlowPeerPolicy::DropOldest`].
    pub(crate) dropped: AtomicU64,
    /// When the peer was last heard from, for the Core's keepalive tick.
    pub(crate) liveness: Liveness,
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
            liveness: Liveness::default(),
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
            SlowPeerPolicy::DropOldest => self.push_evicting(bytes, count),
        };
        self.settle(result, count);
    }

    /// Queues `bytes` in place of the oldest queued messages, counting those as dropped.
    fn push_evicting(&self, bytes: Bytes, count: usize) -> Result<(), PushError<Bytes>> {
        let evicted = self.outbox.push_evicting(bytes, count)?;
        if evicted > 0 {
            self.drop_messages(evicted);
        }
        Ok(())
    }

    /// Sends `bytes` holding `count` messages without waiting: written on the caller's
    /// thread where the writer is idle, queued otherwise. Callers checked that the
    /// outbox had room; if another sender filled it meanwhile, it takes the bytes beyond
    /// its capacity rather than block here.
    pub(crate) fn send_now(&self, bytes: Bytes, count: usize) {
        let Err(bytes) = writer::write_inline(self, bytes) else {
            return;
        };
        let result = match self.policy {
            SlowPeerPolicy::DropOldest => self.push_evicting(bytes, count),
            policy => match self.outbox.try_push(bytes, count) {
                Err(PushError::Full(bytes)) if policy != SlowPeerPolicy::Drop => {
                    self.outbox.push_unbounded(bytes)
                }
                other => other,
            },
        };
        self.settle(result, count);
    }

    /// Sends control frame `frame` (a keepalive probe) without waiting: written on the
    /// caller's thread where [`Link::send_now`] would write it, queued ahead of any
    /// capacity otherwise.
    pub(crate) fn send_control(&self, frame: Bytes) {
        if let Err(frame) = writer::write_inline(self, frame) {
            let _ = self.outbox.push_unbounded(frame);
        }
    }

    /// Sends `frame`, a control frame owed by the peer's reader (a pong), from the
    /// peer's own task: written at once while the writer is idle (no wake-up of the
    /// write task), queued otherwise. Only the peer's reader may call this.
    pub(crate) async fn answer(&self, frame: Bytes) {
        let mut frame = Some(frame);
        std::future::poll_fn(|cx| {
            if let Some(Err(frame)) = frame
                .take()
                .map(|frame| writer::write_from_peer_task(self, frame, cx))
            {
                let _ = self.outbox.push_unbounded(frame);
            }
            Poll::Ready(())
        })
        .await
    }

    /// Accounts for the outcome of a push: a full outbox is a slow peer.
    fn settle(&self, result: Result<(), PushError<Bytes>>, count: usize) {
        match result {
            Ok(()) => {}
            // The peering is going away; its messages go with it.
            Err(PushError::Closed(_)) => {}
            Err(PushError::Full(_)) if self.policy.drops() => self.drop_messages(count),
            Err(PushError::Full(_)) => self.reporter.report(Report::SlowPeer {
                node: self.node,
                dropped: false,
            }),
        }
    }

    /// Counts `count` messages dropped for this peer; the first drop of an episode is
    /// reported.
    fn drop_messages(&self, count: usize) {
        self.dropped.fetch_add(count as u64, Ordering::Relaxed);
        if !self.dropping.swap(true, Ordering::Relaxed) {
            self.reporter.report(Report::SlowPeer {
                node: self.node,
                dropped: true,
            });
        }
    }
}

/// When a link's peer was last heard from, kept by the link's reader and read by the
/// Core's keepalive tick: one endpoint-wide timer instead of one per peer, and no timer
/// per read. Silence counts only while the reader waits for input: a reader paused by
/// backpressure (handling a frame) is not listening, so its peer is not silent.
pub(crate) struct Liveness {
    /// Milliseconds since [`epoch`] when the reader last got a frame or went back to
    /// waiting for one.
    heard: AtomicU64,
    /// The reader is handling a frame (possibly waiting for room downstream).
    busy: AtomicBool,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            heard: AtomicU64::new(since_epoch(Instant::now())),
            busy: AtomicBool::new(false),
        }
    }
}

impl Liveness {
    /// The reader got a frame and handles it now.
    pub(crate) fn frame_arrived(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    /// The reader handled its frame and waits for the next one.
    pub(crate) fn listening(&self) {
        self.heard
            .store(since_epoch(Instant::now()), Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
    }

    /// How long the peer has been silent at `now` while the reader listened; `None`
    /// while the reader handles a frame.
    pub(crate) fn silence(&self, now: Instant) -> Option<Duration> {
        if self.busy.load(Ordering::Relaxed) {
            return None;
        }
        let heard = self.heard.load(Ordering::Relaxed);
        Some(Duration::from_millis(
            since_epoch(now).saturating_sub(heard),
        ))
    }
}

/// The process's reference point of [`Liveness`] times.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn since_epoch(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_millis() as u64
}
