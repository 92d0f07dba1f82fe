"""Blocking calls wake on Ctrl-C: SIGINT raises KeyboardInterrupt in the blocked thread.
They wait on the calling thread itself, without the GIL: none starts a thread of its own."""

import json
import signal
import subprocess
import sys

import pytest

def assert_interrupted(script):
    """Runs `script`, sends SIGINT once it prints `ready`, and checks that it then reports
    the interruption and exits 0 (bounded: 10 s after the signal)."""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.strip() == "interrupted" and proc.returncode == 0


BLOCKERS = {
    "get": "ep.make_subscriber('/t').get()",
    "get_n": "ep.make_subscriber('/t').get(5)",
    "status_get": "ep.make_status_subscriber(True).get()",
    "iteration": "next(iter(ep.make_subscriber('/t')))",
    "await_peer_subscription": "ep.await_peer_subscription('/t')",
    # With a peer, a clone waits up to 3 s for one holding its master.
    "attach_clone": (
        "ep.peer('127.0.0.1', broker.Endpoint().listen('127.0.0.1', 0), 0)\n"
        "    ep.attach_clone('s')"
    ),
    # A server that accepts the connection but never answers the WebSocket handshake.
    "web_socket_peer": (
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "    url = f'ws://127.0.0.1:{server.getsockname()[1]}/v1/messages/json'\n"
        "    ep.web_socket_peer(url, ['/t'], retry=0)"
    ),
}


@pytest.mark.parametrize("call", list(BLOCKERS), ids=list(BLOCKERS))
def test_ctrl_c_interrupts_a_blocking_call(call):
    script = (
        "import broker, socket, sys\n"
        "ep = broker.Endpoint()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        f"    {BLOCKERS[call]}\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    ep.shutdown()\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    assert_interrupted(script)


# a peered with b, whose subscriber never reads: b stops reading its peer once its
# queue and buffers are full, and what a sends stays in a.
STALLED_PEER = (
    "import broker, os, threading, time\n"
    "a, b = broker.Endpoint(), broker.Endpoint()\n"
    "sub = b.make_subscriber('/t', 1)\n"
    "assert a.peer('127.0.0.1', b.listen('127.0.0.1', 0), 0)\n"
    "assert a.await_peer_subscription('/t', 10)\n"
)

PUBLISHERS = {
    "publish": "a.publish('/t/x', payload)",
    "publish_batch": "a.publish_batch(('/t/x', payload), ('/t/y', payload))",
    "publisher_publish": "pub.publish(payload)",
    "publisher_publish_batch": "pub.publish_batch(*[payload] * 50)",
}


@pytest.mark.parametrize("call", list(PUBLISHERS), ids=list(PUBLISHERS))
def test_ctrl_c_interrupts_publish_under_backpressure(call):
    # b's subscriber never reads, so b stops reading its peer and a's publish blocks; a
    # watcher thread (it needs the GIL too) reports once publishing has stalled.
    script = STALLED_PEER + (
        "payload, sent = 'x' * 1000, [0]\n"
        "pub = a.make_publisher('/t/p')\n"
        "def watch():\n"
        "    last = -1\n"
        "    while sent[0] != last:\n"
        "        last = sent[0]\n"
        "        time.sleep(0.5)\n"
        "    print('ready', flush=True)\n"
        "threading.Thread(target=watch, daemon=True).start()\n"
        "try:\n"
        "    while True:\n"
        f"        {PUBLISHERS[call]}\n"
        "        sent[0] += 1\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    os._exit(0)\n"  # a clean shutdown would flush to the stalled peer first
    )
    assert_interrupted(script)


def test_ctrl_c_interrupts_a_shutdown_flushing_to_a_stalled_peer():
    # What a buffered cannot leave, and shutdown waits (up to 10 s) to flush it.
    script = STALLED_PEER + (
        "sent = [0]\n"
        "def publish():\n"
        "    while True:\n"
        "        a.publish('/t/x', 'x' * 1000)\n"
        "        sent[0] += 1\n"
        "threading.Thread(target=publish, daemon=True).start()\n"
        "last = -1\n"
        "while sent[0] != last:\n"
        "    last = sent[0]\n"
        "    time.sleep(0.5)\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    a.shutdown()\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    os._exit(0)\n"
    )
    assert_interrupted(script)


# Each call of each kind, many times over, while a watcher samples the process's
# threads (/proc/self/task: Rust threads included) apart from the endpoints' own, one
# each by design (their names are set as they start, so endpoints are made beforehand).
THREAD_WATCH = """
import broker, json, os, socket, threading, time

def threads():
    count = 0
    for task in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{task}/comm') as comm:
                count += comm.read().strip() != 'broker-endpoint'
        except OSError:
            pass  # ended meanwhile
    return count

def peak_during(calls):
    start, done, peak = threading.Event(), threading.Event(), [0]
    def watch():
        start.wait()
        while not done.is_set():
            peak[0] = max(peak[0], threads())
    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(0.1)  # the previous watcher's thread may still be ending
    baseline = threads()
    start.set()
    for call in calls:
        call()
    done.set()
    watcher.join()
    return baseline, peak[0]

ep = broker.Endpoint()
closed = socket.create_server(('127.0.0.1', 0))
url = f'ws://127.0.0.1:{closed.getsockname()[1]}/v1/messages/json'
closed.close()  # so connecting is refused at once
to_shut = [broker.Endpoint() for _ in range(20)]
calls = {
    'attach_clone': [lambda i=i: ep.attach_clone(f'c{i}') for i in range(50)],
    'attach_master': [lambda i=i: ep.attach_master(f'm{i}') for i in range(50)],
    'web_socket_peer': [lambda: ep.web_socket_peer(url, ['/t'], retry=0)] * 20,
    'web_socket_unpeer': [lambda: ep.web_socket_unpeer(url)] * 20,
    'shutdown': [e.shutdown for e in to_shut],
}
print(json.dumps({kind: peak_during(each) for kind, each in calls.items()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_waiting_calls_start_no_thread():
    done = subprocess.run(
        [sys.executable, "-c", THREAD_WATCH], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    peaks = json.loads(done.stdout)
    grown = {kind: peak for kind, (baseline, peak) in peaks.items() if peak > baseline}
    assert not grown, f"threads (baseline, peak) by call: {peaks}"
