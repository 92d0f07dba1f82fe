"""Endpoints through Python: peering, ping-pong, batches, publishers, statuses, forwarding."""

import datetime
import select
import time
import uuid

import pytest

import broker
from conftest import WAIT, next_status, peer, subscribed_pair, wait_until


def test_node_ids_are_unique_strings(endpoints):
    a, b = endpoints(), endpoints()
    assert isinstance(a.node_id(), str) and a.node_id() != b.node_id()
    assert repr(a) == a.node_id()


def test_node_ids_are_uuids_as_broker_prints_them(endpoints):
    node = endpoints().node_id()
    assert str(uuid.UUID(node)) == node  # canonical lowercase 8-4-4-4-12
    assert uuid.UUID(node).version == 4


def test_ping_pong(endpoints):
    a, b = endpoints(), endpoints()
    a_sub = a.make_subscriber("/test")
    b_sub = b.make_subscriber(["/test"])
    port = peer(a, b)
    assert a.await_peer_subscription(broker.Topic("/test"), WAIT)
    for i in range(5):
        a.publish("/test/ping", ["ping", i])
        topic, value = b_sub.get(WAIT)
        assert (topic, value) == ("/test/ping", ("ping", i))
        b.publish(broker.Topic("/test/pong"), ["pong", i])
        assert a_sub.get(WAIT) == ("/test/pong", ("pong", i))
    peers = a.peers()
    assert len(peers) == 1
    info = peers[0]
    assert info.peer.id == b.node_id() and info.peer.node_id() == b.node_id()
    assert info.peer.network.is_set() and info.peer.network.get().port == port
    assert info.peer.network.get().address == "127.0.0.1"
    assert info.status == broker.PeerStatus.Peered
    assert info.flags & broker.PeerFlags.Remote


def test_mixed_type_batch(endpoints):
    import datetime
    import ipaddress

    a, b = endpoints(), endpoints()
    sub = b.make_subscriber("/batch")
    peer(a, b)
    assert a.await_peer_subscription("/batch", WAIT)
    messages = [
        ("/batch/1", (1, "a", 2.5, None, True)),
        ("/batch/2", {broker.Count(1): ipaddress.ip_network("10.0.0.0/8")}),
        ("/batch/3", (datetime.timedelta(seconds=3), broker.Port(22, broker.Port.TCP))),
        ("/batch/4", {frozenset({1}), broker.Enum("e")}),
    ]
    a.publish_batch(*messages)
    assert b_sub_all(sub, len(messages)) == messages


def b_sub_all(sub, n):
    received = sub.get(n, WAIT)
    assert len(received) == n
    return received


def test_get_variants_poll_available_and_fd(endpoints):
    a, sub = subscribed_pair(endpoints, "/local")
    assert sub.get(0.05) is None
    assert sub.get(2, 0.05) == []
    assert sub.poll() == [] and not sub.available()
    assert select.select([sub.fd()], [], [], 0)[0] == []
    for i in range(3):
        a.publish("/local/x", i)
    assert wait_until(sub.available)
    assert select.select([sub.fd()], [], [], WAIT)[0] == [sub.fd()]
    one = sub.get(1)
    assert one == [("/local/x", 0)]
    assert sub.get(1.0) == ("/local/x", 1)
    assert sub.get() == ("/local/x", 2)
    assert select.select([sub.fd()], [], [], 0)[0] == []
    a.publish_batch(*[("/local/y", i) for i in range(4)])
    assert wait_until(sub.available)
    assert select.select([sub.fd()], [], [], WAIT)[0]
    assert sub.get(4) == [("/local/y", i) for i in range(4)]
    a.publish("/local/z", 9)
    wait_until(sub.available)
    assert sub.poll() == [("/local/z", 9)] and not sub.available()
    with pytest.raises(TypeError):
        sub.get(1, 2, 3)


def test_await_peer_subscription(endpoints):
    a, b = endpoints(), endpoints()
    peer(a, b)
    assert not a.await_peer_subscription("/wanted/x", 0.05)
    sub = b.make_subscriber("/wanted")
    assert a.await_peer_subscription("/wanted/x", WAIT)
    assert a.await_peer_subscription(broker.Topic("/wanted"))
    assert not a.await_peer_subscription("/want", datetime.timedelta(0))
    a.publish("/wanted/x", 1)
    assert sub.get(WAIT) == ("/wanted/x", 1)


