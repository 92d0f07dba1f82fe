"""Many peerings on one endpoint (issue 17): the small, CI-sized version of
benches/python/scale.py. Asserts delivery, never time; every wait is bounded."""

import resource

import broker
from conftest import next_status

PEERS = 100
TOPIC = "/scale/probe"


def raise_fd_limit():
    """A hundred endpoints and their sockets in one process need more than the usual 1024
    descriptors on some machines."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_publish_right_after_100_peerings_reaches_every_leaf(endpoints):
    raise_fd_limit()
    rss_before = rss_kb()
    hub = endpoints()
    statuses = hub.make_status_subscriber(True)
    port = hub.listen("127.0.0.1", 0)
    assert port > 0
    subscribers = []
    for _ in range(PEERS):
        leaf = endpoints()
        subscribers.append(leaf.make_subscriber(TOPIC))
        assert leaf.peer("127.0.0.1", port, 0)
    for _ in range(PEERS):
        next_status(statuses, broker.SC.PeerAdded)

    # The hub has every peering (and the filter each brought in its handshake): publish
    # at once, as a user would.
    hub.publish(TOPIC, ["to all", broker.Count(PEERS)])

    received = [subscriber.get(10.0) for subscriber in subscribers]
    missing = [k for k, item in enumerate(received) if item is None]
    assert not missing, "%d of %d leaves got nothing: %s" % (len(missing), PEERS, missing[:10])
    assert all(item == (TOPIC, ("to all", broker.Count(PEERS))) for item in received)
    assert len(hub.peers()) == PEERS

    # 101 endpoints and 100 peerings (both ends in this process) hold little memory:
    # connection buffers are committed as they are used, not up front. With mimalloc
    # committing its arenas eagerly this grew by ~500 MB (~5 MB per endpoint).
    growth_mb = (rss_kb() - rss_before) / 1024
    assert growth_mb < 200, "RSS grew by %.0f MB" % growth_mb
