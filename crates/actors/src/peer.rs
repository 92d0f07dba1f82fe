//! The peer actor: one per established connection. Its reader task decodes frames and
//! feeds the data path directly (no core round trip per message), pausing while
//! downstream queues are full, and answers pings itself (written at once while the
//! writer is idle: no wake-up of the write task per keepalive probe); its writer task
//! drains the peer's outbox, coalescing frames into large writes. The actor itself handles closing; the Core's keepalive
//! tick probes and times out silent peers (`core/keepalive.rs`). A peer speaking
//! Broker's native protocol has a reader of its own (`native`); everything else is
//! shared.

mod native;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use broker_wire::codec::{decode_batch_lazily, decode_body};
use broker_wire::frame::{Frame, NodeId};
use broker_wire::Topic;
use tokio::sync::watch;

use crate::connection::{frame_name, BoxedReader};
use crate::core::{Core, PeerClosed, PeerFilter, PeerReach};
use crate::framing::{encode_frame, FrameReader};
use crate::link::{write_loop, Link};
use crate::metrics::MessageKind;
use crate::routing::{receive_batch, Shared};

/// Close gracefully: write everything queued, then `Goodbye`. Resolves once written
/// (or after `timeout`).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Close {
    /// Upper bound on the flush.
    pub(crate) timeout: Duration,
}

/// Why a connection ended.
#[derive(Debug)]
pub(crate) enum CloseReason {
    /// The peer said `Goodbye`, closed the stream, or the stream failed.
    Closed,
    /// The peer sent invalid input.
    Invalid(String),
    /// The peer was silent for too long (the Core's keepalive tick says so).
    Timeout,
}

/// One peering's connection.
pub(crate) struct Peer {
    shared: Arc<Shared>,
    core: Addr<Core>,
    node: NodeId,
    conn: u64,
    link: Arc<Link>,
    /// The connection's read half, until the reader task takes it (the write half
    /// waits in the link's writer slot).
    reader: Option<FrameReader<BoxedReader>>,
    /// Whether the peer speaks Broker's native protocol rather than our frames.
    native: bool,
    /// Becomes true when the writer has finished (flushed `Goodbye` or failed).
    writer_done: watch::Receiver<bool>,
    writer_done_tx: Option<watch::Sender<bool>>,
}

impl Peer {
    /// The actor for an established connection to `node`, whose write half is
    /// installed in `link.writer`; `native` if it speaks Broker's native protocol.
    pub(crate) fn new(
        shared: Arc<Shared>,
        core: Addr<Core>,
        conn: u64,
        link: Arc<Link>,
        reader: FrameReader<BoxedReader>,
        native: bool,
    ) -> Self {
        let (tx, rx) = watch::channel(false);
        Peer {
            shared,
            core,
            node: link.node,
            conn,
            link,
            reader: Some(reader),
            native,
            writer_done: rx,
            writer_done_tx: Some(tx),
        }
    }

    fn closed(&self, reason: CloseReason, ctx: &mut Context<Self>) {
        self.core.do_send(PeerClosed {
            node: self.node,
            conn: self.conn,
            reason,
        });
        ctx.stop();
    }
}

impl Actor for Peer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let reader = self
            .reader
            .take()
            .expect("the reader is taken once, at start");
        let done = self.writer_done_tx.take().expect("writer starts once");
        let (own, node) = (self.shared.node, self.node);
        let goodbye = self.link.encoding.goodbye(own, node);
        ctx.spawn(
            write_loop(self.link.clone(), goodbye, done)
                .into_actor(self)
                .map(|result, act, ctx| {
                    // A failed write means the connection is gone, as a failed read does.
                    if result.is_err() {
                        act.closed(CloseReason::Closed, ctx);
                    }
                }),
        );
        let (shared, core, conn, link) = (
            self.shared.clone(),
            self.core.clone(),
            self.conn,
            self.link.clone(),
        );
        let read = if self.native {
            futures::future::Either::Left(native::read_loop(shared, core, node, conn, link, reader))
        } else {
            futures::future::Either::Right(read_loop(shared, core, node, conn, link, reader))
        };
        ctx.spawn(
            read.into_actor(self)
                .map(|reason, act, ctx| act.closed(reason, ctx)),
        );
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Wakes publishers blocked on this peer's buffer: the peering is gone.
        self.link.outbox.close();
        self.link.writer.clear();
    }
}

impl Handler<Close> for Peer {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: Close, _: &mut Context<Self>) -> Self::Result {
        self.link.outbox.close();
        let mut done = self.writer_done.clone();
        let flushed = async move {
            let _ = tokio::time::timeout(msg.timeout, done.wait_for(|finished| *finished)).await;
        };
        Box::pin(flushed.into_actor(self).map(|_, _, ctx| ctx.stop()))
    }
}

/// Reads frames until the connection ends; returns why.
async fn read_loop(
    shared: Arc<Shared>,
    core: Addr<Core>,
    node: NodeId,
    conn: u64,
    link: Arc<Link>,
    mut reader: FrameReader<BoxedReader>,
) -> CloseReason {
    // The Core's keepalive tick reads the link's liveness: silence is measured only
    // while waiting here, so a reader paused by backpressure is not a dead peer.
    loop {
        let body = match reader.next_body().await {
            Ok(Some(body)) => body,
            Ok(None) => return CloseReason::Closed,
            Err(broker_wire::WireError::Io(_)) => return CloseReason::Closed,
            Err(err) => return CloseReason::Invalid(err.to_string()),
        };
        link.liveness.frame_arrived();
        // Data stays encoded (checked) until whoever consumes it decodes it.
        let frame = match decode_batch_lazily(&body) {
            Ok(Some(messages)) => {
                receive_batch(&shared, node, messages).await;
                link.liveness.listening();
                continue;
            }
            Ok(None) => decode_body(&body),
            Err(err) => Err(err),
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(err) => return CloseReason::Invalid(err.to_string()),
        };
        match frame {
            Frame::Batch(messages) => receive_batch(&shared, node, messages).await,
            Frame::Filter(filter) => {
                shared.counters.processed(MessageKind::RoutingUpdate, 1);
                core.do_send(PeerFilter {
                    node,
                    conn,
                    filter: sanitize(filter),
                })
            }
            Frame::Reach(changes) => {
                shared.counters.processed(MessageKind::RoutingUpdate, 1);
                core.do_send(PeerReach {
                    node,
                    conn,
                    changes,
                })
            }
            Frame::Ping(nonce) => {
                shared.counters.processed(MessageKind::Ping, 1);
                link.answer(encode_frame(&Frame::Pong(nonce))).await;
            }
            Frame::Pong(_) => shared.counters.processed(MessageKind::Pong, 1),
            // Store traffic belongs to the stores issue; until then nothing consumes it.
            Frame::Store(_) => shared.counters.processed(MessageKind::Command, 1),
            Frame::Goodbye => return CloseReason::Closed,
            other @ Frame::Hello(_) => {
                return CloseReason::Invalid(format!(
                    "unexpected {} frame after the handshake",
                    frame_name(&other)
                ))
            }
        }
        link.liveness.listening();
    }
}

/// A peer's filter as we store it: deduplicated and sorted.
pub(crate) fn sanitize(mut filter: Vec<Topic>) -> Vec<Topic> {
    filter.sort();
    filter.dedup();
    filter
}
