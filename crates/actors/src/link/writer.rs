//! A peer's writer, shared by the peer's write task and publishing threads. The write
//! task drains the outbox, coalescing frames into large writes with one flush per
//! wake-up. While it is idle and the outbox is empty, a thread publishing sparse
//! traffic writes its frame itself ([`write_inline`]): the endpoint's thread is not
//! woken to send it, which spares a round trip two thread wake-ups. The peer's reader
//! writes its answers to pings the same way ([`write_from_peer_task`]), sparing the
//! write task a wake-up per keepalive probe.

use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::task::noop_waker_ref;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::watch;

use super::Link;
use crate::connection::BoxedWriter;
use crate::queue::BoundedQueue;

/// The connection's write half behind the write task's coalescing buffer.
type Output = BufWriter<BoxedWriter>;

/// Size of the coalescing buffer.
const WRITE_BUFFER: usize = 256 * 1024;

/// Larger frames are left to the write task: their transfer outweighs a wake-up, and
/// encrypting them would hold the slot (and a Python caller's GIL) for milliseconds.
/// Smaller than [`WRITE_BUFFER`], so an idle writer's empty buffer takes a frame whole.
const INLINE_MAX: usize = 64 * 1024;

/// Where a peer's writer rests while its write task is idle.
#[derive(Default)]
pub(crate) struct WriterSlot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The writer while the write task is idle; `None` while the task writes, before
    /// it starts and after it ended.
    idle: Option<Output>,
}

impl WriterSlot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Poisoned only by a panic in a few lines of bookkeeping or in a write: a bug.
        self.state.lock().expect("writer slot lock poisoned")
    }

    /// Hands over the connection's write half. A write over it must never have to read
    /// first (TLS refuses renegotiation for this), or another thread's write could
    /// register its no-op waker in place of the reader's.
    pub(crate) fn install(&self, writer: BoxedWriter) {
        self.lock().idle = Some(BufWriter::with_capacity(WRITE_BUFFER, writer));
    }

    /// The write task's next batch: the writer and all queued frames, taken under the
    /// slot's lock so that no inline write slips in between.
    fn take_batch(&self, outbox: &BoundedQueue<Bytes>) -> (Option<Output>, Vec<Bytes>) {
        let mut state = self.lock();
        (state.idle.take(), outbox.pop_now(usize::MAX))
    }

    fn put_back(&self, out: Output) {
        self.lock().idle = Some(out);
    }

    /// Drops an idle writer: the connection is gone, its socket closes now.
    pub(crate) fn clear(&self) {
        self.lock().idle = None;
    }
}

/// Writes `frame` to `link`'s connection on the caller's thread if the frame is small,
/// the write task idle and the outbox empty (nothing queued precedes the frame); gives
/// the frame back otherwise. A write that would block (or fails) leaves the rest in
/// the writer's buffer for the write task: the frame is taken either way.
pub(super) fn write_inline(link: &Link, frame: Bytes) -> Result<(), Bytes> {
    // A no-op waker: a flush that would block registers it for writability, which is
    // harmless only because the idle write task waits on the outbox, not the socket;
    // it polls again with its own waker once woken.
    write_idle(link, frame, &mut Context::from_waker(noop_waker_ref()))
}

/// [`write_inline`] from the peer's own task (its reader answering a ping): that task
/// runs the write task too, so a write that blocks wakes it with its own waker. Gives
/// the frame back where [`write_inline`] would.
pub(super) fn write_from_peer_task(
    link: &Link,
    frame: Bytes,
    cx: &mut Context<'_>,
) -> Result<(), Bytes> {
    write_idle(link, frame, cx)
}

/// Writes `frame` with the idle writer, waking with `cx`.
fn write_idle(link: &Link, frame: Bytes, cx: &mut Context<'_>) -> Result<(), Bytes> {
    if frame.len() > INLINE_MAX {
        return Err(frame);
    }
    let mut state = link.writer.lock();
    let Some(out) = state.idle.as_mut() else {
        return Err(frame);
    };
    if !out.buffer().is_empty() || !link.outbox.is_idle() {
        return Err(frame);
    }
    // The empty buffer, larger than the frame, takes it whole without writing.
    let buffered = Pin::new(&mut *out).poll_write(cx, &frame);
    debug_assert!(matches!(buffered, Poll::Ready(Ok(n)) if n == frame.len()));
    if let Poll::Ready(Ok(())) = Pin::new(&mut *out).poll_flush(cx) {
        link.made_progress();
    } else {
        // The write task flushes the rest (or meets the error); an empty frame wakes
        // it and keeps later senders queueing behind it meanwhile.
        let _ = link.outbox.push_unbounded(Bytes::new());
    }
    Ok(())
}

/// The write task: writes queued frames until the outbox is closed and drained, then
/// `goodbye` (the encoding's); tells `done` when finished. The writer must be installed.
pub(crate) async fn write_loop(
    link: std::sync::Arc<Link>,
    goodbye: Option<Bytes>,
    done: watch::Sender<bool>,
) -> io::Result<()> {
    let result = async {
        loop {
            let open = link.outbox.wait_items_async().await;
            let (out, frames) = link.writer.take_batch(&link.outbox);
            let mut out = out.expect("only the write task keeps the writer across awaits");
            for frame in frames {
                out.write_all(&frame).await?;
            }
            out.flush().await?;
            link.made_progress();
            if !open {
                if let Some(goodbye) = &goodbye {
                    out.write_all(goodbye).await?;
                    out.flush().await?;
                }
                return out.shutdown().await;
            }
            link.writer.put_back(out);
        }
    }
    .await;
    let _ = done.send(true);
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use broker_wire::frame::NodeId;
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::config::SlowPeerPolicy;
    use crate::link::BATCH;
    use crate::reports::Reporter;

    /// A link whose writer writes to the returned stream; no write task runs.
    fn idle_link() -> (Arc<Link>, tokio::io::DuplexStream) {
        let (reporter, _) = Reporter::channel();
        let link = Arc::new(Link::new(
            NodeId([1; 16]),
            &BATCH,
            16,
            SlowPeerPolicy::Block,
            reporter,
        ));
        let (ours, theirs) = tokio::io::duplex(1024);
        link.writer.install(Box::new(ours));
        (link, theirs)
    }

    #[tokio::test]
    async fn an_idle_link_is_written_without_the_write_task() {
        let (link, mut theirs) = idle_link();
        // Another thread's frame and the peer task's answer: both on the wire, in
        // order, nothing queued.
        write_inline(&link, Bytes::from_static(b"other")).unwrap();
        link.answer(Bytes::from_static(b"pong")).await;
        assert!(link.outbox.is_idle());
        let mut got = [0; 9];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"otherpong");
    }

    #[tokio::test]
    async fn an_answer_waits_behind_queued_frames() {
        let (link, _theirs) = idle_link();
        link.outbox
            .push_unbounded(Bytes::from_static(b"first"))
            .unwrap();
        link.answer(Bytes::from_static(b"pong")).await;
        let queued = link.outbox.pop_now(usize::MAX);
        assert_eq!(
            queued,
            [Bytes::from_static(b"first"), Bytes::from_static(b"pong")]
        );
    }
}
