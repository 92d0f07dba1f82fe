//! A full status queue sheds events without stalling the core, and counts them.

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
    // Room again: the next event is kept, the count stays.
    assert!(!endpoint.unpeer("127.0.0.1", 1));
    assert_eq!(statuses.poll().len(), 1);
    assert_eq!(statuses.dropped(), 3);
    endpoint.shutdown();
}
