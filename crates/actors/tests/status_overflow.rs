//! A full status queue sheds events without stalling the core, counts them, and
//! reports them once there is room again.

use std::time::Duration;

use broker_actors::{Config, Endpoint, ErrorCode, StatusEvent};

#[test]
fn overflowing_status_subscriber_counts_what_it_sheds() {
    let config = Config {
        status_queue: 2,
        ..Config::default()
    };
    let endpoint = Endpoint::new(config).unwrap();
    let statuses = endpoint.make_status_subscriber(true);
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
