"""Faults through the Python API (the fault campaign's Python half; docs/reliability.md):
a subscriber process SIGKILLed mid-stream and restarted, a stalled consumer, and a
process out of file descriptors. Every wait is bounded."""

import collections
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

import broker
from conftest import WAIT, next_status, peer, wait_until

# A subscriber in its own process: peers with the publisher at argv[1], prints `ready`,
# then one line per message received (its value).
SUBSCRIBER = """
import broker, sys
ep = broker.Endpoint()
sub = ep.make_subscriber("/faults", 1000)
assert ep.peer("127.0.0.1", int(sys.argv[1]), 0.2)
print("ready", flush=True)
for _, value in sub:
    print(value, flush=True)
"""


class SubscriberProcess:
    """A subscriber process whose received values are counted into `seen`."""

    def __init__(self, port, seen, lock):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER, str(port)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "ready"
        self.reader = threading.Thread(target=self._read, args=(seen, lock), daemon=True)
        self.reader.start()

    def _read(self, seen, lock):
        for line in self.proc.stdout:
            with lock:
                seen[int(line)] += 1

    def kill(self):
        """SIGKILL, and wait until everything it printed was counted."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=WAIT)
        self.reader.join(timeout=WAIT)

    def stop(self):
        if self.proc.poll() is None:
            self.kill()


def test_subscriber_killed_mid_stream_and_restarted(endpoints):
    # Promised: what was published on the healthy peering and everything published once
    # the restarted subscriber's filter arrived, each exactly once. The burst in flight
    # at the SIGKILL may be lost, and then the publisher reports PeerLost.
    n = 500
    publisher = endpoints()
    statuses = publisher.make_status_subscriber(True)
    port = publisher.listen("127.0.0.1", 0)
    seen, lock = collections.Counter(), threading.Lock()

    def received(values):
        with lock:
            return all(seen[v] for v in values)

    first = SubscriberProcess(port, seen, lock)
    try:
        assert publisher.await_peer_subscription("/faults/x", 10)
        for i in range(n):
            publisher.publish("/faults/x", i)
        assert wait_until(lambda: received(range(n)))
        for i in range(n, 2 * n):  # in flight when the subscriber dies
            publisher.publish("/faults/x", i)
        first.kill()
    finally:
        first.stop()
    next_status(statuses, broker.SC.PeerLost)
    assert wait_until(lambda: not publisher.peer_subscriptions())
    second = SubscriberProcess(port, seen, lock)
    try:
        assert publisher.await_peer_subscription("/faults/x", 10)
        for i in range(2 * n, 3 * n):
            publisher.publish("/faults/x", i)
        assert wait_until(lambda: received(range(2 * n, 3 * n)))
        time.sleep(0.2)  # late copies, if any, would show now
    finally:
        second.stop()
    with lock:
        assert max(seen.values()) == 1, "duplicates"
        assert set(seen) <= set(range(3 * n))
        assert set(range(n)) | set(range(2 * n, 3 * n)) <= set(seen)


def test_stalled_consumer_loses_nothing(endpoints):
    # With the default Block policy a consumer that stops reading slows the publisher
    # down; once it reads again it gets every message once, in order.
    n = 20000
    a, b = endpoints(), endpoints()
    sub = b.make_subscriber("/stall", 16)
    peer(a, b)
    assert a.await_peer_subscription("/stall", 10)
    published = threading.Event()

    def publish():
        for i in range(n):
            a.publish("/stall/x", i)
        published.set()

    threading.Thread(target=publish, daemon=True).start()
    time.sleep(1.0)  # the stall: nobody reads
    got = []
    while len(got) < n:
        item = sub.get(WAIT)
        assert item is not None, f"stalled at {len(got)} of {n}"
        got.append(item[1])
    assert published.wait(WAIT)
    assert got == list(range(n))
    assert sub.get(0.2) is None


# Runs out of file descriptors while peered, tries what needs new ones, gets them back,
# and prints what happened as JSON.
EXHAUST = """
import broker, json, os, resource, time

def wait_until(predicate):
    deadline = time.monotonic() + 10
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)
    return predicate()

out = {}
a, b, far = broker.Endpoint(), broker.Endpoint(), broker.Endpoint()
sub = b.make_subscriber("/fds", 1000)
port, far_port = b.listen("127.0.0.1", 0), far.listen("127.0.0.1", 0)
assert a.peer("127.0.0.1", port, 0)
assert a.await_peer_subscription("/fds", 10)
statuses = a.make_status_subscriber(True)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
held = []
try:
    while True:
        held.append(open(os.devnull))
except OSError as e:
    out["errno"] = e.errno
for i in range(100):
    a.publish("/fds/x", i)
out["delivered"] = [sub.get(10.0) for _ in range(100)].count(None) == 0
def attempt(what):
    try:
        return repr(what())
    except BaseException as e:
        return type(e).__name__
out["peer_exhausted"] = attempt(lambda: a.peer("127.0.0.1", far_port, 0))
out["errors"] = [str(s.code()) for s in statuses.poll() if isinstance(s, broker.Error)]
held.clear()
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
out["peer_after"] = a.peer("127.0.0.1", far_port, 0)
c = broker.Endpoint()
sub_c = c.make_subscriber("/fds", 1000)
out["endpoint_after"] = c.peer("127.0.0.1", port, 0)
print(json.dumps(out), flush=True)
for ep in (a, b, c, far):
    ep.shutdown()
"""


def test_fd_exhaustion_gives_errors_and_recovers():
    # Out of descriptors, an endpoint keeps its peerings, refuses new ones with an error
    # status (not a crash), and works again once descriptors return.
    proc = subprocess.run(
        [sys.executable, "-c", EXHAUST], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["errno"] == 24  # EMFILE
    assert out["delivered"]
    assert out["peer_exhausted"] == "False", out
    assert out["errors"], out
    assert out["peer_after"] is True and out["endpoint_after"] is True, out


# Starts an endpoint with no descriptor left and prints what happened.
NEW_ENDPOINT = """
import broker, os, resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))
held = []
try:
    while True:
        held.append(open(os.devnull))
except OSError:
    pass
try:
    broker.Endpoint().shutdown()
    print("started")
except RuntimeError as e:
    print("RuntimeError", type(e).__name__, e)
"""


def test_an_endpoint_without_descriptors_fails_cleanly_and_says_why():
    proc = subprocess.run(
        [sys.executable, "-c", NEW_ENDPOINT], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "panicked" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith("RuntimeError") and "Too many open files" in proc.stdout
