"""Zeek's WebSocket API (JSON v1) served by a broker-rs endpoint, driven by a real
WebSocket client library from PyPI (`websockets`), and broker-rs as a client of a
stand-in for Zeek >= 8's own server (written here with the same library)."""

import contextlib
import json
import shutil
import socket
import ssl
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.server import serve

import broker
from conftest import WAIT, next_status, peer, wait_until
from test_tls import configuration as tls_configuration
from test_tls import pki  # noqa: F401 (a fixture)

PATH = "/v1/messages/json"


def plaintext(**options):
    opts = broker.BrokerOptions()
    opts.disable_ssl = True
    for name, value in options.items():
        setattr(opts, name, value)
    return broker.Configuration(opts)


def server(endpoints, **options):
    """An endpoint serving WebSocket clients on loopback; (endpoint, url)."""
    ep = endpoints(plaintext(**options))
    port = ep.web_socket_listen("127.0.0.1", 0)
    assert port > 0
    return ep, f"ws://127.0.0.1:{port}{PATH}"


@contextlib.contextmanager
def client(url, topics, **kwargs):
    """A connected client that sent `topics` and got its ack; (client, ack)."""
    with connect(url, open_timeout=WAIT, **kwargs) as ws:
        ws.send(json.dumps(topics))
        yield ws, json.loads(ws.recv(WAIT))


def count(topic, n):
    return {"type": "data-message", "topic": topic, "@data-type": "count", "data": n}


def event(topic, name, *args):
    """A Zeek event as a data message, with Zeek 8.0's empty metadata."""
    return {"type": "data-message", "topic": topic, "@data-type": "vector", "data": [
        {"@data-type": "count", "data": 1},
        {"@data-type": "count", "data": 1},
        {"@data-type": "vector", "data": [
            {"@data-type": "string", "data": name},
            {"@data-type": "vector", "data": list(args)},
            {"@data-type": "vector", "data": []},
        ]},
    ]}


