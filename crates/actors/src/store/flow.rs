//! How a store actor's writes come in and its messages go out without ever waiting on a
//! peer while holding what that peer sends.
//!
//! Publishing to peers waits for room in their outboxes (the slow-peer policy). If a store
//! actor stopped draining its subscription while its own output waited, two stores could
//! close a cycle: a clone waits for room towards its master, whose reader waits for room in
//! the master's inbox, while the master waits for room towards the clone, whose reader
//! waits for room in the clone's inbox. Under `SlowPeerPolicy::Block` that is forever.
//!
//! So publishing runs beside the actor (one batch at a time; what the actor produces
//! meanwhile piles up in [`Flow`] and goes out as the next batch), and the actor keeps
//! applying what its peers send. What it pauses while a batch is out is its handles'
//! writes: they are read only when nothing is being published, which bounds what piles
//! up. Local store events are delivered holding the actor (`ctx.wait`), like deliveries
//! from peers: a full local subscriber slows the store, but never closes a cycle between
//! endpoints.
//!
//! What to start when is decided by [`Pending`], a plain struct the functions below feed
//! and obey (`flow/tests.rs` checks it through random interleavings).

use std::sync::Arc;

use actix::prelude::*;
use broker_wire::{Data, Topic};

use super::replica::{Replica, Request};
use crate::routing::{deliver_local, publish_async, Shared};

/// A store actor, as far as moving its writes and messages is concerned.
pub(crate) trait FlowActor: Actor<Context = Context<Self>> {
    fn flow(&mut self) -> &mut Flow;

    /// Whether the actor takes more of its handles' writes now (asked only while nothing
    /// is being published).
    fn takes_writes(&self) -> bool;

    /// Handles a batch of its handles' writes.
    fn handle_writes(&mut self, writes: Vec<Request>, ctx: &mut Context<Self>);
}

/// A store actor's output on its way out, and whether it reads writes.
pub(crate) struct Flow {
    shared: Arc<Shared>,
    replica: Arc<Replica>,
    /// Where messages for peers go: the clone topic for a master, the master topic for a
    /// clone.
    pub(crate) peer_topic: Topic,
    /// Where the store's events go.
    pub(crate) events_topic: Topic,
    /// What piled up and what is under way.
    pending: Pending<(Topic, Data), (Topic, Data)>,
}

/// What a flow holds and decides, apart from the actor (no runtime, no clock): the output
/// piled up, and what is under way. Each input says what to start next ([`Next`]); the
/// caller starts it and reports its end. `flow/tests.rs` drives it through random
/// interleavings.
#[derive(Debug)]
pub(super) struct Pending<M, E> {
    /// Messages for peers produced since the batch being published was taken.
    messages: Vec<M>,
    /// Store events produced since the ones being delivered were taken.
    events: Vec<E>,
    /// Writes completely handled once `messages` are published (a master's).
    finished: u64,
    /// Whether a batch is out and whether the handles' writes are awaited.
    stage: Stage,
    /// Whether events are being delivered. Apart from `stage`: a delivery holds the
    /// actor (`ctx.wait`), whatever else is under way.
    delivering: bool,
}

/// What to start next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next<M, E> {
    /// Nothing: what is under way takes what piled up when it ends.
    Wait,
    /// Deliver `events` locally, holding the actor; then [`Pending::delivered`].
    Deliver(Vec<E>),
    /// Publish `messages`; `finished` writes count as handled once they are out. Then
    /// [`Pending::published`].
    Publish { messages: Vec<M>, finished: u64 },
    /// Everything is out: `finished` writes count as handled now, and if `read`, start
    /// awaiting the handles' next writes (then [`Pending::read`]).
    Drained { finished: u64, read: bool },
}

/// What a flow has under way: publishing a batch and awaiting the handles' next writes
/// are separate tasks beside the actor. A read starts only while nothing is being
/// published, but output produced meanwhile (from what peers sent) may start a batch
/// while the read is still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Neither: nothing to publish, and the actor takes no writes now.
    Idle,
    /// Awaiting the handles' next writes; nothing being published.
    Reading,
    /// Publishing a batch; the handles' writes wait.
    Publishing,
    /// Publishing a batch while a read started before it is still pending.
    PublishingWhileReading,
}

impl Stage {
    fn publishing(self) -> bool {
        matches!(self, Stage::Publishing | Stage::PublishingWhileReading)
    }

    fn reading(self) -> bool {
        matches!(self, Stage::Reading | Stage::PublishingWhileReading)
    }

    /// A batch went out.
    fn start_publishing(self) -> Stage {
        if self.reading() {
            Stage::PublishingWhileReading
        } else {
            Stage::Publishing
        }
    }

    /// The batch out was published.
    fn published(self) -> Stage {
        if self.reading() {
            Stage::Reading
        } else {
            Stage::Idle
        }
    }

    /// A read of the handles' writes started.
    fn start_reading(self) -> Stage {
        if self.publishing() {
            Stage::PublishingWhileReading
        } else {
            Stage::Reading
        }
    }

    /// The pending read ended.
    fn read(self) -> Stage {
        if self.publishing() {
            Stage::Publishing
        } else {
            Stage::Idle
        }
    }
}

impl<M, E> Pending<M, E> {
    pub(super) fn new() -> Self {
        Pending {
            messages: Vec::new(),
            events: Vec::new(),
            finished: 0,
            stage: Stage::Idle,
            delivering: false,
        }
    }

    /// Whether the handles' next writes are awaited.
    pub(super) fn reading(&self) -> bool {
        self.stage.reading()
    }