def test_await_peer_and_the_statuses_of_discovery(endpoints):
    a, b = endpoints(), endpoints()
    statuses = a.make_status_subscriber(True)
    assert not a.await_peer(b.node_id(), 0.05)
    port = b.listen("127.0.0.1", 0)
    assert a.peer("127.0.0.1", port, 0)
    assert a.await_peer(b.node_id(), datetime.timedelta(0))
    assert b.await_peer(a.node_id(), WAIT)
    # PeerAdded first, so a script taking the first status as the outcome still works.
    added, discovered = statuses.get(WAIT), statuses.get(WAIT)
    assert (added.code(), discovered.code()) == (broker.SC.PeerAdded, broker.SC.EndpointDiscovered)
    assert discovered.context().node_id() == b.node_id() and not discovered.context().network.is_set()
    assert added.context().type == discovered.context().type == "native"
    assert str(discovered) == f'endpoint_discovered({b.node_id()}, "found a new peer in the network")'
    b.shutdown()
    assert statuses.get(WAIT).code() == broker.SC.PeerLost
    unreachable = statuses.get(WAIT)
    assert unreachable.code() == broker.SC.EndpointUnreachable
    assert unreachable.context().node_id() == b.node_id() and "lost the last path" in str(unreachable)
    assert not a.await_peer(b.node_id(), 0.05)


def test_await_peer_finds_an_endpoint_several_hops_away(endpoints):
    # A chain a-b-c-d: a reaches d through b and c, never peering with it.
    a, b, c, d = (endpoints() for _ in range(4))
    statuses = a.make_status_subscriber(True)
    ports = [e.listen("127.0.0.1", 0) for e in (b, c, d)]
    for left, port in zip((a, b, c), ports):
        assert left.peer("127.0.0.1", port, 0)
    assert a.await_peer(d.node_id(), WAIT)
    assert a.await_peer(c.node_id(), datetime.timedelta(0))
    assert [p.peer.node_id() for p in a.peers()] == [b.node_id()]
    seen = []
    while not seen or seen[-1] != (broker.SC.EndpointDiscovered, d.node_id()):
        status = statuses.get(WAIT)
        seen.append((status.code(), status.context().node_id()))
    assert seen == [(broker.SC.PeerAdded, b.node_id()), (broker.SC.EndpointDiscovered, b.node_id()),
                    (broker.SC.EndpointDiscovered, c.node_id()), (broker.SC.EndpointDiscovered, d.node_id())]
    # The middle link goes: c and d are out of reach, b stays.
    assert b.unpeer("127.0.0.1", ports[1])
    lost = [statuses.get(WAIT) for _ in range(2)]
    assert {s.code() for s in lost} == {broker.SC.EndpointUnreachable}
    assert {s.context().node_id() for s in lost} == {c.node_id(), d.node_id()}
    assert not a.await_peer(d.node_id(), 0.05)
    assert a.await_peer(b.node_id(), 0)
    # The timeout bounds the wait for one that never comes.
    started = time.monotonic()
    assert not a.await_peer(d.node_id(), 0.2)
    assert time.monotonic() - started >= 0.2


def test_await_peer_refuses_what_is_no_endpoint_id(endpoints):
    with pytest.raises(ValueError, match="invalid endpoint id"):
        endpoints().await_peer("not-an-id", 0.01)
    # Broker 1.4's form is no longer an id; the UUID form in capitals still is one.
    with pytest.raises(ValueError, match="invalid endpoint id"):
        endpoints().await_peer("AB" * 20 + "#42", 0.01)
    assert not endpoints().await_peer(str(uuid.uuid4()).upper(), 0.01)


def test_add_and_remove_topic(endpoints):
    a, sub = subscribed_pair(endpoints, "/one")
    sub.add_topic("/two", block=True)
    assert a.await_peer_subscription("/two", WAIT)
    a.publish("/two", 2)
    assert sub.get(WAIT) == ("/two", 2)
    sub.remove_topic(broker.Topic("/two"), block=True)
    assert wait_until(lambda: broker.Topic("/two") not in a.peer_subscriptions())
    a.publish("/two", 3)
    a.publish("/one", 1)
    assert sub.get(WAIT) == ("/one", 1)
    assert sub.get(0.1) is None


