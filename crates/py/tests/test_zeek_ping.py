"""examples/ping.py (Broker's "Exchanging Zeek events" example) against a real Broker
playing examples/ping.zeek: the reference Broker's own Python bindings, run with Debian's
/usr/bin/python3 under scripts/reference-broker, both with their default anonymous TLS.
Skipped, with the reason, when the reference Broker is missing.
"""

import pathlib
import subprocess
import sys

import pytest

from conftest import WAIT

ROOT = pathlib.Path(__file__).resolve().parents[3]
WRAPPER = ROOT / "scripts" / "reference-broker"
_found = subprocess.run([WRAPPER], capture_output=True, text=True)

# What examples/ping.zeek does, with the reference's bindings (Zeek's Broker library).
PING_ZEEK = r"""
import broker, broker.zeek, select
with broker.Endpoint() as ep, ep.make_subscriber("/topic/test") as sub:
    print(ep.listen("127.0.0.1", 0), flush=True)
    answered = 0
    while answered < 5 and select.select([sub.fd()], [], [], 10)[0]:
        for topic, data in sub.poll():
            ping = broker.zeek.Event(data)
            assert ping.name() == "ping", ping.name()
            ep.publish("/topic/test", broker.zeek.Event("pong", *ping.args()))
            answered += 1
"""


@pytest.mark.skipif(_found.returncode != 0, reason=_found.stderr.strip())
def test_ping_example_against_a_real_broker():
    zeek = subprocess.Popen([WRAPPER, "/usr/bin/python3", "-c", PING_ZEEK],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = zeek.stdout.readline().strip()
        assert port.isdigit(), port
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "ping.py"), "127.0.0.1", port],
                             capture_output=True, text=True, timeout=3 * WAIT)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.splitlines() == [f"received pong[{n}]" for n in range(5)]
    finally:
        zeek.kill()
        zeek.wait(WAIT)