    /// The actor produced `messages` and `events`, and `finished` writes are handled once
    /// the messages are out; `takes_writes`: whether it takes more writes now. Events are
    /// delivered first, then messages published.
    pub(super) fn queue(
        &mut self,
        messages: impl IntoIterator<Item = M>,
        events: impl IntoIterator<Item = E>,
        finished: u64,
        takes_writes: bool,
    ) -> Next<M, E> {
        self.messages.extend(messages);
        self.events.extend(events);
        self.finished += finished;
        self.deliver_then_flush(takes_writes)
    }

    /// The delivery under way ended.
    pub(super) fn delivered(&mut self, takes_writes: bool) -> Next<M, E> {
        self.delivering = false;
        self.deliver_then_flush(takes_writes)
    }

    /// The batch out was published.
    pub(super) fn published(&mut self, takes_writes: bool) -> Next<M, E> {
        self.stage = self.stage.published();
        self.flush(takes_writes)
    }

    /// The pending read ended (the writes it got are the actor's to handle).
    pub(super) fn read(&mut self) {
        self.stage = self.stage.read();
    }

    /// Delivers the pending events (one delivery at a time, so they stay in order), then
    /// flushes.
    fn deliver_then_flush(&mut self, takes_writes: bool) -> Next<M, E> {
        if self.delivering {
            // The running delivery takes these next.
            return Next::Wait;
        }
        if self.events.is_empty() {
            return self.flush(takes_writes);
        }
        self.delivering = true;
        Next::Deliver(std::mem::take(&mut self.events))
    }

    /// Publishes what piled up unless a batch is out already; with nothing left to
    /// publish, counts finished writes and reads further writes unless it does already,
    /// or the actor takes none now.
    pub(super) fn flush(&mut self, takes_writes: bool) -> Next<M, E> {
        if self.stage.publishing() {
            return Next::Wait;
        }
        if self.messages.is_empty() {
            let read = !self.stage.reading() && takes_writes;
            if read {
                self.stage = self.stage.start_reading();
            }
            let finished = std::mem::take(&mut self.finished);
            return Next::Drained { finished, read };
        }
        self.stage = self.stage.start_publishing();
        Next::Publish {
            messages: std::mem::take(&mut self.messages),
            finished: std::mem::take(&mut self.finished),
        }
    }
}

impl Flow {
    pub(crate) fn new(
        shared: Arc<Shared>,
        replica: Arc<Replica>,
        peer_topic: Topic,
        events_topic: Topic,
    ) -> Self {
        Flow {
            shared,
            replica,
            peer_topic,
            events_topic,
            pending: Pending::new(),
        }
    }
}

/// Queues `to_peers` for publishing and counts `finished` writes as handled once they
/// are published; delivers `events` locally first.
pub(crate) fn emit<A: FlowActor>(
    act: &mut A,
    ctx: &mut Context<A>,
    to_peers: Vec<Data>,
    events: Vec<Data>,
    finished: u64,
) {
    let takes_writes = act.takes_writes();
    let flow = act.flow();
    let (peer_topic, events_topic) = (&flow.peer_topic, &flow.events_topic);
    let next = flow.pending.queue(
        to_peers.into_iter().map(|d| (peer_topic.clone(), d)),
        events.into_iter().map(|d| (events_topic.clone(), d)),
        finished,
        takes_writes,
    );
    start(act, ctx, next);
}

/// Handles the writes queued already, if the actor reads writes now: called before
/// handling what peers sent, so that of the two arriving together the writes, usually
/// made first, go first.
pub(crate) fn writes_first<A: FlowActor>(act: &mut A, ctx: &mut Context<A>) {
    let flow = act.flow();
    if !flow.pending.reading() {
        return;
    }
    let writes = flow.replica.requests.pop_now(usize::MAX);
    if !writes.is_empty() {
        act.handle_writes(writes, ctx);
    }
}

/// Publishes what piled up unless a batch is out already; with nothing left to publish,
/// counts finished writes and reads further writes.
pub(crate) fn flush<A: FlowActor>(act: &mut A, ctx: &mut Context<A>) {
    let takes_writes = act.takes_writes();
    let next = act.flow().pending.flush(takes_writes);
    start(act, ctx, next);
}

/// Starts what the flow decided, and feeds its end back.
fn start<A: FlowActor>(
    act: &mut A,
    ctx: &mut Context<A>,
    next: Next<(Topic, Data), (Topic, Data)>,
) {
    let flow = act.flow();
    match next {
        Next::Wait => {}
        Next::Deliver(events) => {
            let shared = flow.shared.clone();
            let delivering = async move { deliver_local(&shared.routes(), events).await };
            ctx.wait(delivering.into_actor(act).map(|(), act, ctx| {
                let takes_writes = act.takes_writes();
                let next = act.flow().pending.delivered(takes_writes);
                start(act, ctx, next);
            }));
        }
        Next::Publish { messages, finished } => {
            let (shared, replica) = (flow.shared.clone(), flow.replica.clone());
            let publishing = async move {
                publish_async(&shared, messages).await;
                replica.progress.finished(finished);
            };
            ctx.spawn(publishing.into_actor(act).map(|(), act, ctx| {
                let takes_writes = act.takes_writes();
                let next = act.flow().pending.published(takes_writes);
                start(act, ctx, next);
            }));
        }
        Next::Drained { finished, read } => {
            flow.replica.progress.finished(finished);
            if !read {
                return;
            }
            let requests = flow.replica.requests.clone();
            let reading = async move { requests.pop_all_async().await };
            ctx.spawn(reading.into_actor(act).map(|writes, act, ctx| {
                act.flow().pending.read();
                // `None`: the queue was closed, the actor is going away.
                if let Some(writes) = writes {
                    act.handle_writes(writes, ctx);
                }
            }));
        }
    }
}

#[cfg(test)]
mod tests;