def closed_with(ws):
    """The close code the server sent, once it closed the connection."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(WAIT)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_handshake_ack_and_statuses(endpoints):
    ep, url = server(endpoints)
    statuses = ep.make_status_subscriber(True)
    with client(url, ["/a"]) as (ws, ack):
        assert list(ack) == ["type", "endpoint", "version"]
        assert ack["type"] == "ack" and ack["endpoint"] == ep.node_id()
        added = next_status(statuses, broker.SC.PeerAdded)
        assert "web-socket" in added.message()
        assert added.context().type == "web-socket"
        assert added.context().network.get().address == "127.0.0.1"
    lost = next_status(statuses, broker.SC.PeerLost)
    assert lost.context().id == added.context().id != ep.node_id()
    assert lost.context().type == "web-socket"


def test_subscribe_and_receive_exact_bytes(endpoints):
    ep, url = server(endpoints)
    with client(url, ["/test"]) as (ws, _):
        ep.publish("/other", 0)
        ep.publish("/test", broker.Count(1))
        # Spec vector 18: the exact bytes Broker's server sends.
        assert ws.recv(WAIT) == '{"type":"data-message","topic":"/test","@data-type":"count","data":1}'
        ep.publish("/testing", {1: "x"})
        assert json.loads(ws.recv(WAIT)) == {
            "type": "data-message", "topic": "/testing", "@data-type": "table",
            "data": [{"key": {"@data-type": "integer", "data": 1},
                      "value": {"@data-type": "string", "data": "x"}}]}


def test_publish_reaches_native_subscribers_two_hops_away_and_never_echoes(endpoints):
    a, url = server(endpoints)
    b, c = endpoints(plaintext()), endpoints(plaintext())
    near = a.make_subscriber("/ws")
    far = c.make_subscriber("/ws")
    peer(b, c)
    peer(a, b)
    b.forward("/ws")
    assert a.await_peer_subscription("/ws/x", WAIT)
    with client(url, ["/ws"]) as (sender, _), client(url, ["/ws"]) as (listener, _):
        sender.send(json.dumps(event("/ws/x", "ping", {"@data-type": "count", "data": 42})))
        sender.send(json.dumps(count("/ws/y", 7)))
        for sub in (near, far):
            topic, data = sub.get(WAIT)
            assert topic == "/ws/x"
            ping = broker.zeek.Event(data)
            assert (ping.name(), ping.args()) == ("ping", [broker.Count(42)])
            assert sub.get(WAIT) == ("/ws/y", broker.Count(7))
        # The other client gets both, the sender neither: the next thing it hears is
        # what is published after.
        assert json.loads(listener.recv(WAIT))["topic"] == "/ws/x"
        assert json.loads(listener.recv(WAIT)) == count("/ws/y", 7)
        c.publish("/ws/back", "from c")
        for ws in (sender, listener):
            assert json.loads(ws.recv(WAIT))["topic"] == "/ws/back"


def test_store_traffic_travels_through_web_socket_links_as_data(endpoints):
    a, url = server(endpoints)
    master = a.attach_master("s", broker.Backend.Memory)
    clone_topic, master_topic = "s/<$>/data/clone", "s/<$>/data/master"
    # A plain client sees the master's changes as JSON data (not only its heartbeats).
    with client(url, [clone_topic]) as (ws, _):
        master.put("k", 1)
        deadline, tags = time.monotonic() + WAIT, []
        while "change" not in tags and time.monotonic() < deadline:
            message = json.loads(ws.recv(WAIT))
            assert message["topic"] == clone_topic
            tags.append(message["data"][0]["data"])
        assert "change" in tags, tags
    # A broker-rs endpoint keeps a clone through its WebSocket client link.
    b = endpoints(plaintext())
    assert b.web_socket_peer(url, [clone_topic], send=[master_topic], retry=0)
    clone = b.attach_clone("s")
    assert wait_until(lambda: clone.get("k") == 1)
    clone.put("j", 2)
    master.put("m", 3)
    assert wait_until(lambda: master.get("j") == 2)
    assert wait_until(lambda: clone.get("j") == 2 and clone.get("m") == 3)


@pytest.mark.parametrize("first, context", [
    ('["broken", "brrr', "subscriptions not an array"),
    ("[1, 2]", "individual subscription not a string"),
    ('{"topics": ["/a"]}', "subscriptions not an array"),
])
def test_bad_first_message_gets_zeeks_error_then_1008(endpoints, first, context):
    ep, url = server(endpoints)
    with client(url, ["/ok"]) as (bystander, _), connect(url, open_timeout=WAIT) as ws:
        ws.send(first)
        error = json.loads(ws.recv(WAIT))
        assert error == {"type": "error", "code": "deserialization_failed", "context": context}
        assert closed_with(ws) == 1008
        ep.publish("/ok", broker.Count(1))
        assert json.loads(bystander.recv(WAIT)) == count("/ok", 1)


def test_bad_messages_get_brokers_errors_and_the_connection_stays(endpoints):
    ep, url = server(endpoints)
    sub = ep.make_subscriber("/test")
    with client(url, []) as (ws, _):
        cases = [
            ("{", "input #1 contained malformed JSON -> "),
            ("[1, 2]", "input #2 expected a JSON object"),
            # Broker's own error test (spec, error vectors).
            ('{"topic":"/test","@data-type":"phone","data":"555-0123"}',
             "input #3 contained invalid data -> "),
            ('{"topic":"/test","@data-type":"count","data":-1}', "input #4 contained invalid data -> "),
            ('{"topic":"/test","@data-type":"set","data":[{"@data-type":"count","data":1},'
             '{"@data-type":"count","data":1}]}', "input #5 contained invalid data -> "),
        ]
        for text, context in cases:
            ws.send(text)
            error = json.loads(ws.recv(WAIT))
            assert (error["type"], error["code"]) == ("error", "deserialization_failed")
            assert error["context"].startswith(context), error
        ws.send(json.dumps(count("/test", 5)))
        assert sub.get(WAIT) == ("/test", broker.Count(5))


def test_binary_frame_closes_with_1003_and_oversized_with_1009(endpoints):
    ep, url = server(endpoints)
    statuses = ep.make_status_subscriber(True)
    with client(url, ["/ok"]) as (bystander, _):
        with client(url, []) as (ws, _):
            ws.send(json.dumps(count("/x", 1)).encode())
            assert closed_with(ws) == 1003
        invalid = next_status(statuses, broker.EC.PeerInvalid)
        assert "binary" in invalid.message()
        with client(url, [], max_size=None) as (ws, _):
            # Beyond the 16 MiB cap of a frame (Config::max_frame_len).
            ws.send('{"topic":"/x","@data-type":"string","data":"' + "x" * (16 << 20) + '"}')
            assert closed_with(ws) == 1009
        ep.publish("/ok", broker.Count(2))
        assert json.loads(bystander.recv(WAIT)) == count("/ok", 2)


def test_other_paths_get_http_400(endpoints):
    _, url = server(endpoints)
    with pytest.raises(InvalidStatus) as refused:
        connect(url.replace(PATH, "/v2/messages"), open_timeout=WAIT)
    assert refused.value.response.status_code == 400


def test_stalled_client_is_disconnected_while_others_lose_nothing(endpoints):
    a, url = server(endpoints, web_socket_buffer_size=64)
    b = endpoints(plaintext())
    native = b.make_subscriber("/bulk")
    peer(a, b)
    assert a.await_peer_subscription("/bulk/x", WAIT)
    statuses = a.make_status_subscriber(True)
    # A client that stops reading: a tiny receive window and queue, nothing read.
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", int(url.split("/")[2].split(":")[1])))
    # It cannot take part in the closing handshake: a short close timeout.
    with client(url, ["/bulk"], sock=raw, max_queue=1, close_timeout=0.5), \
            client(url, ["/bulk"]) as (healthy, _):
        stalled_id = next_status(statuses, broker.SC.PeerAdded).context().id
        stalled_and_healthy(a, native, statuses, stalled_id, healthy)


def stalled_and_healthy(a, native, statuses, stalled_id, healthy):
    received = []

    def read():
        try:
            while True:
                received.append(healthy.recv(WAIT))
        except (TimeoutError, ConnectionClosed):
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # Paced so that the healthy client keeps up: only the stalled one falls behind.
    total, chunk, payload = 1200, 50, "y" * 16384
    for start in range(0, total, chunk):
        for i in range(start, start + chunk):
            a.publish("/bulk/x", f"{i}:{payload}")
        assert wait_until(lambda: len(received) >= start + chunk), len(received)
    timeout = next_status(statuses, broker.EC.PeerTimeout)
    assert "stopped reading" in timeout.message()
    assert timeout.context().id == stalled_id
    assert next_status(statuses, broker.SC.PeerLost).context().id == stalled_id
    got = [native.get(WAIT) for _ in range(total)]
    assert [d.split(":")[0] for _, d in got] == [str(i) for i in range(total)]
    assert [json.loads(m)["data"].split(":")[0] for m in received] == [str(i) for i in range(total)]
    healthy.close()
    reader.join(WAIT)


def test_drop_oldest_keeps_the_newest_messages_for_a_stalled_client(endpoints):
    a, url = server(endpoints, web_socket_buffer_size=64,
                    web_socket_overflow_policy="drop_oldest")
    statuses = a.make_status_subscriber(True)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", int(url.split("/")[2].split(":")[1])))
    with client(url, ["/bulk"], sock=raw, max_queue=1) as (stalled, _):
        total, payload = 1200, "y" * 16384
        for i in range(total):
            a.publish("/bulk/x", f"{i}:{payload}")
        dropping = next_status(statuses, broker.EC.PeerTimeout)
        assert "dropping messages" in dropping.message()
        # Reading again, the client gets what is left, the newest last; it stays.
        received = []
        while not received or received[-1] != total - 1:
            received.append(int(json.loads(stalled.recv(WAIT))["data"].split(":")[0]))
        assert received == sorted(set(received))
        assert len(received) < total
        assert any(later - earlier > 1 for earlier, later in zip(received, received[1:]))
        a.publish("/bulk/x", "after")
        assert json.loads(stalled.recv(WAIT))["data"] == "after"


def anonymous_tls_context():
    """What a Python client needs to reach Broker's anonymous TLS (AECDH, TLS 1.2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AECDH-AES256-SHA@SECLEVEL=0")
    return ctx