def test_iteration_and_with_blocks(endpoints):
    a, sub = subscribed_pair(endpoints, "/it")
    with sub:
        a.publish_batch(*[("/it", i) for i in range(3)])
        got = []
        for topic, value in sub:
            got.append(value)
            if len(got) == 3:
                break
        assert got == [0, 1, 2]
    with pytest.raises(RuntimeError):
        sub.get(0.0)
    assert list(sub) == []
    with broker.Endpoint() as ep:
        assert ep.listen("127.0.0.1", 0) > 0


def test_asyncio_aget_and_async_for(endpoints):
    import asyncio

    a, sub = subscribed_pair(endpoints, "/aio")

    async def main():
        async def later():
            await asyncio.sleep(0.05)
            a.publish_batch(("/aio", 1), ("/aio", 2), ("/aio", 3))

        task = asyncio.create_task(later())
        first = await asyncio.wait_for(sub.aget(), WAIT)
        rest = []
        async for message in sub:
            rest.append(message)
            if len(rest) == 2:
                break
        await task
        return first, rest

    first, rest = asyncio.run(main())
    assert first == ("/aio", 1) and rest == [("/aio", 2), ("/aio", 3)]


def test_blocking_get_releases_the_gil(endpoints):
    import threading

    a = endpoints()
    sub = a.make_subscriber("/gil")
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        assert sub.get(0.5) is None
    finally:
        stop.set()
        thread.join(WAIT)
    assert len(ticks) > 20


def test_publisher(endpoints):
    a, b = endpoints(), endpoints()
    sub = b.make_subscriber("/pub")
    peer(a, b)
    assert a.await_peer_subscription("/pub/x", WAIT)
    pub = a.make_publisher("/pub/x")
    assert isinstance(pub, broker.Publisher)
    assert pub.capacity() > 0 and pub.free_capacity() <= pub.capacity()
    assert pub.buffered() >= 0 and pub.demand() >= 0 and pub.send_rate() >= 0.0
    assert select.select([], [], [], 0) == ([], [], [])
    assert select.select([pub.fd()], [], [], WAIT)[0] == [pub.fd()]
    pub.publish(1)
    pub.publish_batch(2, "three", (4,))
    assert sub.get(4, WAIT) == [("/pub/x", 1), ("/pub/x", 2), ("/pub/x", "three"), ("/pub/x", (4,))]


def test_status_subscriber_statuses_and_errors(endpoints):
    a, b = endpoints(), endpoints()
    statuses = a.make_status_subscriber(True)
    errors_only = a.make_status_subscriber()
    assert not a.peer("127.0.0.1", closed_port(), 0)
    error = next_status(statuses, broker.EC.PeerUnavailable)
    assert isinstance(error, broker.Error) and error.message() == "unable to connect to remote peer"
    assert error.context().network.get().address == "127.0.0.1"
    assert isinstance(errors_only.get(WAIT), broker.Error)
    port = peer(a, b)
    added = next_status(statuses, broker.SC.PeerAdded)
    assert isinstance(added, broker.Status) and added.message() == "handshake successful"
    assert added.context().id == b.node_id() and added.context().network.get().port == port
    assert str(added).startswith("peer_added(")
    assert errors_only.get(0.2) is None  # statuses only when asked
    assert a.unpeer("127.0.0.1", port)
    assert next_status(statuses, broker.SC.PeerRemoved).context().id == b.node_id()
    assert not a.unpeer("127.0.0.1", port)
    assert statuses.poll() is not None


def test_peer_loss_is_reported(endpoints):
    a, b = endpoints(), endpoints()
    statuses = a.make_status_subscriber(True)
    peer(a, b)
    next_status(statuses, broker.SC.PeerAdded)
    b.shutdown()
    lost = next_status(statuses, broker.SC.PeerLost)
    assert lost.message() == "lost connection to remote peer"
    assert wait_until(lambda: not a.peers())


def test_retry_reconnects_in_the_background(endpoints):
    a, b = endpoints(), endpoints()
    statuses = a.make_status_subscriber(True)
    port = closed_port()
    a.peer_nosync("127.0.0.1", port, 0.2)
    next_status(statuses, broker.EC.PeerUnavailable)
    assert b.listen("127.0.0.1", port) == port
    next_status(statuses, broker.SC.PeerAdded)


