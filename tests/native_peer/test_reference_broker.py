"""Validates the native test peer (and so our reading of the spec) against the real
Broker: the reference `broker-node` and Broker's own Python bindings.

Run with the system interpreter: `scripts/reference-broker /usr/bin/python3 -m unittest
-v tests/native_peer/test_reference_broker.py` (as `scripts/test` does; plain
`/usr/bin/python3 -m unittest` works too). Every reference process is started through
`scripts/reference-broker`, which finds the reference (BROKER_REFERENCE overrides
where it looks) and makes its library loadable. Skipped, with its message, when the
reference Broker is missing.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from ipaddress import ip_address, ip_network

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import native_peer as npeer  # noqa: E402

WRAPPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                       "reference-broker")
_found = subprocess.run([WRAPPER], capture_output=True, text=True)
REFERENCE = _found.stdout.strip() if _found.returncode == 0 else None
MISSING = _found.stderr.strip() or "reference Broker not found"
P = uuid.UUID("00000000-0000-4000-8000-000000000000")
N = uuid.UUID("5746d8ee-3644-5bd2-9f54-d5a44c26c2a1")
Q = uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff")
STARTUP = 15.0  # seconds a reference process may take to come up


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reference(unittest.TestCase):
    """Starts reference processes and talks to them through the test peer."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = dict(os.environ)
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=10)
        self.tmp.cleanup()

    def spawn(self, argv, ready, env=None):
        """Starts a reference process and waits (bounded) for `ready` in its output."""
        log = open(os.path.join(self.tmp.name, f"proc{len(self.procs)}.log"), "w+")
        # The wrapper execs the command: `proc` is the reference process itself.
        proc = subprocess.Popen([WRAPPER, *argv], stdout=log, stderr=subprocess.STDOUT,
                                env=env or self.env, cwd=self.tmp.name)
        self.procs.append(proc)
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            log.seek(0)
            text = log.read()
            if ready in text:
                return text
            if proc.poll() is not None:
                self.fail(f"{argv[0]} exited: {text}")
            time.sleep(0.05)
        self.fail(f"{argv[0]} not ready: {text}")

    def node(self, *config, listen=True):
        """broker-node in pong mode with id N and filter /test; returns its port (when
        listening; otherwise it connects to the peers in `config`)."""
        port = free_port() if listen else None
        cfg = os.path.join(self.tmp.name, f"node{len(self.procs)}.cfg")
        with open(cfg, "w") as f:
            f.write('broker { disable-ssl = true }\ntopics = ["/test"]\nverbose = true\n')
            f.write(f'endpoint-id = "{N}"\n')
            f.write("\n".join(config) + "\n")
        env = dict(self.env, BROKER_PORT=str(port)) if listen else self.env
        ready = "listen for peers" if listen else "connect to"
        self.spawn(["broker-node", f"--config-file={cfg}", "-m", "pong"], ready, env)
        return port

    def connect(self, port):
        """Connects, retrying (bounded) while refused: broker-node reports that it
        listens a moment before it does."""
        deadline = time.monotonic() + STARTUP
        while True:
            try:
                conn = npeer.Conn.connect("127.0.0.1", port)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.addCleanup(conn.close)
        return conn

    def peer_with_node(self, own, topics, *config, node_filter=("/test",)):
        conn = self.connect(self.node(*config))
        peer, peer_filter, originator = npeer.connector_handshake(conn, own, topics, 99)
        self.assertEqual((peer, peer_filter), (N, list(node_filter)))
        return conn, originator

    def expect_envelope(self, conn, kind):
        while True:
            body = conn.recv()
            self.assertIsNotNone(body, "connection closed")
            env = npeer.parse_envelope(body)
            if env["type"] == kind:
                return env

    def data_ping(self, conn, own, ping):
        """Publishes `ping` on /test until a data message answers (broker-node's pong
        mode subscribes only after peering, so the first pings may find no subscriber),
        as broker-node's own ping mode does; returns the answer."""
        conn.sock.settimeout(0.1)
        deadline = time.monotonic() + STARTUP
        payload = npeer.encode_data(ping)
        while time.monotonic() < deadline:
            conn.send(npeer.pack_envelope(own, npeer.NIL, npeer.DATA, "/test", payload))
            try:
                return self.expect_envelope(conn, npeer.DATA)
            except socket.timeout:
                continue
        self.fail("broker-node never answered the data ping")

    def ping_pong(self, conn, own):
        """Our ping (TTL 1, as Broker's btests send it) gets the node's pong."""
        conn.send(npeer.pack_envelope(own, N, npeer.PING, "<$>", b"foo", ttl=1))
        pong = self.expect_envelope(conn, npeer.PONG)
        self.assertEqual((pong["sender"], pong["receiver"], pong["topic"], pong["payload"]),
                         (N, own, "<$>", b"foo"))