def test_tls_as_peerings_have_it(endpoints):
    ep = endpoints()  # TLS on: anonymous, as Broker's default
    port = ep.web_socket_listen("127.0.0.1", 0)
    sub = ep.make_subscriber("/tls")
    url = f"wss://127.0.0.1:{port}{PATH}"
    with client(url, ["/tls"], ssl=anonymous_tls_context()) as (ws, ack):
        assert ack["endpoint"] == ep.node_id()
        ws.send(json.dumps(count("/tls/in", 1)))
        assert sub.get(WAIT) == ("/tls/in", broker.Count(1))
        ep.publish("/tls/out", broker.Count(2))
        assert json.loads(ws.recv(WAIT)) == count("/tls/out", 2)
    with pytest.raises(Exception):
        # Plaintext against TLS: no upgrade.
        connect(url.replace("wss:", "ws:"), open_timeout=2)
    # Our own client speaks the same TLS.
    other = endpoints()
    other_sub = other.make_subscriber("/tls")
    assert other.web_socket_peer(url, ["/tls"], retry=0)
    ep.publish("/tls/ours", broker.Count(3))
    assert other_sub.get(WAIT) == ("/tls/ours", broker.Count(3))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_mutual_tls_with_the_peering_certificates(endpoints, pki):
    ep = endpoints(tls_configuration(pki, "b"))
    port = ep.web_socket_listen("127.0.0.1", 0)
    url = f"wss://127.0.0.1:{port}{PATH}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the leaves name no host
    context.load_verify_locations(pki / "ca.pem")
    context.load_cert_chain(pki / "a.pem", pki / "a.key")
    with client(url, ["/tls"], ssl=context) as (ws, ack):
        assert ack["endpoint"] == ep.node_id()
        ep.publish("/tls/x", broker.Count(1))
        assert json.loads(ws.recv(WAIT)) == count("/tls/x", 1)
    # Without a client certificate the server refuses, as native peering does.
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname = False
    anonymous.load_verify_locations(pki / "ca.pem")
    # (Under TLS 1.3 the refusal shows only once the client reads: in the upgrade or
    # the ack, depending on timing.)
    with pytest.raises((ssl.SSLError, OSError, InvalidHandshake, ConnectionClosed)):
        with client(url, [], ssl=anonymous):
            pass
    # Our client presents the endpoint's own certificate.
    other = endpoints(tls_configuration(pki, "a"))
    sub = other.make_subscriber("/tls")
    assert other.web_socket_peer(url, ["/tls"], retry=0)
    ep.publish("/tls/ours", broker.Count(2))
    assert sub.get(WAIT) == ("/tls/ours", broker.Count(2))


