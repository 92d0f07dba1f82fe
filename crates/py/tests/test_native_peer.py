"""Our endpoint driven over Broker's native protocol by tests/native_peer, a test peer
written from the spec independently of the Rust codec (and validated against the real
Broker by tests/native_peer/test_reference_broker.py): the four scenarios of Broker's
handshake btests (originator, responder, redundant connection, version mismatch), the
acceptor role, phase 3 (ping/pong, data both ways, routing_update), a store clone's
attach request answered with the snapshot, and malformed frames (store commands
included), each answered as Broker answers them and closing only that connection.
"""

import os
import struct
import sys
import threading
import uuid

import pytest

import broker
from conftest import WAIT, next_status

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests",
                                "native_peer"))
import native_peer as npeer  # noqa: E402

# The smallest and the largest UUIDs: P always originates, Q always responds.
P = uuid.UUID("00000000-0000-4000-8000-000000000000")
Q = uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff")


def plaintext():
    opts = broker.BrokerOptions()
    opts.disable_ssl = True
    return broker.Configuration(opts)


@pytest.fixture
def ours(endpoints):
    """A plaintext endpoint listening on loopback, with a status subscriber."""
    ep = endpoints(plaintext())
    statuses = ep.make_status_subscriber(True)
    port = ep.listen("127.0.0.1", 0)
    return ep, statuses, port


def connect(port):
    conn = npeer.Conn.connect("127.0.0.1", port, timeout=WAIT)
    return conn


def expect_envelope(conn, kind):
    while True:
        body = conn.recv()
        assert body is not None, "connection closed"
        env = npeer.parse_envelope(body)
        if env["type"] == kind:
            return env


def ping_pong(conn, own, peer):
    """Our ping (TTL 1, as Broker's btests send it) gets the endpoint's pong."""
    conn.send(npeer.pack_envelope(own, peer, npeer.PING, "<$>", b"foo", ttl=1))
    pong = expect_envelope(conn, npeer.PONG)
    assert (pong["sender"], pong["receiver"], pong["topic"], pong["payload"]) == \
        (peer, own, "<$>", b"foo")


def test_originator(ours):
    ep, statuses, port = ours
    conn = connect(port)
    peer, peer_filter, originator = npeer.connector_handshake(conn, P, ["/foo/bar"], 99)
    assert originator
    assert peer_filter == []
    added = next_status(statuses, broker.SC.PeerAdded)
    # Both ids are exactly the UUIDs on the wire, in Broker's text form.
    assert peer == uuid.UUID(ep.node_id())
    assert added.context().node_id() == str(P) == ep.peers()[0].peer.node_id()
    assert str(P) in str(added)
    ping_pong(conn, P, peer)


def test_responder_and_data_both_ways(ours):
    ep, statuses, port = ours
    sub = ep.make_subscriber("/test")
    conn = connect(port)
    peer, peer_filter, originator = npeer.connector_handshake(conn, Q, ["/foo/bar"], 99)
    assert not originator
    assert peer_filter == ["/test"]
    next_status(statuses, broker.SC.PeerAdded)
    ping_pong(conn, Q, peer)
    # To us: a data envelope on a subscribed topic.
    value = ("vec", [("str", b"ping"), ("count", 7), ("set", [("int", -1)])])
    conn.send(npeer.pack_envelope(Q, npeer.NIL, npeer.DATA, "/test/x", npeer.encode_data(value)))
    assert sub.get(WAIT) == ("/test/x", ("ping", broker.Count(7), {-1}))
    # From us: published on the peer's filter, sent by us to everyone (receiver nil).
    ep.publish("/foo/bar/y", ("pong", broker.Count(7)))
    data = expect_envelope(conn, npeer.DATA)
    assert (data["sender"], data["receiver"], data["topic"]) == (peer, npeer.NIL, "/foo/bar/y")
    assert data["data"] == ("vec", [("str", b"pong"), ("count", 7)])
    # A routing_update replaces the peer's filter.
    update = npeer.pack_filter(["/other"])
    conn.send(npeer.pack_envelope(Q, peer, npeer.ROUTING_UPDATE, "<$>", update))
    assert ep.await_peer_subscription("/other", WAIT)
    # Our new subscription reaches the peer as a routing_update naming it.
    ep.make_subscriber("/more")
    routing = expect_envelope(conn, npeer.ROUTING_UPDATE)
    assert (routing["sender"], routing["receiver"]) == (peer, Q)
    assert npeer.read_filter(routing["payload"], 0)[0] == ["/more", "/test"]


def test_redundant_connection(ours):
    ep, statuses, port = ours
    first = connect(port)
    first.send(npeer.pack_hello(Q, 1, 99))
    assert first.recv_handshake()[0] == npeer.PROBE
    kind, fields = first.recv_handshake()
    assert kind == npeer.VERSION_SELECT
    peer = fields["sender"]
    second = connect(port)
    assert second.recv_handshake()[0] == npeer.PROBE
    second.send(npeer.pack_hello(Q, 1, 99))
    assert first.recv_handshake() == (npeer.ORIGINATOR_SYN, {"filter": []})
    first.send(npeer.pack_responder_syn_ack(["/foo/bar"]))
    assert first.recv_handshake() == (npeer.ORIGINATOR_ACK, {})
    body = second.recv()
    assert len(body) == 43
    assert npeer.parse_handshake(body) == (npeer.DROP_CONN, {
        "sender": peer, "code": 39, "description": "redundant connection"})
    assert second.recv() is None
    ping_pong(first, Q, peer)
    assert len(ep.peers()) == 1


