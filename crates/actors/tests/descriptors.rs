//! Running out of file descriptors is an error, not a panic. Alone in its test binary:
//! it lowers the process's descriptor limit, which would break tests running beside it.

use broker_actors::{Config, Endpoint, EndpointError};
use broker_wire::Topic;

/// The soft `RLIMIT_NOFILE`, and the hard one.
fn descriptor_limit() -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into a live local.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit
}

fn set_descriptor_limit(limit: libc::rlimit) {
    // SAFETY: setrlimit reads one live rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// The lowest descriptor number not in use: new descriptors get it or a higher one.
fn lowest_free_descriptor() -> u64 {
    let probe = std::fs::File::open("/dev/null").expect("a descriptor is free");
    std::os::fd::AsRawFd::as_raw_fd(&probe) as u64
}

fn is_descriptor_error(result: Result<impl Sized, EndpointError>, queue: &str) -> bool {
    matches!(result, Err(EndpointError::Descriptor { queue: q, .. }) if q == queue)
}

#[test]
fn out_of_descriptors_is_an_error() {
    let endpoint = Endpoint::new(Config::default()).unwrap();
    let original = descriptor_limit();
    set_descriptor_limit(libc::rlimit {
        rlim_cur: lowest_free_descriptor(),
        rlim_max: original.rlim_max,
    });
    let subscriber = endpoint.try_make_subscriber(vec![Topic::from("a")], 10);
    let status_subscriber = endpoint.try_make_status_subscriber(true);
    let publisher = endpoint.try_make_publisher(Topic::from("a"));
    set_descriptor_limit(original);

    assert!(is_descriptor_error(subscriber, "subscriber"));
    assert!(is_descriptor_error(status_subscriber, "status subscriber"));
    assert!(is_descriptor_error(publisher, "publisher"));
    // With descriptors again, the same calls succeed.
    assert!(endpoint
        .try_make_subscriber(vec![Topic::from("a")], 10)
        .is_ok());
    assert!(endpoint.try_make_status_subscriber(true).is_ok());
    assert!(endpoint.try_make_publisher(Topic::from("a")).is_ok());
    endpoint.shutdown();
}