@unittest.skipUnless(REFERENCE, MISSING)
class BrokerNodeTest(Reference):
    # -- the four handshake btests ----------------------------------------------------

    def test_originator(self):
        conn, originator = self.peer_with_node(P, ["/foo/bar"])
        self.assertTrue(originator)
        self.ping_pong(conn, P)

    def test_responder(self):
        conn, originator = self.peer_with_node(Q, ["/foo/bar"])
        self.assertFalse(originator)
        self.ping_pong(conn, Q)

    def test_redundant_connection(self):
        port = self.node()
        first = self.connect(port)
        first.send(npeer.pack_hello(Q, 1, 99))
        self.assertEqual(first.recv_handshake()[0], npeer.PROBE)
        kind, fields = first.recv_handshake()
        self.assertEqual((kind, fields["sender"]), (npeer.VERSION_SELECT, N))
        second = self.connect(port)
        self.assertEqual(second.recv_handshake()[0], npeer.PROBE)
        second.send(npeer.pack_hello(Q, 1, 99))
        self.assertEqual(first.recv_handshake(), (npeer.ORIGINATOR_SYN, {"filter": ["/test"]}))
        first.send(npeer.pack_responder_syn_ack(["/foo/bar"]))
        self.assertEqual(first.recv_handshake(), (npeer.ORIGINATOR_ACK, {}))
        body = second.recv()
        self.assertEqual(len(body), 43)
        self.assertEqual(npeer.parse_handshake(body), (npeer.DROP_CONN, {
            "sender": N, "code": 39, "description": "redundant connection"}))
        self.ping_pong(first, Q)

    def test_version_mismatch(self):
        conn = self.connect(self.node())
        self.assertEqual(npeer.send_malformed(conn, Q, "versions"), {
            "sender": N, "code": 2, "description": "unsupported versions offered"})

    # -- malformed input --------------------------------------------------------------

    def test_malformed_handshakes_get_brokers_codes(self):
        port = self.node()
        expected = {"bad-magic": (38, "wrong magic number"),
                    "unknown-tag": (20, "invalid message type tag"),
                    "truncated": (20, "failed to parse hello_msg")}
        for kind, (code, description) in expected.items():
            with self.subTest(kind):
                answer = npeer.send_malformed(self.connect(port), Q, kind)
                self.assertEqual((answer["code"], answer["description"]), (code, description))

    def test_oversize_length_neither_answered_nor_fatal(self):
        port = self.node()
        conn = self.connect(port)
        conn.sock.settimeout(1.0)
        self.assertIsNone(npeer.send_malformed(conn, Q, "oversize"))
        self.peer_again(port)

    def peer_again(self, port):
        conn = self.connect(port)
        self.assertEqual(npeer.connector_handshake(conn, P, [], 99)[0], N)

    # -- phase 3 ----------------------------------------------------------------------

    def test_data_ping_pong_on_a_user_topic(self):
        conn, _ = self.peer_with_node(P, ["/test"])
        pong = self.data_ping(conn, P, ("vec", [("str", b"ping"), ("count", 7), ("str", b"xyz")]))
        self.assertEqual((pong["sender"], pong["receiver"], pong["topic"]), (N, npeer.NIL, "/test"))
        self.assertEqual(pong["data"], ("vec", [("str", b"pong"), ("count", 7)]))
        self.assertEqual(pong["payload"], bytes.fromhex("0e02 05 04 706f6e67 02 0000000000000007"))

    def test_routing_update_replaces_the_filter(self):
        conn, _ = self.peer_with_node(P, ["/unrelated"])
        update = npeer.pack_filter(["/unrelated", "/test"])
        conn.send(npeer.pack_envelope(P, N, npeer.ROUTING_UPDATE, "<$>", update))
        pong = self.data_ping(conn, P, ("vec", [("str", b"ping"), ("count", 9), ("str", b"")]))
        self.assertEqual(pong["data"], ("vec", [("str", b"pong"), ("count", 9)]))

    def test_bye_ping_is_answered(self):
        conn, _ = self.peer_with_node(P, [])
        bye = b"BYE" + (7).to_bytes(8, "little")
        conn.send(npeer.pack_envelope(P, N, npeer.PING, "<$>", bye))
        pong = self.expect_envelope(conn, npeer.PONG)
        self.assertEqual((pong["receiver"], pong["payload"]), (P, bye))

    def test_acceptor_role(self):
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.settimeout(STARTUP)
            port = server.getsockname()[1]
            self.node(f'peers = ["tcp://127.0.0.1:{port}"]', listen=False)
            sock, _ = server.accept()
        conn = npeer.Conn(sock)
        self.addCleanup(conn.close)
        peer, peer_filter, originator = npeer.acceptor_handshake(conn, Q, ["/test"])
        self.assertEqual((peer, peer_filter, originator), (N, ["/test"], False))
        self.ping_pong(conn, Q)

    def test_clone_attach_command(self):
        clone_topic = "mystore/<$>/data/clone"
        # The master's topic is part of the node's filter, as the spec says.
        conn, _ = self.peer_with_node(P, [clone_topic], 'master-stores = ["mystore"]',
                                      node_filter=("/test", "mystore/<$>/data/master"))
        clone = (P, 1)
        nack = npeer.pack_nack(0, clone, (npeer.NIL, 0), [0])
        conn.send(npeer.pack_envelope(P, npeer.NIL, npeer.COMMAND, "mystore/<$>/data/master", nack))
        ack = self.expect_envelope(conn, npeer.COMMAND)
        self.assertEqual((ack["topic"], ack["receiver"]), (clone_topic, P))
        seq, sender, receiver, index = npeer.parse_command_header(ack["payload"])
        self.assertEqual((sender[0], receiver, index), (N, clone, 12))  # ack_clone
        offset = int.from_bytes(ack["payload"][57:65], "big")
        heartbeat = int.from_bytes(ack["payload"][65:67], "big")
        self.assertEqual((seq, offset, heartbeat), (offset, offset, 5))
        self.assertEqual(ack["payload"][67:], b"\x00")  # an empty snapshot


