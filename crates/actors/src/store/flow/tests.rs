//! [`Pending`] through random interleavings, without an actor or a runtime: the actor's
//! output (numbered messages and events, finished writes), the ends of the deliveries,
//! publications and reads it started, in any order the actor allows, with the actor
//! taking writes or not. Checked after every step: one delivery, one batch and one read
//! at most at a time; reads start only while nothing is being published, and only when
//! the actor takes writes; messages are published and events delivered in order, each
//! once; finished writes are counted only once everything queued with them is out. At
//! the end, with every task ended: nothing is left behind, every finished write is
//! counted, and an actor that takes writes awaits them (no stall).

use proptest::prelude::*;

use super::{Next, Pending};

/// What the actor produced from one input: message, event and finished-write counts.
#[derive(Debug, Clone, Copy)]
struct Output {
    messages: u64,
    events: u64,
    finished: u64,
}

#[derive(Debug, Clone)]
enum Step {
    /// The actor handled what peers sent (or a tick).
    Emit(Output),
    /// What peers sent arrived: writes queued already are handled first, if read now.
    WritesFirst(Output),
    /// The batch out was published.
    Published,
    /// The delivery under way ended.
    Delivered,
    /// The pending read got writes; the actor handles them.
    Read(Output),
    /// The actor's `takes_writes` changes (as handling an input does, with its output).
    TakesWrites(bool, Output),
    /// A master's start.
    Flush,
}

/// The actor and its tasks around a [`Pending`].
struct Sim {
    pending: Pending<u64, u64>,
    /// Whether a delivery holds the actor (`ctx.wait`): nothing else happens meanwhile.
    /// Without, the machine must cope with any order.
    holds_actor: bool,
    takes_writes: bool,
    next_message: u64,
    next_event: u64,
    delivering: Option<Vec<u64>>,
    publishing: Option<(Vec<u64>, u64)>,
    reading: bool,
    published: u64,
    delivered: u64,
    /// Per output: one past its last message, and its finished writes.
    outputs: Vec<(u64, u64)>,
    queued_finished: u64,
    counted_finished: u64,
}

impl Sim {
    fn new(holds_actor: bool) -> Self {
        Sim {
            pending: Pending::new(),
            holds_actor,
            takes_writes: true,
            next_message: 0,
            next_event: 0,
            delivering: None,
            publishing: None,
            reading: false,
            published: 0,
            delivered: 0,
            outputs: Vec::new(),
            queued_finished: 0,
            counted_finished: 0,
        }
    }

    fn emit(&mut self, output: Output) {
        let messages = self.next_message..self.next_message + output.messages;
        let events = self.next_event..self.next_event + output.events;
        self.next_message = messages.end;
        self.next_event = events.end;
        self.outputs.push((messages.end, output.finished));
        self.queued_finished += output.finished;
        let next = self
            .pending
            .queue(messages, events, output.finished, self.takes_writes);
        self.obey(next);
    }

    /// Starts what the flow decided, as `flow::start` does.
    fn obey(&mut self, next: Next<u64, u64>) {
        match next {
            Next::Wait => {}
            Next::Deliver(events) => {
                assert!(self.delivering.is_none(), "two deliveries at once");
                assert!(!events.is_empty());
                self.delivering = Some(events);
            }
            Next::Publish { messages, finished } => {
                assert!(self.publishing.is_none(), "two batches at once");
                assert!(!messages.is_empty());
                self.publishing = Some((messages, finished));
            }
            Next::Drained { finished, read } => {
                self.count_finished(finished);
                if read {
                    assert!(!self.reading, "two reads at once");
                    assert!(self.publishing.is_none(), "a read while publishing");
                    assert!(self.takes_writes, "a read while the actor takes none");
                    self.reading = true;
                }
            }
        }
        assert_eq!(self.pending.reading(), self.reading);
    }

    /// Finished writes are counted once every message queued with them is out.
    fn count_finished(&mut self, n: u64) {
        self.counted_finished += n;
        let out: u64 = self
            .outputs
            .iter()
            .filter(|&&(end, _)| end <= self.published)
            .map(|&(_, finished)| finished)
            .sum();
        assert!(
            self.counted_finished <= out,
            "{} finished counted, {out} out",
            self.counted_finished
        );
    }

