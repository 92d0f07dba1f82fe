"""Shared helpers: endpoints on loopback, peered and torn down with bounded waits."""

import time

import pytest

import broker

WAIT = 10.0  # upper bound of every wait, in seconds


def wait_until(predicate, timeout=WAIT):
    """Polls `predicate` until true or `timeout`; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def peer(a, b, retry=0.0):
    """Peers `a` to `b` (which listens on loopback); returns b's port."""
    port = b.listen("127.0.0.1", 0)
    assert port > 0
    assert a.peer("127.0.0.1", port, retry)
    return port


def next_status(status_subscriber, code, timeout=WAIT):
    """The next status or error with `code`, skipping others; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = status_subscriber.get(max(0.0, deadline - time.monotonic()))
        if item is not None and item.code() == code:
            return item
    pytest.fail(f"no {code} within {timeout}s")


def subscribed_pair(make, topics):
    """Two peered endpoints and a subscriber on the second; returns (sender, subscriber)
    once the sender sees the subscription."""
    sender, receiver = make(), make()
    sub = receiver.make_subscriber(topics)
    peer(sender, receiver)
    assert sender.await_peer_subscription(topics, WAIT)
    return sender, sub


@pytest.fixture
def endpoints():
    """A factory of endpoints, all shut down after the test."""
    made = []

    def make(cfg=None):
        ep = broker.Endpoint(cfg)
        made.append(ep)
        return ep

    yield make
    for ep in made:
        ep.shutdown()
