"""Blocking calls wake on Ctrl-C: SIGINT raises KeyboardInterrupt in the blocked thread."""

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
}


@pytest.mark.parametrize("call", list(BLOCKERS), ids=list(BLOCKERS))
def test_ctrl_c_interrupts_a_blocking_call(call):
    script = (
        "import broker, sys\n"
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
    script = (
        "import broker, os, threading, time\n"
        "a, b = broker.Endpoint(), broker.Endpoint()\n"
        "sub = b.make_subscriber('/t', 1)\n"
        "assert a.peer('127.0.0.1', b.listen('127.0.0.1', 0), 0)\n"
        "assert a.await_peer_subscription('/t', 10)\n"
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
