//! Flow control: a stalled subscriber slows its publisher without loss and with
//! bounded memory; the slow-peer policies for peers that stop reading.

mod common;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use broker::actors::{Config, Endpoint, ErrorCode, SlowPeerPolicy, StatusCode, StatusEvent};
use broker::wire::frame::{Hello, NodeId};
use broker::{Data, Topic};
use common::*;

/// Resident set size of this process, from /proc/self/statm.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn stalled_subscriber_backpressures_a_million_messages_without_loss() {
    const TOTAL: u64 = 1_000_000;
    const BATCH: u64 = 1_000;
    let net = Net::uniform(2, &[(1, 0)]);
    let sub = net.nodes[1].make_subscriber(vec![Topic::from("/flow")], 1_000);
    await_subscription(&net.nodes[0], "/flow");
    let payload = "p".repeat(100);
    let published = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let baseline = rss_bytes();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for first in (0..TOTAL).step_by(BATCH as usize) {
                let batch = (first..first + BATCH)
                    .map(|i| {
                        (
                            Topic::from("/flow"),
                            Data::Vector(vec![Data::Count(i), Data::from(payload.as_str())]),
                        )
                    })
                    .collect();
                net.nodes[0].publish_batch(batch);
                published.store(first + BATCH, Ordering::Relaxed);
            }
            done.store(true, Ordering::Relaxed);
        });
        // Stalled: nobody reads. The publisher must get stuck far below the total.
        std::thread::sleep(Duration::from_millis(1_500));
        let stuck_at = published.load(Ordering::Relaxed);
        assert!(
            stuck_at < TOTAL / 2,
            "publisher ran ahead of a stalled subscriber: {stuck_at}"
        );
        let mut peak = rss_bytes();
        // Resume and check every message, in order.
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut next = 0u64;
        while next < TOTAL {
            assert!(
                Instant::now() < deadline,
                "only {next} of {TOTAL} messages arrived"
            );
            for (_, data) in sub.get_n(10_000, Some(Duration::from_millis(100))) {
                let Data::Vector(fields) = data else {
                    panic!("unexpected payload")
                };
                assert_eq!(fields[0], Data::Count(next), "lost or reordered");
                next += 1;
            }
            if next % 100_000 < 10_000 {
                peak = peak.max(rss_bytes());
            }
        }
        assert!(done.load(Ordering::Relaxed) || published.load(Ordering::Relaxed) >= TOTAL - BATCH);
        let growth = peak.saturating_sub(baseline);
        // Unbounded buffering of 1M messages of ~140 bytes would need well over 150 MB.
        assert!(growth < 64 << 20, "memory grew by {} MiB", growth >> 20);
    });
    assert_quiet(&sub);
}

/// A raw peer that completes the handshake, asks for `/slow`, then never reads.
fn stalled_raw_peer(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let hello = Hello::new(NodeId([3; 16]), vec![Topic::from("/slow")]);
    raw_handshake(&mut stream, hello);
    stream
}

fn small_config(slow_peer: SlowPeerPolicy) -> Config {
    Config {
        slow_peer,
        peer_buffer: 256,
        // The peer is a raw socket speaking the frame protocol.
        disable_ssl: true,
        ..Config::default()
    }
}

/// Publishes until `stop` or a bounded number of batches.
fn flood(endpoint: &Endpoint, stop: &AtomicBool) {
    let big = Data::from("x".repeat(1_000));
    for _ in 0..100_000 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        endpoint.publish_batch(
            (0..100)
                .map(|_| (Topic::from("/slow"), big.clone()))
                .collect(),
        );
    }
}

#[test]
fn disconnect_policy_drops_a_peer_that_stops_reading() {
    let endpoint = Endpoint::new(small_config(SlowPeerPolicy::Disconnect {
        after: Duration::from_millis(300),
    }))
    .unwrap();
    let statuses = endpoint.make_status_subscriber(true);
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let _stalled = stalled_raw_peer(port);
    assert_eq!(wait_peered(&statuses, 1), [1, 1]);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| flood(&endpoint, &stop));
        let mut timeout_error = false;
        let mut lost = false;
        let deadline = Instant::now() + WAIT;
        while !(timeout_error && lost) && Instant::now() < deadline {
            match statuses.get(Some(Duration::from_millis(100))) {
                Some(StatusEvent::Error(e)) => timeout_error |= e.code == ErrorCode::PeerTimeout,
                Some(StatusEvent::Status(s)) => lost |= s.code == StatusCode::PeerLost,
                None => {}
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(
            timeout_error && lost,
            "timeout error: {timeout_error}, lost: {lost}"
        );
    });
    assert!(endpoint.peers().is_empty());
    let metrics = endpoint.metrics();
    assert_eq!(
        metrics.value("broker_slow_peer_actions_total", "disconnect"),
        Some(1)
    );
    assert_eq!(
        metrics.value("broker_slow_peer_actions_total", "drop"),
        Some(0)
    );
}