def test_version_mismatch(ours):
    ep, statuses, port = ours
    answer = npeer.send_malformed(connect(port), Q, "versions")
    assert (answer["code"], answer["description"]) == (2, "unsupported versions offered")
    next_status(statuses, broker.EC.PeerIncompatible)


@pytest.fixture
def serving(endpoints, ours):
    """`ours` with a broker-rs peer subscribed to /ok: shows the endpoint keeps serving."""
    ep, statuses, port = ours
    other = endpoints(plaintext())
    sub = other.make_subscriber("/ok")
    assert other.peer("127.0.0.1", port, 0)
    assert ep.await_peer_subscription("/ok", WAIT)

    def still_serving():
        ep.publish("/ok", broker.Count(1))
        assert sub.get(WAIT) == ("/ok", broker.Count(1))

    return ep, statuses, port, still_serving


@pytest.mark.parametrize("kind, code, description", [
    ("bad-magic", 38, "wrong magic number"),
    ("unknown-tag", 20, "invalid message type tag"),
    ("truncated", 20, "failed to parse hello_msg"),
])
def test_malformed_handshakes_get_brokers_codes(serving, kind, code, description):
    ep, statuses, port, still_serving = serving
    conn = connect(port)
    answer = npeer.send_malformed(conn, Q, kind)
    assert (answer["code"], answer["description"]) == (code, description)
    assert conn.recv() is None
    next_status(statuses, broker.EC.PeerInvalid)
    still_serving()


def test_oversize_frame_refused_before_allocation(serving):
    ep, statuses, port, still_serving = serving
    conn = connect(port)
    answer = npeer.send_malformed(conn, Q, "oversize")
    assert answer is not None and answer["code"] == 20
    next_status(statuses, broker.EC.PeerInvalid)
    still_serving()


def test_malformed_envelope_closes_that_peering_only(serving):
    ep, statuses, port, still_serving = serving
    conn = connect(port)
    npeer.connector_handshake(conn, Q, ["/x"], 99)
    next_status(statuses, broker.SC.PeerAdded)
    # A data envelope whose value is cut short.
    conn.send(npeer.pack_envelope(Q, npeer.NIL, npeer.DATA, "/x", b"\x05\x09ab"))
    next_status(statuses, broker.EC.PeerInvalid)
    next_status(statuses, broker.SC.PeerLost)
    assert conn.recv() is None
    still_serving()


def test_acceptor_role(endpoints):
    ep = endpoints(plaintext())
    with npeer.socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT)
        port = server.getsockname()[1]
        result = []
        peering = threading.Thread(target=lambda: result.append(ep.peer("127.0.0.1", port, 0)))
        peering.start()
        sock, _ = server.accept()
    conn = npeer.Conn(sock, WAIT)
    try:
        peer, peer_filter, originator = npeer.acceptor_handshake(conn, Q, ["/test"])
        assert (peer_filter, originator) == ([], False)
        peering.join(WAIT)
        assert result == [True]
        ping_pong(conn, Q, peer)
        # Unpeering sends Broker's BYE ping, then closes.
        assert ep.unpeer("127.0.0.1", port)
        bye = expect_envelope(conn, npeer.PING)
        assert (bye["receiver"], bye["payload"][:3]) == (Q, b"BYE")
        assert conn.recv() is None
    finally:
        conn.close()


def test_a_clone_attach_request_is_answered_with_the_snapshot(ours):
    ep, statuses, port = ours
    store = ep.attach_master("mystore", broker.Backend.Memory)
    store.put("k", broker.Count(1))
    conn = connect(port)
    npeer.connector_handshake(conn, Q, ["mystore/<$>/data/clone"], 99)
    next_status(statuses, broker.SC.PeerAdded)
    # Broker's clone asks to attach: nack{[0]} from entity (Q, 7), receiver none.
    nack = npeer.pack_nack(0, (Q, 7), (npeer.NIL, 0), [0])
    conn.send(npeer.pack_envelope(Q, npeer.NIL, npeer.COMMAND, "mystore/<$>/data/master", nack))
    ack = expect_envelope(conn, npeer.COMMAND)
    assert ack["topic"] == "mystore/<$>/data/clone"
    seq, _, receiver, index = npeer.parse_command_header(ack["payload"])
    assert (seq, receiver, index) == (1, (Q, 7), 12)  # ack_clone, offset 1
    body = ack["payload"][57:]
    assert struct.unpack_from("!QHB", body) == (1, 5, 1)  # offset, heartbeat, one entry
    key, end = npeer.decode_data(body, 11)
    value, end = npeer.decode_data(body, end)
    assert (key, value, end) == (("str", b"k"), ("count", 1), len(body))


def test_a_malformed_store_command_closes_that_peering_only(serving):
    ep, statuses, port, still_serving = serving
    conn = connect(port)
    npeer.connector_handshake(conn, Q, ["/x"], 99)
    next_status(statuses, broker.SC.PeerAdded)
    # A nack whose list of numbers is cut short.
    nack = npeer.pack_nack(0, (Q, 7), (npeer.NIL, 0), [0])[:-3]
    conn.send(npeer.pack_envelope(Q, npeer.NIL, npeer.COMMAND, "mystore/<$>/data/master", nack))
    next_status(statuses, broker.EC.PeerInvalid)
    next_status(statuses, broker.SC.PeerLost)
    assert conn.recv() is None
    still_serving()