ECHO = r"""
import broker, sys
opts = broker.BrokerOptions()
opts.disable_ssl = True
with broker.Endpoint(broker.Configuration(opts)) as ep, \
        ep.make_subscriber("/kinds/to") as sub:
    print("port", ep.listen("127.0.0.1", 0), flush=True)
    topic, data = sub.get()
    print("got", repr(data), flush=True)
    ep.publish("/kinds/back", data)
    sub.get(10)
"""

ALL_KINDS = ("vec", [
    ("none",), ("bool", True), ("count", 2**64 - 1), ("int", -5), ("real", 1.5),
    ("str", b"hi"), ("addr", ip_address("192.168.9.8")), ("addr", ip_address("2001:db8::1")),
    ("subnet", ip_network("192.168.9.0/24")), ("subnet", ip_network("2001:db8::/32")),
    ("port", 8080, 1), ("port", 53, 2), ("port", 8, 3), ("port", 0, 0),
    # Whole microseconds: the bindings hand times to Python as datetime/timedelta.
    ("time", 1_700_000_000_123_456_000), ("span", -12_345_000), ("enum", "Foo::BAR"),
    # Broker's order: kind first (none, count, string), then value.
    ("set", [("none",), ("count", 1), ("count", 2), ("str", b"a")]),
    ("table", [(("str", b"a"), ("count", 1)), (("str", b"ab"), ("none",)),
               (("str", b"b"), ("vec", []))]),
    ("vec", [("vec", [("count", 1)])]),
])


BINDINGS = REFERENCE and os.path.exists(os.path.join(REFERENCE, "lib", "python", "broker"))


@unittest.skipUnless(BINDINGS, f"reference Broker's Python bindings not found ({REFERENCE or MISSING})")
class BindingsTest(Reference):
    def test_every_data_kind_survives_brokers_decoder_and_encoder(self):
        out = self.spawn(["/usr/bin/python3", "-c", ECHO], "port ")
        port = int(out.split("port ")[1].split()[0])
        conn = self.connect(port)
        npeer.connector_handshake(conn, P, ["/kinds/back"], 99)
        payload = npeer.encode_data(ALL_KINDS)
        conn.send(npeer.pack_envelope(P, npeer.NIL, npeer.DATA, "/kinds/to", payload))
        echo = self.expect_envelope(conn, npeer.DATA)
        self.assertEqual(echo["topic"], "/kinds/back")
        # Broker decoded every kind and wrote them back byte for byte, sets and tables
        # in the order we sent them.
        self.assertEqual(echo["payload"], payload)
        self.assertEqual(echo["data"], ALL_KINDS)


if __name__ == "__main__":
    unittest.main()
