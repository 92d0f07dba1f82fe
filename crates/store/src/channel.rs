//! Broker's reliable store channel (its `internal/channel.hh`), as two plain state
//! machines: a [`Producer`] numbering events for any number of consumers, and a
//! [`Consumer`] taking one producer's events in order. No clock and no I/O: the owner
//! calls `tick` every [`TICK`] and carries out the [`ProducerOutput`]s and
//! [`ConsumerOutput`]s each call appends.
//!
//! A master is the producer of its clones' channel and a consumer of each writer's; a
//! clone is the consumer of its master's channel and the producer of its writer channel.
//! The dynamics follow Broker 2.8:
//! - The producer's sequence starts at 1, so the first event is 2 (0 means "attach me"
//!   in a nack, and a handshake's offset 1 means "nothing yet"). Events are numbered
//!   only while some consumer is attached: with none, nothing is produced.
//! - A handshake tells a consumer the offset its events start after; the consumer acks
//!   it at once (`cumulative_ack{offset}`), which completes the handshake.
//! - The consumer acks cumulatively every `heartbeat_interval` ticks while it makes
//!   progress, and nacks every missing number after [`NACK_TIMEOUT_TICKS`] idle ticks;
//!   the producer resends what it still has and answers `retransmit_failed` for the
//!   rest, which the consumer skips (its owner learns the event was lost).
//! - An idle producer sends a keepalive with its last number every
//!   `heartbeat_interval` ticks, so a consumer that missed the tail notices; a consumer
//!   silent for `heartbeat_interval ×` [`CONNECTION_TIMEOUT_FACTOR`] ticks is dropped.
//! - Events are kept until every consumer acked them.

use std::collections::VecDeque;
use std::time::Duration;

/// How often the owner of a channel calls `tick` (Broker's `store::tick_interval`).
pub const TICK: Duration = Duration::from_millis(100);

/// Ticks between heartbeats (Broker's `store::heartbeat_interval`).
pub const HEARTBEAT_TICKS: u16 = 5;

/// Idle ticks before a consumer nacks what is missing (Broker's `store::nack_timeout`).
pub const NACK_TIMEOUT_TICKS: u16 = 2;

/// Heartbeats without word from a consumer after which the producer drops it.
pub const CONNECTION_TIMEOUT_FACTOR: u64 = 4;

/// What a [`Producer`] asks its owner to send or know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProducerOutput<H, P> {
    /// Tell consumer `to` that its events start after `offset`.
    Handshake {
        /// The consumer.
        to: H,
        /// The last event it will not get.
        offset: u64,
        /// Ticks between its acks.
        heartbeat_interval: u16,
    },
    /// Send event `seq` to every consumer.
    Broadcast {
        /// Its number.
        seq: u64,
        /// The event.
        payload: P,
    },
    /// Send event `seq` again, to consumer `to`.
    Resend {
        /// The consumer that nacked it.
        to: H,
        /// Its number.
        seq: u64,
        /// The event.
        payload: P,
    },
    /// Tell consumer `to` that event `seq` is gone.
    RetransmitFailed {
        /// The consumer that nacked it.
        to: H,
        /// The event lost.
        seq: u64,
    },
    /// Tell every consumer the last number so far.
    Keepalive {
        /// The last event produced.
        seq: u64,
    },
    /// Consumer `to` acknowledged its handshake.
    HandshakeCompleted(H),
    /// Consumer `to` was dropped: silent too long, or its nack was malformed.
    Dropped(H),
}

/// One consumer as the producer sees it.
#[derive(Debug, Clone)]
struct Path<H> {
    consumer: H,
    /// The offset of its handshake.
    offset: u64,
    /// The last event it acknowledged (0: not even the handshake).
    acked: u64,
    /// The tick it was last heard from.
    last_seen: u64,
}

/// The sending end of a channel: numbers events, keeps them until every consumer has
/// them, resends on request.
#[derive(Debug, Clone)]
pub struct Producer<H, P> {
    seq: u64,
    tick: u64,
    last_broadcast: u64,
    buf: VecDeque<(u64, P)>,
    paths: Vec<Path<H>>,
    heartbeat_interval: u16,
}

