"""Metrics through Python: the metrics port scraped over HTTP and parsed with the
Prometheus client's own parser, `Endpoint.metrics()` giving the same figures as a dict,
the counters moving as messages flow, and Broker's BROKER_METRICS_PORT."""

import os
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import broker
from conftest import WAIT, peer, wait_until


def metrics_config(port=0):
    cfg = broker.Configuration(broker.BrokerOptions())
    cfg.options.disable_ssl = True
    cfg.metrics_port = port
    cfg.metrics_address = "127.0.0.1"
    return cfg


def scrape(port):
    """The samples served on the metrics port: {(name, label value or ""): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=WAIT) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = list(sample.labels.values())
            samples[sample.name, labels[0] if labels else ""] = sample.value
    return samples


def as_samples(metrics):
    """`Endpoint.metrics()` in the shape of `scrape`."""
    samples = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            samples.update({(name, label): v for label, v in value.items()})
        else:
            samples[name, ""] = value
    return samples


def test_metrics_are_off_unless_asked_for(endpoints):
    assert endpoints().metrics_port() is None
    assert broker.Configuration().metrics_port is None


def test_scraped_counters_move_as_messages_flow(endpoints):
    receiver = endpoints(metrics_config())
    port = receiver.metrics_port()
    assert port
    sub = receiver.make_subscriber("/m")
    sender = endpoints(metrics_config(None))
    peer(sender, receiver)
    assert sender.await_peer_subscription("/m", WAIT)

    before = scrape(port)
    assert before["broker_connections", "batch"] == 1
    assert before["broker_processed_messages_total", "data"] == 0
    assert before["broker_peer_buffered_messages", sender.node_id()] == 0

    count = 200
    sender.publish_batch(*[("/m/x", broker.Count(n)) for n in range(count)])
    received = 0
    while received < count:
        got = sub.get(count - received, WAIT)
        assert got, f"{received} of {count} received"
        received += len(got)

    after = scrape(port)
    assert after["broker_processed_messages_total", "data"] == count
    # The dict holds the very same figures (only a keepalive could move one meanwhile).
    def steady(samples):
        return {key: v for key, v in samples.items() if key[1] not in ("ping", "pong")}

    direct = as_samples(receiver.metrics())
    assert direct.keys() == after.keys()
    assert steady(direct) == steady(after)
    assert receiver.metrics()["broker_processed_messages_total"]["data"] == count
    assert sender.metrics()["broker_processed_messages_total"]["data"] == count


def test_store_entries_and_sync_state(endpoints):
    a, b = endpoints(metrics_config(None)), endpoints(metrics_config(None))
    peer(b, a)
    master = a.attach_master("inventory", broker.Backend.Memory, {})
    clone = b.attach_clone("inventory")
    assert master is not None and clone is not None
    for n in range(4):
        master.put(n, "x")
    assert master.await_idle(WAIT)
    assert a.metrics()["broker_store_entries"] == {"inventory": 4}
    assert wait_until(lambda: b.metrics()["broker_store_entries"] == {"inventory": 4})
    assert b.metrics()["broker_store_synced"] == {"inventory": 1}


def run_with_env(value):
    """Starts an endpoint in a fresh interpreter with BROKER_METRICS_PORT=value; what it
    printed (its metrics port) or the error it raised."""
    code = (
        "import broker\n"
        "try:\n"
        "    print(broker.Endpoint().metrics_port())\n"
        "except ValueError as e:\n"
        "    print('ValueError', e)\n"
    )
    env = dict(os.environ, BROKER_METRICS_PORT=value)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_broker_metrics_port_env_opens_the_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert run_with_env(str(free)) == str(free)


@pytest.mark.parametrize("value", ["0", "http", "70000"])
def test_broker_metrics_port_env_must_be_a_port(value):
    assert run_with_env(value).startswith("ValueError invalid value for BROKER_METRICS_PORT")