    fn run(&mut self, step: Step) {
        if self.holds_actor && self.delivering.is_some() && !matches!(step, Step::Delivered) {
            return;
        }
        match step {
            Step::Emit(output) => self.emit(output),
            Step::WritesFirst(output) => {
                if self.pending.reading() {
                    self.emit(output);
                }
            }
            Step::Published => {
                let Some((messages, finished)) = self.publishing.take() else {
                    return;
                };
                for id in messages {
                    assert_eq!(id, self.published, "published out of order or twice");
                    self.published += 1;
                }
                self.count_finished(finished);
                let next = self.pending.published(self.takes_writes);
                self.obey(next);
            }
            Step::Delivered => {
                let Some(events) = self.delivering.take() else {
                    return;
                };
                for id in events {
                    assert_eq!(id, self.delivered, "delivered out of order or twice");
                    self.delivered += 1;
                }
                let next = self.pending.delivered(self.takes_writes);
                self.obey(next);
            }
            Step::Read(output) => {
                if !self.reading {
                    return;
                }
                self.reading = false;
                self.pending.read();
                self.emit(output);
            }
            Step::TakesWrites(takes, output) => {
                self.takes_writes = takes;
                self.emit(output);
            }
            Step::Flush => {
                let next = self.pending.flush(self.takes_writes);
                self.obey(next);
            }
        }
    }

    /// Ends every delivery and publication under way (reads end only with writes).
    fn settle(&mut self) {
        for _ in 0..1000 {
            if self.delivering.is_some() {
                self.run(Step::Delivered);
            } else if self.publishing.is_some() {
                self.run(Step::Published);
            } else {
                break;
            }
        }
        assert!(self.delivering.is_none() && self.publishing.is_none());
        assert_eq!(self.published, self.next_message, "messages left behind");
        assert_eq!(self.delivered, self.next_event, "events left behind");
        assert_eq!(self.counted_finished, self.queued_finished);
        // A read started before the actor stopped taking writes may still be pending.
        assert!(
            self.reading || !self.takes_writes,
            "stalled: writes not awaited"
        );
    }
}

fn output() -> impl Strategy<Value = Output> {
    (0u64..4, 0u64..3, 0u64..3).prop_map(|(messages, events, finished)| Output {
        messages,
        events,
        finished,
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => output().prop_map(Step::Emit),
        2 => output().prop_map(Step::WritesFirst),
        4 => Just(Step::Published),
        3 => Just(Step::Delivered),
        3 => output().prop_map(Step::Read),
        1 => (any::<bool>(), output()).prop_map(|(takes, out)| Step::TakesWrites(takes, out)),
        1 => Just(Step::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn every_interleaving_keeps_order_bounds_and_progress(
        holds_actor in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..80),
    ) {
        let mut sim = Sim::new(holds_actor);
        sim.run(Step::Flush);
        for step in steps {
            sim.run(step);
        }
        sim.settle();
    }
}

#[test]
fn a_master_starts_reading_at_once_and_publishing_pauses_reads() {
    let mut sim = Sim::new(true);
    sim.run(Step::Flush);
    assert!(sim.reading);
    let out = |messages, events, finished| Output {
        messages,
        events,
        finished,
    };
    // Writes arrive: their output goes out, the next read waits for it.
    sim.run(Step::Read(out(2, 0, 2)));
    assert!(!sim.reading && sim.publishing.is_some());
    // Peers' input meanwhile piles up behind the batch.
    sim.run(Step::Emit(out(1, 0, 0)));
    assert_eq!(sim.publishing.as_ref().unwrap().0, vec![0, 1]);
    sim.run(Step::Published);
    assert_eq!(sim.counted_finished, 2);
    assert_eq!(sim.publishing.as_ref().unwrap().0, vec![2]);
    assert!(!sim.reading, "no read while publishing");
    sim.run(Step::Published);
    assert!(sim.reading);
}

#[test]
fn events_are_delivered_before_the_messages_of_their_output_are_published() {
    let mut sim = Sim::new(true);
    sim.run(Step::Emit(Output {
        messages: 1,
        events: 2,
        finished: 0,
    }));
    assert!(sim.delivering.is_some() && sim.publishing.is_none());
    sim.run(Step::Delivered);
    assert!(sim.publishing.is_some());
}

#[test]
fn an_actor_taking_no_writes_is_not_read_until_it_does() {
    let mut sim = Sim::new(true);
    sim.takes_writes = false;
    sim.run(Step::Flush);
    assert!(!sim.reading);
    sim.run(Step::TakesWrites(
        true,
        Output {
            messages: 0,
            events: 0,
            finished: 0,
        },
    ));
    assert!(sim.reading);
}
