"""Blocking calls wake on Ctrl-C: SIGINT raises KeyboardInterrupt in the blocked thread."""

import signal
import subprocess
import sys

import pytest

BLOCKERS = {
    "get": "ep.make_subscriber('/t').get()",
    "get_n": "ep.make_subscriber('/t').get(5)",
    "status_get": "ep.make_status_subscriber(True).get()",
    "iteration": "next(iter(ep.make_subscriber('/t')))",
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
