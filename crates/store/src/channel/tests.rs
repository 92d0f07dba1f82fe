//! The channel's state machines driven by hand and over a simulated lossy network: no
//! sockets, no clock.

use super::*;

type Out = Vec<ProducerOutput<char, u32>>;
type In = Vec<ConsumerOutput<u32>>;

/// A producer with consumer `a` attached and its handshake acked.
fn attached() -> (Producer<char, u32>, Consumer<u32>) {
    let mut producer = Producer::new();
    let mut consumer = Consumer::new();
    let mut out = Out::new();
    let mut acks = In::new();
    assert!(producer.add('a', &mut out));
    let ProducerOutput::Handshake {
        offset,
        heartbeat_interval,
        ..
    } = out[0]
    else {
        panic!("{out:?}")
    };
    assert!(consumer.handle_handshake(offset, heartbeat_interval, &mut acks));
    let ConsumerOutput::Ack(seq) = acks[0] else {
        panic!("{acks:?}")
    };
    producer.handle_ack(&'a', seq, &mut out);
    assert_eq!(out.last(), Some(&ProducerOutput::HandshakeCompleted('a')));
    (producer, consumer)
}

fn delivered(outputs: &In) -> Vec<u32> {
    outputs
        .iter()
        .filter_map(|o| match o {
            ConsumerOutput::Deliver(p) => Some(*p),
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_is_numbered_without_consumers_and_the_first_event_is_two() {
    let mut producer = Producer::<char, u32>::new();
    let mut out = Out::new();
    assert_eq!(producer.produce(7, &mut out), None);
    assert!(out.is_empty());
    assert!(producer.add('a', &mut out));
    assert!(!producer.add('a', &mut out), "a consumer is attached once");
    assert_eq!(
        out,
        vec![ProducerOutput::Handshake {
            to: 'a',
            offset: 1,
            heartbeat_interval: HEARTBEAT_TICKS
        }]
    );
    out.clear();
    assert_eq!(producer.produce(7, &mut out), Some(2));
    assert_eq!(out, vec![ProducerOutput::Broadcast { seq: 2, payload: 7 }]);
}

#[test]
fn a_consumer_asks_to_attach_until_the_handshake_and_acks_it_at_once() {
    let mut consumer = Consumer::<u32>::new();
    let mut out = In::new();
    for _ in 0..4 {
        consumer.tick(&mut out);
    }
    assert_eq!(out, vec![ConsumerOutput::Nack(vec![0]); 2], "every 2 ticks");
    // Events broadcast before the handshake reached us: kept, delivered after it.
    out.clear();
    consumer.handle_event(3, 30, &mut out);
    consumer.handle_event(2, 20, &mut out);
    assert!(out.is_empty());
    assert!(consumer.handle_handshake(1, 5, &mut out));
    assert_eq!(
        out,
        vec![
            ConsumerOutput::Deliver(20),
            ConsumerOutput::Deliver(30),
            ConsumerOutput::Ack(3)
        ]
    );
    assert!(!consumer.handle_handshake(1, 5, &mut out), "repeated");
    assert!(consumer.idle());
}

#[test]
fn nack_zero_attaches_an_unknown_consumer_and_repeats_a_known_ones_handshake() {
    let mut producer = Producer::<char, u32>::new();
    let mut out = Out::new();
    producer.add('a', &mut out);
    producer.produce(1, &mut out);
    out.clear();
    producer.handle_nack(&'b', &[0], &mut out);
    producer.handle_nack(&'b', &[0], &mut out);
    producer.handle_nack(&'c', &[5], &mut out);
    let handshake = ProducerOutput::Handshake {
        to: 'b',
        offset: 2,
        heartbeat_interval: HEARTBEAT_TICKS,
    };
    assert_eq!(out, vec![handshake.clone(), handshake]);
    assert_eq!(
        producer.consumers().copied().collect::<Vec<_>>(),
        ['a', 'b']
    );
}

#[test]
fn a_gap_is_nacked_after_two_idle_ticks_and_filled_by_a_resend() {
    let (mut producer, mut consumer) = attached();
    let mut out = Out::new();
    let mut got = In::new();
    for payload in [20, 30, 40] {
        producer.produce(payload, &mut out);
    }
    consumer.handle_event(2, 20, &mut got);
    consumer.handle_event(4, 40, &mut got);
    assert_eq!(delivered(&got), [20]);
    got.clear();
    consumer.tick(&mut got); // progressed since the handshake: an ack
    consumer.tick(&mut got);
    consumer.tick(&mut got);
    assert_eq!(
        got,
        vec![ConsumerOutput::Ack(2), ConsumerOutput::Nack(vec![3])]
    );
    out.clear();
    producer.handle_nack(&'a', &[3], &mut out);
    assert_eq!(
        out,
        vec![ProducerOutput::Resend {
            to: 'a',
            seq: 3,
            payload: 30
        }]
    );
    got.clear();
    consumer.handle_event(3, 30, &mut got);
    assert_eq!(delivered(&got), [30, 40]);
    assert!(consumer.idle());
}

#[test]
fn a_lost_event_is_skipped_and_reported() {
    let (mut producer, mut consumer) = attached();
    let mut out = Out::new();
    for payload in [20, 30] {
        producer.produce(payload, &mut out);
    }
    // The consumer acked both (say, from a previous life), then asks for 3 again: gone.
    producer.handle_ack(&'a', 3, &mut out);
    assert_eq!(producer.unacknowledged(), 0);
    out.clear();
    producer.handle_nack(&'a', &[3], &mut out);
    assert_eq!(
        out,
        vec![ProducerOutput::RetransmitFailed { to: 'a', seq: 3 }]
    );
    let mut got = In::new();
    consumer.handle_event(2, 20, &mut got);
    consumer.handle_event(4, 40, &mut got);
    consumer.handle_retransmit_failed(3, &mut got);
    assert_eq!(
        got,
        vec![
            ConsumerOutput::Deliver(20),
            ConsumerOutput::Lost(3),
            ConsumerOutput::Deliver(40)
        ]
    );
}

#[test]
fn a_keepalive_reveals_a_lost_tail() {
    let (mut producer, mut consumer) = attached();
    let mut out = Out::new();
    producer.produce(20, &mut out); // never arrives
    out.clear();
    for _ in 0..HEARTBEAT_TICKS {
        producer.tick(&mut out);
    }
    assert_eq!(out, vec![ProducerOutput::Keepalive { seq: 2 }]);
    let mut got = In::new();
    consumer.handle_heartbeat(2);
    for _ in 0..3 {
        consumer.tick(&mut got);
    }
    assert!(got.contains(&ConsumerOutput::Nack(vec![2])), "{got:?}");
}

#[test]
fn a_silent_consumer_is_dropped_and_its_events_forgotten() {
    let (mut producer, _) = attached();
    let mut out = Out::new();
    producer.produce(20, &mut out);
    assert_eq!(producer.unacknowledged(), 1);
    out.clear();
    let timeout = u64::from(HEARTBEAT_TICKS) * CONNECTION_TIMEOUT_FACTOR;
    for _ in 0..timeout - 1 {
        producer.tick(&mut out);
    }
    assert!(!out.contains(&ProducerOutput::Dropped('a')));
    producer.tick(&mut out);
    assert!(out.contains(&ProducerOutput::Dropped('a')), "{out:?}");
    assert!(!producer.has_consumers());
    assert_eq!(producer.unacknowledged(), 0);
}

#[test]
fn an_unsorted_nack_drops_the_consumer() {
    let (mut producer, _) = attached();
    let mut out = Out::new();
    producer.produce(20, &mut out);
    producer.produce(30, &mut out);
    out.clear();
    producer.handle_nack(&'a', &[3, 2], &mut out);
    assert_eq!(out, vec![ProducerOutput::Dropped('a')]);
    assert!(!producer.has_consumers());
}

#[test]
fn events_are_kept_until_every_consumer_acked_them() {
    let (mut producer, _) = attached();
    let mut out = Out::new();
    producer.add('b', &mut out);
    producer.handle_ack(&'b', 1, &mut out);
    producer.produce(20, &mut out);
    producer.produce(30, &mut out);
    producer.handle_ack(&'a', 3, &mut out);
    assert_eq!(producer.unacknowledged(), 2);
    producer.handle_ack(&'b', 2, &mut out);
    assert_eq!(producer.unacknowledged(), 1);
    producer.handle_ack(&'b', 3, &mut out);
    assert_eq!(producer.unacknowledged(), 0);
    assert!(producer.idle());
}

/// A deterministic pseudo-random source (xorshift64).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, percent: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 100 < percent
    }
}

/// Percent of messages the simulated network loses, each direction.
const LOSS: u64 = 20;

/// A producer and three consumers (one attaching late) over a network losing a fifth
/// of every kind of message in both directions: every consumer ends up with every event
/// produced after its handshake, in order, exactly once, and the producer keeps nothing.
#[test]
fn every_event_arrives_once_and_in_order_over_a_lossy_network() {
    for seed in 1..=20u64 {
        let mut dice = Dice(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut producer = Producer::<usize, u32>::new();
        let mut consumers: Vec<Consumer<u32>> = (0..3).map(|_| Consumer::new()).collect();
        let mut got: Vec<Vec<u32>> = vec![Vec::new(); 3];
        // The first event each consumer must get, known once its handshake is applied.
        let mut first: Vec<Option<u64>> = vec![None; 3];
        let mut produced: Vec<(u64, u32)> = Vec::new();
        let mut to_producer: Vec<(usize, ConsumerOutput<u32>)> = Vec::new();
        let mut out = Vec::new();
        for round in 0..600u32 {
            if round % 10 == 0 {
                producer.tick(&mut out);
            }
            let active = if round < 100 { 2 } else { 3 };
            if round < 250 && dice.roll(50) {
                if let Some(seq) = producer.produce(round, &mut out) {
                    produced.push((seq, round));
                }
            }
            // Producer → consumers, each delivery lost with probability LOSS.
            for output in out.drain(..) {
                for (i, consumer) in consumers.iter_mut().enumerate().take(active) {
                    if dice.roll(LOSS) {
                        continue;
                    }
                    let mut fx = Vec::new();
                    match &output {
                        ProducerOutput::Handshake {
                            to,
                            offset,
                            heartbeat_interval,
                        } if *to == i
                            && consumer.handle_handshake(*offset, *heartbeat_interval, &mut fx) =>
                        {
                            first[i] = Some(offset + 1);
                        }
                        ProducerOutput::Broadcast { seq, payload } => {
                            consumer.handle_event(*seq, *payload, &mut fx)
                        }
                        ProducerOutput::Resend { to, seq, payload } if *to == i => {
                            consumer.handle_event(*seq, *payload, &mut fx)
                        }
                        ProducerOutput::RetransmitFailed { to, seq } if *to == i => {
                            consumer.handle_retransmit_failed(*seq, &mut fx)
                        }
                        ProducerOutput::Keepalive { seq } => consumer.handle_heartbeat(*seq),
                        _ => {}
                    }
                    for effect in fx {
                        match effect {
                            ConsumerOutput::Deliver(p) => got[i].push(p),
                            ConsumerOutput::Lost(seq) => panic!("seed {seed}: {i} lost {seq}"),
                            other => to_producer.push((i, other)),
                        }
                    }
                }
            }
            if round % 10 == 5 {
                for (i, consumer) in consumers.iter_mut().enumerate().take(active) {
                    let mut fx = Vec::new();
                    consumer.tick(&mut fx);
                    to_producer.extend(fx.into_iter().map(|o| (i, o)));
                }
            }
            // Consumers → producer, lost with probability LOSS.
            for (i, message) in to_producer.drain(..) {
                if dice.roll(LOSS) {
                    continue;
                }
                match message {
                    ConsumerOutput::Ack(seq) => producer.handle_ack(&i, seq, &mut out),
                    ConsumerOutput::Nack(seqs) => producer.handle_nack(&i, &seqs, &mut out),
                    _ => unreachable!(),
                }
            }
        }
        for (i, got) in got.iter().enumerate() {
            let from = first[i].unwrap_or_else(|| panic!("seed {seed}: {i} never attached"));
            let expected: Vec<u32> = produced
                .iter()
                .filter(|(seq, _)| *seq >= from)
                .map(|(_, p)| *p)
                .collect();
            assert_eq!(*got, expected, "seed {seed}: consumer {i}");
        }
        assert_eq!(producer.consumers().count(), 3, "seed {seed}");
        assert_eq!(producer.unacknowledged(), 0, "seed {seed}");
    }
}