class ZeekStandIn:
    """A stand-in for Zeek >= 8's WebSocket server: checks X-Application-Name, acks
    with a per-client id and Zeek's version, pings every 0.1 s (a missed pong closes
    the connection with 1011), accepts only the declared event `ping(count)` and
    answers it with `pong(count)`; anything else gets Zeek's error."""

    def __init__(self, refuse=None, close_after=None):
        self.refuse, self.close_after = refuse, close_after
        self.clients, self.names, self.errors = 0, [], []
        self.server = serve(self.handle, "127.0.0.1", 0, ping_interval=0.1, ping_timeout=1.0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}{PATH}"

    def handle(self, ws):
        self.clients += 1
        name = ws.request.headers.get("X-Application-Name")
        self.names.append(name)
        subscriptions = json.loads(ws.recv())
        if self.refuse:
            ws.send(json.dumps({"type": "error", "code": "deserialization_failed", "context": self.refuse}))
            ws.close(1008)
            return
        ws.send(json.dumps({"type": "ack", "endpoint": f"zeek-node-websocket-{self.clients}",
                            "version": "8.0.0"}))
        for n, text in enumerate(ws, 1):
            message = json.loads(text)
            try:
                _, _, body = message["data"]
                name, args, *_ = body["data"]
                assert name["data"] == "ping" and [a["@data-type"] for a in args["data"]] == ["count"]
            except (AssertionError, KeyError, TypeError, ValueError):
                ws.send(json.dumps({"type": "error", "code": "deserialization_failed",
                                    "context": "failed to create Zeek event"}))
                continue
            topic = subscriptions[0] + "pong"
            ws.send(json.dumps(event(topic, "pong", args["data"][0])))
            if self.close_after == n:
                ws.close()
                return

    def stop(self):
        self.server.shutdown()
        self.thread.join(WAIT)