#[test]
fn drop_policy_keeps_publishing_and_reports_episodes() {
    let endpoint = Endpoint::new(small_config(SlowPeerPolicy::Drop)).unwrap();
    let statuses = endpoint.make_status_subscriber(false);
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let _stalled = stalled_raw_peer(port);
    eventually("the raw peer", || endpoint.peers().len() == 1);
    // Never blocks: the whole flood completes although nobody reads.
    let big = Data::from("x".repeat(1_000));
    for _ in 0..200 {
        endpoint.publish_batch(
            (0..100)
                .map(|_| (Topic::from("/slow"), big.clone()))
                .collect(),
        );
    }
    let mut reports = vec![next_event(&statuses)];
    reports.extend(statuses.poll());
    // Each episode reported is one action of the policy in the metrics (the Core
    // counts one just before it queues the event, so the two may differ for a moment).
    let actions = || {
        endpoint
            .metrics()
            .value("broker_slow_peer_actions_total", "drop")
    };
    eventually("one drop action per report", || {
        reports.extend(statuses.poll());
        actions() == Some(reports.len() as i64)
    });
    // Reports come per episode (the kernel's socket buffers let a few writes through
    // before the stall is complete), not per dropped message.
    assert!(
        reports.len() < 20,
        "{} reports for 200 batches",
        reports.len()
    );
    for report in reports {
        match report {
            StatusEvent::Error(e) => {
                assert_eq!(e.code, ErrorCode::PeerTimeout);
                assert!(e.message.contains("dropping"), "{}", e.message);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(endpoint.peers().len(), 1, "the peering stays");
}

#[test]
fn drop_oldest_policy_delivers_the_newest_messages_once_the_peer_reads() {
    use broker::wire::codec::decode_body;
    use broker::wire::Frame;
    const TOTAL: u64 = 20_000;
    let endpoint = Endpoint::new(small_config(SlowPeerPolicy::DropOldest)).unwrap();
    let statuses = endpoint.make_status_subscriber(false);
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let mut stalled = stalled_raw_peer(port);
    eventually("the raw peer", || endpoint.peers().len() == 1);
    // Never blocks: the oldest queued messages make room for the newest.
    let pad = Data::from("x".repeat(1_000));
    for first in (0..TOTAL).step_by(100) {
        endpoint.publish_batch(
            (first..first + 100)
                .map(|i| {
                    let data = Data::Vector(vec![Data::Count(i), pad.clone()]);
                    (Topic::from("/slow"), data)
                })
                .collect(),
        );
    }
    match next_event(&statuses) {
        StatusEvent::Error(e) => {
            assert_eq!(e.code, ErrorCode::PeerTimeout);
            assert!(e.message.contains("dropping"), "{}", e.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Reading again, the peer gets what was kept, in order, up to the newest.
    let number = |data: Data| match data {
        Data::Vector(fields) => match fields[0] {
            Data::Count(n) => n,
            ref other => panic!("unexpected number {other:?}"),
        },
        other => panic!("unexpected payload {other:?}"),
    };
    let mut numbers: Vec<u64> = Vec::new();
    while numbers.last() != Some(&(TOTAL - 1)) {
        if let Frame::Batch(messages) = decode_body(&read_body(&mut stalled)).unwrap() {
            numbers.extend(messages.into_iter().map(|m| number(m.data)));
        }
    }
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "reordered");
    // The oldest were dropped, the newest (up to the last) arrived.
    assert!(numbers.len() < TOTAL as usize, "nothing dropped");
    assert_eq!(endpoint.peers().len(), 1, "the peering stays");
}

#[test]
fn a_peer_cut_loose_by_disconnect_is_welcome_again_while_it_still_stalls() {
    let plaintext = Config {
        disable_ssl: true,
        ..Config::default()
    };
    let stalled_side = Endpoint::new(plaintext.clone()).unwrap();
    // A subscriber that never reads: its full queue parks the peering's reader.
    let _stalled = stalled_side.make_subscriber(vec![Topic::from("/slow")], 8);
    let port = stalled_side.listen("127.0.0.1", 0).unwrap();
    let publisher = Endpoint::new(small_config(SlowPeerPolicy::Disconnect {
        after: Duration::from_millis(200),
    }))
    .unwrap();
    let statuses = publisher.make_status_subscriber(true);
    publisher
        .peer("127.0.0.1", port, Some(Duration::from_millis(200)))
        .unwrap();
    await_subscription(&publisher, "/slow");
    let stop = AtomicBool::new(false);
    let (mut cut, mut added_again) = (false, false);
    std::thread::scope(|scope| {
        scope.spawn(|| flood(&publisher, &stop));
        let deadline = Instant::now() + WAIT;
        while !added_again && Instant::now() < deadline {
            match statuses.get(Some(Duration::from_millis(100))) {
                Some(StatusEvent::Error(e)) if e.code == ErrorCode::PeerTimeout => {
                    cut = true;
                    stop.store(true, Ordering::Relaxed);
                }
                Some(StatusEvent::Status(s)) if s.code == StatusCode::PeerAdded => {
                    added_again = cut;
                }
                _ => {}
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(cut, "the stalled peer was never cut loose");
    assert!(added_again, "the publisher's retries were refused");
}