impl<H: Clone + PartialEq, P: Clone> Default for Producer<H, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Clone + PartialEq, P: Clone> Producer<H, P> {
    /// A producer with no consumers and Broker's heartbeat interval.
    pub fn new() -> Self {
        Producer {
            seq: 1,
            tick: 0,
            last_broadcast: 0,
            buf: VecDeque::new(),
            paths: Vec::new(),
            heartbeat_interval: HEARTBEAT_TICKS,
        }
    }

    /// The number the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    /// Whether any consumer is attached (events are numbered only then).
    pub fn has_consumers(&self) -> bool {
        !self.paths.is_empty()
    }

    /// The attached consumers.
    pub fn consumers(&self) -> impl Iterator<Item = &H> {
        self.paths.iter().map(|path| &path.consumer)
    }

    /// Events kept for consumers that have not acked them yet.
    pub fn unacknowledged(&self) -> usize {
        self.buf.len()
    }

    /// The consumers that have not acknowledged their handshake yet, with its offset
    /// (a writer repeats its handshake to them with each keepalive).
    pub fn pending_handshakes(&self) -> impl Iterator<Item = (&H, u64)> {
        self.paths
            .iter()
            .filter(|path| path.acked == 0)
            .map(|path| (&path.consumer, path.offset))
    }

    /// Whether every consumer acknowledged everything.
    pub fn idle(&self) -> bool {
        self.paths.iter().all(|path| path.acked == self.seq)
    }

    /// Numbers `payload` and broadcasts it; its number, or `None` (and nothing sent)
    /// without consumers.
    pub fn produce(&mut self, payload: P, out: &mut Vec<ProducerOutput<H, P>>) -> Option<u64> {
        if self.paths.is_empty() {
            return None;
        }
        self.seq += 1;
        self.buf.push_back((self.seq, payload.clone()));
        self.last_broadcast = self.tick;
        out.push(ProducerOutput::Broadcast {
            seq: self.seq,
            payload,
        });
        Some(self.seq)
    }

    /// Attaches `consumer` from the next event on and sends it the handshake; false if
    /// it is attached already.
    pub fn add(&mut self, consumer: H, out: &mut Vec<ProducerOutput<H, P>>) -> bool {
        if self.path(&consumer).is_some() {
            return false;
        }
        out.push(ProducerOutput::Handshake {
            to: consumer.clone(),
            offset: self.seq,
            heartbeat_interval: self.heartbeat_interval,
        });
        self.paths.push(Path {
            consumer,
            offset: self.seq,
            acked: 0,
            last_seen: self.tick,
        });
        true
    }

    /// `consumer` has every event up to `seq`.
    pub fn handle_ack(&mut self, consumer: &H, seq: u64, out: &mut Vec<ProducerOutput<H, P>>) {
        let Some(index) = self.path(consumer) else {
            return;
        };
        let path = &mut self.paths[index];
        if path.acked > seq {
            return;
        }
        path.last_seen = self.tick;
        if path.acked == 0 {
            out.push(ProducerOutput::HandshakeCompleted(consumer.clone()));
        } else if path.acked == seq {
            return;
        }
        path.acked = seq;
        self.trim();
    }

    /// `consumer` misses `seqs`; `[0]` from an unknown consumer asks to attach it, and
    /// from a known one to repeat its handshake.
    pub fn handle_nack(&mut self, consumer: &H, seqs: &[u64], out: &mut Vec<ProducerOutput<H, P>>) {
        let Some(&first) = seqs.first() else {
            return;
        };
        let Some(index) = self.path(consumer) else {
            if seqs == [0] {
                self.add(consumer.clone(), out);
            }
            return;
        };
        self.paths[index].last_seen = self.tick;
        if !seqs.is_sorted() {
            self.paths.remove(index);
            out.push(ProducerOutput::Dropped(consumer.clone()));
            self.trim();
            return;
        }
        if first == 0 {
            out.push(ProducerOutput::Handshake {
                to: consumer.clone(),
                offset: self.paths[index].offset,
                heartbeat_interval: self.heartbeat_interval,
            });
            return;
        }
        self.handle_ack(consumer, first - 1, out);
        for &seq in seqs {
            let kept = self.buf.iter().find(|(kept, _)| *kept == seq);
            out.push(match kept {
                Some((_, payload)) => ProducerOutput::Resend {
                    to: consumer.clone(),
                    seq,
                    payload: payload.clone(),
                },
                None => ProducerOutput::RetransmitFailed {
                    to: consumer.clone(),
                    seq,
                },
            });
        }
    }

