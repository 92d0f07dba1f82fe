//! A full status queue sheds events without stalling the core, counts them, and
//! reports them once there is room again.

use std::time::{Duration, Instant};

use broker_actors::{Config, Endpoint, ErrorCode, StatusEvent, StatusSubscriber};

/// An endpoint whose status subscribers hold two events, and one such subscriber.
fn endpoint_with_two_status_slots() -> (Endpoint, StatusSubscriber) {
    let config = Config {
        status_queue: 2,
        ..Config::default()
    };
    let endpoint = Endpoint::new(config).unwrap();
    let statuses = endpoint.make_status_subscriber(true);
    (endpoint, statuses)
}

#[test]
fn overflowing_status_subscriber_counts_what_it_sheds() {
    let (endpoint, statuses) = endpoint_with_two_status_slots();
    // Each unpeer of an unknown peer is answered after its error was emitted.
    for _ in 0..5 {
        assert!(!endpoint.unpeer("127.0.0.1", 1));
    }
    assert_eq!(statuses.dropped(), 3);
    let kept = statuses.poll();
    assert_eq!(kept.len(), 2);
    assert!(kept
        .iter()
        .all(|e| matches!(e, StatusEvent::Error(e) if e.code == ErrorCode::PeerInvalid)));
    // Room again: a report of the shed events comes first (with the next event or
    // from the core's periodic retry, whichever is first), then the next event.
    assert!(!endpoint.unpeer("127.0.0.1", 1));
    let events = statuses.get_n(2, Some(Duration::from_secs(10)));
    let events: Vec<(ErrorCode, &str)> = events
        .iter()
        .map(|e| match e {
            StatusEvent::Error(e) => (e.code, e.message.as_str()),
            StatusEvent::Status(s) => panic!("unexpected status {s:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            (
                ErrorCode::Unspecified,
                "3 status events dropped: the status subscriber's queue was full"
            ),
            (ErrorCode::PeerInvalid, "cannot unpeer from unknown peer"),
        ]
    );
    assert_eq!(statuses.dropped(), 3);
    endpoint.shutdown();
}

/// The report of shed events needs no later event: the core retries while one is due
/// (and only then: an idle endpoint has no timer for it), episode after episode.
#[test]
fn shed_events_are_reported_once_there_is_room_without_another_event() {
    let (endpoint, statuses) = endpoint_with_two_status_slots();
    for episode in 1..=2 {
        for _ in 0..5 {
            assert!(!endpoint.unpeer("127.0.0.1", 1));
        }
        assert_eq!(statuses.dropped(), 3 * episode);
        assert_eq!(statuses.poll().len(), 2);
        let events = statuses.get_n(1, Some(Duration::from_secs(10)));
        assert!(
            matches!(&events[..], [StatusEvent::Error(e)] if e.code == ErrorCode::Unspecified
                && e.message == "3 status events dropped: the status subscriber's queue was full"),
            "episode {episode}: {events:?}"
        );
    }
    endpoint.shutdown();
}

/// A flood of half-open connections timing out at a listener is one status for the
/// first and a sum for the rest, not a status each (which would fill the queues and
/// shed the statuses that matter).
#[test]
fn a_flood_of_half_open_connections_is_summed_up_not_one_status_each() {
    const SILENT: u64 = 100;
    let config = Config {
        disable_ssl: true,
        handshake_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let endpoint = Endpoint::new(config).unwrap();
    let errors = endpoint.make_status_subscriber(false);
    let port = endpoint.listen("127.0.0.1", 0).unwrap();
    let silent: Vec<std::net::TcpStream> = (0..SILENT)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut events, mut failures) = (Vec::new(), 0);
    while failures < SILENT {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(StatusEvent::Error(e)) = errors.get(Some(left)) else {
            panic!("{failures} of {SILENT} failures reported in {events:?}");
        };
        assert_eq!(e.code, ErrorCode::PeerUnavailable, "{e:?}");
        failures += match e.context {
            Some(_) => 1,
            None => e.message.split(' ').next().unwrap().parse::<u64>().unwrap(),
        };
        events.push(e);
    }
    assert_eq!(failures, SILENT, "{events:?}");
    assert!(
        events[0].context.is_some(),
        "the first is reported as it comes"
    );
    assert!(events.len() < 10, "{} statuses for {SILENT}", events.len());
    drop(silent);
    endpoint.shutdown();
}