@pytest.fixture
def zeek():
    made = []

    def make(**kwargs):
        made.append(ZeekStandIn(**kwargs))
        return made[-1]

    yield make
    for stand_in in made:
        stand_in.stop()


def ping(n):
    return broker.zeek.Event("ping", broker.Count(n))


def test_our_client_talks_to_a_zeek_like_server(endpoints, zeek):
    stand_in = zeek()
    ep = endpoints(plaintext())
    statuses = ep.make_status_subscriber(True)
    pongs = ep.make_subscriber("/zeek/")
    assert ep.web_socket_peer(stand_in.url, ["/zeek/"], send="/zeek/", retry=0)
    assert "web-socket" in next_status(statuses, broker.SC.PeerAdded).message()
    assert stand_in.names == ["broker-rs"]
    ep.publish("/zeek/ping", ping(1))
    topic, data = pongs.get(WAIT)
    assert (topic, broker.zeek.Event(data).args()) == ("/zeek/pong", [broker.Count(1)])
    # Not an event Zeek declared: Zeek's error reaches the status subscribers.
    ep.publish("/zeek/ping", "not an event")
    error = next_status(statuses, broker.EC.DeserializationFailed)
    assert "failed to create Zeek event" in error.message()
    ep.publish("/elsewhere", ping(0))  # not under `send`: never reaches the server
    # Several ping intervals later the connection is alive: our pongs arrived.
    time.sleep(0.5)
    ep.publish("/zeek/ping", ping(2))
    topic, data = pongs.get(WAIT)
    assert broker.zeek.Event(data).args() == [broker.Count(2)]
    assert stand_in.clients == 1
    assert ep.web_socket_unpeer(stand_in.url)
    next_status(statuses, broker.SC.PeerRemoved)


def test_a_refused_handshake_fails_the_attempt_with_the_servers_reason(endpoints, zeek):
    stand_in = zeek(refuse="individual subscription not a string")
    ep = endpoints(plaintext())
    statuses = ep.make_status_subscriber(False)
    assert not ep.web_socket_peer(stand_in.url, ["/zeek/"], retry=0)
    error = next_status(statuses, broker.EC.PeerUnavailable)
    assert "individual subscription not a string" in error.message()


def test_our_client_reconnects_when_asked_to_retry(endpoints, zeek):
    stand_in = zeek(close_after=1)
    ep = endpoints(plaintext())
    statuses = ep.make_status_subscriber(True)
    pongs = ep.make_subscriber("/zeek/")
    assert ep.web_socket_peer(stand_in.url, ["/zeek/"], send="/zeek/", retry=0.1)
    for n in range(3):
        next_status(statuses, broker.SC.PeerAdded)
        ep.publish("/zeek/ping", ping(n))
        assert broker.zeek.Event(pongs.get(WAIT)[1]).args() == [broker.Count(n)]
        next_status(statuses, broker.SC.PeerLost)
    assert stand_in.clients >= 3
    assert ep.web_socket_unpeer(stand_in.url)


def test_options_serve_from_the_start_and_name_the_overflow_policy(endpoints):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    opts = broker.BrokerOptions()
    assert (opts.web_socket_port, opts.web_socket_buffer_size, opts.web_socket_overflow_policy) == (
        None, 512, "disconnect")
    with pytest.raises(ValueError):
        opts.web_socket_overflow_policy = "drop_eldest"
    ep = endpoints(plaintext(web_socket_port=port, web_socket_address="127.0.0.1",
                             web_socket_overflow_policy="drop_newest"))
    with client(f"ws://127.0.0.1:{port}{PATH}", []) as (_, ack):
        assert ack["endpoint"] == ep.node_id()


def test_metrics_count_web_socket_connections(endpoints):
    ep, url = server(endpoints)
    with client(url, ["/m"]) as (ws, _):
        metrics = ep.metrics()
        assert metrics["broker_connections"]["web-socket"] == 1
        assert metrics["broker_connections"]["batch"] == 0
        ws.send(json.dumps(count("/m", 1)))
        assert wait_until(lambda: ep.metrics()["broker_processed_messages_total"]["data"] == 1)
    assert wait_until(lambda: ep.metrics()["broker_connections"].get("web-socket", 0) == 0)