    /// One tick: a keepalive when idle for a heartbeat interval, and silent consumers
    /// dropped.
    pub fn tick(&mut self, out: &mut Vec<ProducerOutput<H, P>>) {
        self.tick += 1;
        if self.heartbeat_interval == 0 {
            return;
        }
        if self.last_broadcast + u64::from(self.heartbeat_interval) == self.tick {
            self.last_broadcast = self.tick;
            if !self.paths.is_empty() {
                out.push(ProducerOutput::Keepalive { seq: self.seq });
            }
        }
        let timeout = u64::from(self.heartbeat_interval) * CONNECTION_TIMEOUT_FACTOR;
        let now = self.tick;
        let before = self.paths.len();
        self.paths.retain(|path| {
            let alive = now - path.last_seen < timeout;
            if !alive {
                out.push(ProducerOutput::Dropped(path.consumer.clone()));
            }
            alive
        });
        if self.paths.len() != before {
            self.trim();
        }
    }

    fn path(&self, consumer: &H) -> Option<usize> {
        self.paths
            .iter()
            .position(|path| path.consumer == *consumer)
    }

    /// Forgets the events every consumer has.
    fn trim(&mut self) {
        let acked = self.paths.iter().map(|path| path.acked).min();
        match acked {
            None => self.buf.clear(),
            Some(acked) => {
                while self.buf.front().is_some_and(|(seq, _)| *seq <= acked) {
                    self.buf.pop_front();
                }
            }
        }
    }
}

/// What a [`Consumer`] asks its owner to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerOutput<P> {
    /// Apply the next event.
    Deliver(P),
    /// The next event (this number) is lost for good: the producer could not resend it.
    Lost(u64),
    /// Tell the producer every event up to this one arrived.
    Ack(u64),
    /// Ask the producer for these events; `[0]` asks it to attach this consumer.
    Nack(Vec<u64>),
}

/// The receiving end of a channel: delivers one producer's events in order, asking for
/// what is missing.
#[derive(Debug, Clone)]
pub struct Consumer<P> {
    /// The next event to deliver; 0 until the handshake.
    next_seq: u64,
    /// One past the highest number heard of.
    last_seq: u64,
    /// Events (or losses, `None`) that arrived ahead of `next_seq`, by number.
    buf: VecDeque<(u64, Option<P>)>,
    tick: u64,
    last_tick_seq: u64,
    idle_ticks: u16,
    heartbeat_interval: u16,
    nack_timeout: u16,
}

impl<P> Default for Consumer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> Consumer<P> {
    /// A consumer waiting for its handshake (nacking `[0]` every
    /// [`NACK_TIMEOUT_TICKS`] ticks meanwhile).
    pub fn new() -> Self {
        Consumer {
            next_seq: 0,
            last_seq: 0,
            buf: VecDeque::new(),
            tick: 0,
            last_tick_seq: 0,
            idle_ticks: 0,
            heartbeat_interval: 0,
            nack_timeout: NACK_TIMEOUT_TICKS,
        }
    }

    /// Whether the handshake arrived.
    pub fn initialized(&self) -> bool {
        self.next_seq != 0
    }

    /// The number of the next event to deliver (0 before the handshake).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether everything heard of was delivered.
    pub fn idle(&self) -> bool {
        self.initialized() && self.buf.is_empty() && self.next_seq == self.last_seq
    }

    /// Back to waiting for a handshake.
    pub fn reset(&mut self) {
        *self = Consumer::new();
    }

    /// The producer's handshake: events start after `offset`. Events that arrived
    /// before it and follow the offset are delivered. False if it was initialized
    /// already (a repeated handshake).
    pub fn handle_handshake(
        &mut self,
        offset: u64,
        heartbeat_interval: u16,
        out: &mut Vec<ConsumerOutput<P>>,
    ) -> bool {
        if self.initialized() {
            return false;
        }
        self.next_seq = offset + 1;
        self.last_seq = self.next_seq;
        self.heartbeat_interval = heartbeat_interval;
        while self.buf.front().is_some_and(|(seq, _)| *seq <= offset) {
            self.buf.pop_front();
        }
        self.consume_buffer(out);
        self.send_ack(out);
        true
    }