def test_listen_failure_returns_zero(endpoints):
    a, b = endpoints(), endpoints()
    port = a.listen("127.0.0.1", 0)
    assert b.listen("127.0.0.1", port) == 0


def settle_chain(eps):
    """Waits until each endpoint of a chain knows its downstream neighbour's filter as it
    is now: a probe subscription made now reaches the neighbour after every earlier
    change. Returns the probes, which must stay alive."""
    probes = [ep.make_subscriber("/probe/%d" % i) for i, ep in enumerate(eps)]
    for i in range(len(eps) - 1):
        assert eps[i].await_peer_subscription("/probe/%d" % (i + 1), WAIT)
    return probes


def test_forwarding_chain_of_four_with_ttl_and_forward(endpoints):
    def chain(ttl):
        opts = broker.BrokerOptions()
        opts.ttl = ttl
        eps = [endpoints(broker.Configuration(opts)) for _ in range(4)]
        for left, right in zip(eps, eps[1:]):
            peer(left, right)
        return eps

    eps = chain(20)
    sub = eps[3].make_subscriber("/chain")
    for middle in eps[1:3]:
        middle.forward("/chain")
    probes = settle_chain(eps)
    eps[0].publish("/chain/x", "far")
    assert sub.get(WAIT) == ("/chain/x", "far")

    short = chain(2)
    sub = short[3].make_subscriber("/chain")
    near = short[2].make_subscriber("/chain")
    for middle in short[1:3]:
        middle.forward(["/chain"])
    probes += settle_chain(short)
    short[0].publish("/chain/x", "near")
    assert near.get(WAIT) == ("/chain/x", "near")
    assert sub.get(0.5) is None  # ttl 2: two hops reach endpoint 2, not endpoint 3


def test_zeek_event_travels(endpoints):
    a, b = endpoints(), endpoints()
    sub = b.make_subscriber("/zeek")
    peer(a, b)
    assert a.await_peer_subscription("/zeek/event", WAIT)
    a.publish("/zeek/event", broker.zeek.Event("ping", "x", broker.Count(3)))
    topic, value = sub.get(WAIT)
    event = broker.zeek.Event(value)
    assert event.valid() and event.name() == "ping" and event.args() == ["x", broker.Count(3)]


def test_tls_configuration_is_accepted(endpoints):
    cfg = broker.Configuration(broker.BrokerOptions())
    cfg.openssl_cafile = "/nonexistent/ca.pem"
    cfg.openssl_certificate = "/nonexistent/cert.pem"
    cfg.openssl_key = "/nonexistent/key.pem"
    cfg.openssl_passphrase = "secret"
    opts = broker.BrokerOptions()
    opts.disable_ssl = True
    a, b = endpoints(broker.Configuration(opts)), endpoints(broker.Configuration(opts))
    peer(a, b)


def test_unconvertible_values_raise_before_publishing(endpoints):
    a, sub = subscribed_pair(endpoints, "/bad")
    with pytest.raises(TypeError, match="object"):
        a.publish("/bad", object())
    with pytest.raises(TypeError):
        a.publish_batch(("/bad", 1), ("/bad", object()))
    with pytest.raises(TypeError):
        a.publish_batch("not a pair")
    assert sub.get(0.1) is None


def test_shutdown_is_idempotent():
    ep = broker.Endpoint()
    ep.shutdown()
    ep.shutdown()


def closed_port():
    """A loopback port nobody listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_keepalive_interval_is_an_option_and_zero_sends_no_probes(endpoints):
    options = broker.BrokerOptions()
    assert options.keepalive_interval == 5.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            options.keepalive_interval = bad
    assert options.keepalive_interval == 5.0

    def quiet_endpoint(seconds):
        options = broker.BrokerOptions()
        options.disable_ssl = True
        options.keepalive_interval = seconds
        return endpoints(broker.Configuration(options))

    # A short interval probes an idle peering; none sends no probe and keeps it.
    for seconds, probed in ((0.05, True), (0.0, False)):
        a, b = quiet_endpoint(seconds), quiet_endpoint(seconds)
        peer(a, b)
        time.sleep(0.5)
        pings = sum(e.metrics()["broker_processed_messages_total"].get("ping", 0)
                    for e in (a, b))
        assert (pings > 0) == probed, (seconds, pings)
        assert len(a.peers()) == len(b.peers()) == 1