    /// The producer's keepalive: it produced up to `seq`.
    pub fn handle_heartbeat(&mut self, seq: u64) {
        if self.last_seq == 0 || seq == 0 {
            return;
        }
        self.last_seq = self.last_seq.max(seq + 1);
    }

    /// Event `seq` arrived.
    pub fn handle_event(&mut self, seq: u64, payload: P, out: &mut Vec<ConsumerOutput<P>>) {
        if seq == self.next_seq && self.initialized() {
            out.push(ConsumerOutput::Deliver(payload));
            self.bump();
            self.consume_buffer(out);
        } else if seq > self.next_seq {
            self.last_seq = self.last_seq.max(seq);
            self.buffer(seq, Some(payload));
        }
    }

    /// Event `seq` cannot be resent.
    pub fn handle_retransmit_failed(&mut self, seq: u64, out: &mut Vec<ConsumerOutput<P>>) {
        if !self.initialized() {
            return;
        }
        if seq == self.next_seq {
            out.push(ConsumerOutput::Lost(seq));
            self.bump();
            self.consume_buffer(out);
        } else if seq > self.next_seq {
            self.buffer(seq, None);
        }
    }

    /// One tick: before the handshake, nack `[0]` every nack timeout; then ack while
    /// making progress, nack the gaps after the nack timeout without.
    pub fn tick(&mut self, out: &mut Vec<ConsumerOutput<P>>) {
        self.tick += 1;
        if !self.initialized() {
            self.idle_ticks += 1;
            if self.idle_ticks >= self.nack_timeout {
                self.idle_ticks = 0;
                out.push(ConsumerOutput::Nack(vec![0]));
            }
            return;
        }
        let heartbeat_due = self.heartbeat_interval > 0
            && (self.tick - 1).is_multiple_of(u64::from(self.heartbeat_interval));
        let progressed = self.next_seq > self.last_tick_seq;
        self.last_tick_seq = self.next_seq;
        if progressed {
            self.idle_ticks = 0;
            if heartbeat_due {
                self.send_ack(out);
            }
            return;
        }
        self.idle_ticks += 1;
        if self.next_seq < self.last_seq && self.idle_ticks >= self.nack_timeout {
            self.idle_ticks = 0;
            let mut missing = Vec::new();
            let mut next = self.next_seq;
            for seq in self.buf.iter().map(|(seq, _)| *seq).chain([self.last_seq]) {
                missing.extend(next..seq);
                next = seq + 1;
            }
            out.push(ConsumerOutput::Nack(missing));
            return;
        }
        if heartbeat_due {
            self.send_ack(out);
        }
    }

    fn bump(&mut self) {
        self.next_seq += 1;
        self.last_seq = self.last_seq.max(self.next_seq);
    }

    /// Keeps `seq` (an event, or a loss) until its turn; a loss never replaces an event,
    /// an event replaces a loss.
    fn buffer(&mut self, seq: u64, payload: Option<P>) {
        let at = self.buf.partition_point(|(kept, _)| *kept < seq);
        match self.buf.get_mut(at) {
            Some((kept, slot)) if *kept == seq => {
                if slot.is_none() {
                    *slot = payload;
                }
            }
            _ => self.buf.insert(at, (seq, payload)),
        }
    }

    /// Delivers what the buffer holds from `next_seq` on.
    fn consume_buffer(&mut self, out: &mut Vec<ConsumerOutput<P>>) {
        while self
            .buf
            .front()
            .is_some_and(|(seq, _)| *seq == self.next_seq)
        {
            let (seq, payload) = self.buf.pop_front().expect("checked");
            out.push(match payload {
                Some(payload) => ConsumerOutput::Deliver(payload),
                None => ConsumerOutput::Lost(seq),
            });
            self.bump();
        }
    }

    fn send_ack(&self, out: &mut Vec<ConsumerOutput<P>>) {
        out.push(ConsumerOutput::Ack(self.next_seq.saturating_sub(1)));
    }
}

#[cfg(test)]
mod tests;
