"""Today's Broker Python API (2.x-6.x) beside 1.4's: context managers and reset, safe
subscribers and ImmutableData, container elements, options, keyword names, BrokerError.
Each expectation is what Broker's own bindings (bindings/python) and tests (tests/python)
do; docs/python.md lists the differences."""

import errno
import inspect
import ipaddress
import os
import socket
import types

import pytest

import broker
from conftest import WAIT, next_status, peer, subscribed_pair, wait_until

# --- context managers and reset ------------------------------------------------------


def test_subscriber_reset_ends_the_subscription_at_the_peer(endpoints):
    sender, sub = subscribed_pair(endpoints, "/reset")
    sub.reset()
    assert wait_until(lambda: broker.Topic("/reset") not in sender.peer_subscriptions())
    with pytest.raises(RuntimeError):
        sub.get(0.0)


def test_subscribers_and_publisher_reset_when_a_with_block_ends(endpoints):
    sender, receiver = endpoints(), endpoints()
    with receiver.make_subscriber("/with") as sub, receiver.make_status_subscriber(True) as statuses:
        peer(sender, receiver)
        assert sender.await_peer_subscription("/with/x", WAIT)
        with sender.make_publisher("/with/x") as pub:
            pub.publish(1)
            pub.publish_batch(2, 3)
        # What the publisher had buffered still goes out after its reset.
        assert sub.get(3, WAIT) == [("/with/x", 1), ("/with/x", 2), ("/with/x", 3)]
        assert next_status(statuses, broker.SC.PeerAdded).code() == broker.SC.PeerAdded
    for closed in (sub.poll, statuses.poll, pub.buffered, lambda: pub.publish(4)):
        with pytest.raises(RuntimeError):
            closed()
    assert wait_until(lambda: not sender.peer_subscriptions())


def test_status_subscriber_reset(endpoints):
    statuses = endpoints().make_status_subscriber(receive_statuses=True)
    statuses.reset()
    with pytest.raises(RuntimeError):
        statuses.get(0.0)


def test_store_and_endpoint_are_context_managers(endpoints):
    with broker.Endpoint() as ep:
        with ep.attach_master("ctx", broker.Backend.Memory) as store:
            store.put("k", "v")
            assert store.get("k") == "v"
        # The store stays attached to its endpoint, as in Broker.
        assert ep.attach_master("ctx", broker.Backend.Memory).get("k") == "v"
    assert ep.listen("127.0.0.1", 0) == 0  # shut down on exit


# --- safe subscribers and immutable data ---------------------------------------------

NESTED = {"tables": {frozenset({1, 2}): ({3: 4},)}, "set_of_tables": {broker.FrozenTable({5: 6})}}


def assert_immutable(value):
    """`value` is hashable all the way down and holds no mutable container."""
    hash(value)
    assert not isinstance(value, (set, list)) and (type(value) is not dict)
    if isinstance(value, dict):
        assert isinstance(value, broker.FrozenTable)
        for k, v in value.items():
            assert_immutable(k)
            assert_immutable(v)
    elif isinstance(value, (frozenset, tuple)):
        for x in value:
            assert_immutable(x)


@pytest.mark.parametrize("make", ["make_safe_subscriber", "subscriber_class"])
def test_safe_subscriber_gives_immutable_hashable_values(endpoints, make):
    sender, receiver = endpoints(), endpoints()
    if make == "make_safe_subscriber":
        sub = receiver.make_safe_subscriber(topics="/safe", qsize=10)
    else:
        sub = receiver.make_subscriber("/safe", subscriber_class=broker.SafeSubscriber)
    assert isinstance(sub, broker.SafeSubscriber) and isinstance(sub, broker.Subscriber)
    peer(sender, receiver)
    assert sender.await_peer_subscription("/safe/x", WAIT)
    sender.publish("/safe/x", NESTED)
    sender.publish("/safe/y", [{1, 2}, {"a": 1}])
    topic, value = sub.get(WAIT)
    assert topic == "/safe/x" and value == NESTED
    assert_immutable(value)
    assert sub.get(1, WAIT) == [("/safe/y", (frozenset({1, 2}), broker.FrozenTable({"a": 1})))]


def test_plain_subscriber_still_gives_mutable_values(endpoints):
    sender, sub = subscribed_pair(endpoints, "/plain")
    sender.publish("/plain/x", {"a": {1}})
    _, value = sub.get(WAIT)
    assert type(value) is dict and type(value["a"]) is set


def test_immutable_data_to_py():
    value = broker.ImmutableData.to_py(broker.Data({"a": [{1}, {2: 3}]}))
    assert value == {"a": (frozenset({1}), {2: 3})}
    assert_immutable(value)
    assert isinstance(broker.ImmutableData({1: 2}), broker.Data)
    assert broker.ImmutableData.to_py(broker.Data(7)) == 7
    assert broker.ImmutableData.HashableReadOnlyDict is broker.FrozenTable


def test_hashable_read_only_dict_is_a_read_only_dict():
    table = broker.ImmutableData.HashableReadOnlyDict({1: 2, 3: 4})
    assert isinstance(table, dict) and table == {1: 2, 3: 4} and {1: 2, 3: 4} == table
    assert table == broker.FrozenTable([(3, 4), (1, 2)]) and table != {1: 2}
    assert hash(table) == hash(frozenset({1: 2, 3: 4}.items()))
    mutations = [
        lambda: table.__setitem__(5, 6),
        lambda: table.__delitem__(1),
        lambda: table.pop(1),
        table.popitem,
        table.clear,
        lambda: table.update({5: 6}),
        lambda: table.setdefault(5, 6),
        lambda: table.__ior__({5: 6}),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError):
            mutate()
    assert table == {1: 2, 3: 4}
    assert broker.Data(table) == broker.Data({1: 2, 3: 4})


def test_data_takes_frozenset_and_mapping_proxy():
    assert broker.Data(frozenset({1, 2})).get_type() == broker.Data.Type.Set
    assert broker.Data.to_py(broker.Data(frozenset({1, 2}))) == {1, 2}
    proxy = types.MappingProxyType({"a": 1, "b": 2})
    data = broker.Data(proxy)
    assert data.get_type() == broker.Data.Type.Table and str(data) == "{a -> 1, b -> 2}"
    assert broker.Data.to_py(data) == {"a": 1, "b": 2}


def test_every_wrapper_type_is_hashable_like_brokers():
    def twice(make):
        first, second = make(), make()
        assert first == second and hash(first) == hash(second)

    twice(lambda: broker.Data({1: (2, "x")}))
    twice(lambda: broker.Count(3))
    twice(lambda: broker.Enum("e"))
    twice(lambda: broker.Port(22, broker.Port.TCP))
    twice(lambda: broker.Timespan(5))
    twice(lambda: broker.Timestamp(1.5))
    twice(lambda: broker.Data(ipaddress.ip_address("::1")).as_address())
    twice(lambda: broker.Data(ipaddress.ip_network("10.0.0.0/8")).as_subnet())
    twice(lambda: broker.Data({1: 2}).as_table())
    twice(lambda: broker.Topic("/t"))
    twice(lambda: broker.FrozenTable({1: 2}))
    twice(lambda: broker.ImmutableData(4))
    for identity_hashed in (broker.BrokerOptions(), broker.Configuration(), broker.zeek.Event("e")):
        hash(identity_hashed)


# --- container elements --------------------------------------------------------------


def test_container_elements_are_native_data_not_the_package_class():
    elements = [
        *broker.Data({1, 2, 3}).as_set(),
        *broker.Data((1, 2, 3)).as_vector(),
        *broker.Data({"a": 1}).as_table(),
        *[x for pair in broker.Data({"a": 1}).as_table().items() for x in pair],
    ]
    for x in elements:
        assert not isinstance(x, broker.Data)
        assert isinstance(x, broker._broker.Data)
    assert [broker.Data.to_py(x) for x in broker.Data({3, 1, 2}).as_set()] == [1, 2, 3]
    assert [str(broker.Data(x)) for x in broker.Data(("a", [True])).as_vector()] == ["a", "(T)"]
    table = broker.Data({True: 42}).as_table()
    assert broker.Data.to_py(table[broker.Data(True)]) == 42
    assert isinstance(broker.Data(1), broker.Data) and type(broker.Data(1)) is broker.Data


# --- options -------------------------------------------------------------------------


def test_disable_forwarding_and_forward_are_one_setting():
    opts = broker.BrokerOptions()
    assert (opts.disable_forwarding, opts.forward, opts.ttl) == (False, True, 20)
    opts.disable_forwarding = True
    assert opts.forward is False
    opts.forward = True
    assert opts.disable_forwarding is False
    cfg = broker.Configuration(opts)
    cfg.options.disable_forwarding = True
    assert not cfg.options.forward


def test_disable_forwarding_stops_forwarding(endpoints):
    """a - b - c with b not forwarding: c's subscription does not reach a through b."""

    def chain(disable):
        opts = broker.BrokerOptions()
        opts.disable_forwarding = disable
        a, b, c = endpoints(), endpoints(broker.Configuration(opts)), endpoints()
        sub = c.make_subscriber("/fwd")
        b.forward("/fwd")
        peer(a, b)
        peer(b, c)
        assert a.await_peer_subscription("/fwd", WAIT)
        return a, sub

    a, sub = chain(disable=False)
    a.publish("/fwd/x", 1)
    assert sub.get(WAIT) == ("/fwd/x", 1)
    a, sub = chain(disable=True)
    a.publish("/fwd/x", 2)
    assert sub.get(0.5) is None


SQLITE_GOOD = {
    "synchronous": broker.Enum("Broker::SQLITE_SYNCHRONOUS_NORMAL"),
    "journal_mode": broker.Enum("Broker::SQLITE_JOURNAL_MODE_WAL"),
    "failure_mode": broker.Enum("Broker::SQLITE_FAILURE_MODE_DELETE"),
    "integrity_check": True,
}

SQLITE_WRONG = [
    {"journal_mode": broker.Enum("Foo::SQLITE_JOURNAL_MODE_WAL")},
    {"journal_mode": broker.Enum("Broker::SQLITE_MODE_SUPER_AWESOME")},
    {"synchronous": broker.Enum("Foo::SQLITE_SYNCHRONOUS_OFF")},
    {"synchronous": broker.Enum("Broker::SQLITE_SYNCHRONOUS_CHRONOS")},
    {"failure_mode": broker.Enum("Broker::SQLITE_FAILURE_MODE_MAYBE")},
    {"integrity_check": "yes"},
]


def test_sqlite_options_take_brokers_values(endpoints, tmp_path):
    ep = endpoints()
    store = ep.attach_master("good", broker.Backend.SQLite, {"path": str(tmp_path / "g.db"), **SQLITE_GOOD})
    store.put("k", "v")
    assert store.get("k") == "v"
    assert (tmp_path / "g.db-wal").exists()
    for i, wrong in enumerate(SQLITE_WRONG):
        with pytest.raises(broker.BrokerError, match="sqlite option") as raised:
            ep.attach_master(f"wrong{i}", broker.Backend.SQLite, {"path": str(tmp_path / f"{i}.db"), **wrong})
        assert raised.value.code == broker.EC.BackendFailure


def test_sqlite_failure_mode_delete_replaces_a_corrupt_file(endpoints, tmp_path):
    path = tmp_path / "corrupt.db"
    with broker.Endpoint() as writer:
        writer.attach_master("c", broker.Backend.SQLite, {"path": str(path)}).put("k", "v")
    with open(path, "r+b") as f:  # as Broker's sqlite-failure-mode test corrupts it
        f.seek(2)
        f.write(b"AAAA")
    ep = endpoints()
    fail = broker.Enum("Broker::SQLITE_FAILURE_MODE_FAIL")
    with pytest.raises(broker.BrokerError):
        ep.attach_master("c", broker.Backend.SQLite, {"path": str(path), "failure_mode": fail})
    delete = broker.Enum("Broker::SQLITE_FAILURE_MODE_DELETE")
    store = ep.attach_master("c2", broker.Backend.SQLite, {"path": str(path), "failure_mode": delete})
    assert store.keys() == set()


# --- keyword names -------------------------------------------------------------------


def test_endpoint_keyword_names_are_brokers(endpoints):
    a, b = endpoints(), endpoints()
    port = b.listen(address="127.0.0.1", port=0)
    sub = b.make_subscriber(topics=["/kw"], qsize=5)
    safe = b.make_safe_subscriber(topics="/kw", qsize=5)
    statuses = a.make_status_subscriber(receive_statuses=True)
    assert a.peer(addr="127.0.0.1", port=port, retry=0)
    a.peer_nosync(addr="127.0.0.1", port=port, retry=0.0)
    assert a.await_peer_subscription("/kw", WAIT)
    a.forward(topics=["/elsewhere"])
    a.publish(topic="/kw/1", data=1)
    a.make_publisher(topic="/kw/2").publish(data=2)
    a.make_publisher(topic="/kw/3").publish_batch(3)
    assert sub.get(3, WAIT) == [("/kw/1", 1), ("/kw/2", 2), ("/kw/3", 3)]
    assert safe.get(3, WAIT) == [("/kw/1", 1), ("/kw/2", 2), ("/kw/3", 3)]
    sub.add_topic(topic="/more", block=True)
    sub.remove_topic(topic="/more", block=True)
    assert next_status(statuses, broker.SC.PeerAdded)
    store = b.attach_master(name="kw", type=broker.Backend.Memory, opts={})
    assert a.attach_clone(name="kw") is not None
    store.put(key="k", value={1: {2}}, expiry=None)
    store.put_unique(key="u", value=1, expiry=None)
    store.increment(key="n", amount=2, expiry=None)
    store.decrement(key="n", amount=1, expiry=None)
    store.append(key="s", s="x", expiry=None)
    store.insert_into(key="k", index=3, value={4}, expiry=None)
    store.remove_from(key="k", index=1, expiry=None)
    store.push(key="v", value=1, expiry=None)
    store.pop(key="v", expiry=None)
    store.erase(data="u")
    assert store.await_idle(timeout=WAIT)
    assert store.exists(key="k") and store.get(key="n") == 1
    assert store.get_index_from_value(key="k", index=3) == {4}


# Parameter names of Broker's Python API: today's bindings/python/broker/__init__.py and
# the py::arg names of _broker.cpp; `listen`'s are 1.4's (today's are positional only).
BROKER_PARAMETERS = {
    (broker.Endpoint, "listen"): ["address", "port"],
    (broker.Endpoint, "peer"): ["addr", "port", "retry"],
    (broker.Endpoint, "peer_nosync"): ["addr", "port", "retry"],
    (broker.Endpoint, "make_subscriber"): ["topics", "qsize", "subscriber_class"],
    (broker.Endpoint, "make_safe_subscriber"): ["topics", "qsize"],
    (broker.Endpoint, "make_status_subscriber"): ["receive_statuses"],
    (broker.Endpoint, "make_publisher"): ["topic"],
    (broker.Endpoint, "forward"): ["topics"],
    (broker.Endpoint, "publish"): ["topic", "data"],
    (broker.Endpoint, "attach_master"): ["name", "type", "opts"],
    (broker.Endpoint, "attach_clone"): ["name"],
    (broker.Subscriber, "add_topic"): ["topic", "block"],
    (broker.Subscriber, "remove_topic"): ["topic", "block"],
    (broker.Publisher, "publish"): ["data"],
    (broker.Store, "exists"): ["key"],
    (broker.Store, "get"): ["key"],
    (broker.Store, "get_index_from_value"): ["key", "index"],
    (broker.Store, "put"): ["key", "value", "expiry"],
    (broker.Store, "put_unique"): ["key", "value", "expiry"],
    (broker.Store, "erase"): ["data"],
    (broker.Store, "increment"): ["key", "amount", "expiry"],
    (broker.Store, "decrement"): ["key", "amount", "expiry"],
    (broker.Store, "append"): ["key", "s", "expiry"],
    (broker.Store, "insert_into"): ["key", "index", "value", "expiry"],
    (broker.Store, "remove_from"): ["key", "index", "expiry"],
    (broker.Store, "push"): ["key", "value", "expiry"],
    (broker.Store, "pop"): ["key", "expiry"],
    (broker.Store, "await_idle"): ["timeout"],
    (broker.Data, "from_py"): ["x"],
    (broker.Data, "to_py"): ["d"],
    (broker.ImmutableData, "to_py"): ["d"],
}


@pytest.mark.parametrize(
    "cls,method", list(BROKER_PARAMETERS), ids=[f"{c.__name__}.{m}" for c, m in BROKER_PARAMETERS]
)
def test_parameter_names_are_brokers(cls, method):
    parameters = inspect.signature(getattr(cls, method)).parameters
    names = [p.name for p in parameters.values() if p.name != "self" and p.kind != p.KEYWORD_ONLY]
    assert names == BROKER_PARAMETERS[cls, method]


def test_data_keyword_names_are_brokers():
    assert broker.Data(x=1) == broker.Data.from_py(x=1)
    assert type(broker.Data.from_py(1)) is broker.Data
    assert broker.Data.to_py(d=broker.Data(x=(1,))) == (1,)
    assert broker.ImmutableData.to_py(d=broker.Data({1})) == frozenset({1})


# --- errors --------------------------------------------------------------------------


def test_broker_error_is_a_runtime_error_with_a_code(endpoints):
    assert issubclass(broker.BrokerError, RuntimeError)
    assert broker.BrokerError.code == broker.EC.Unspecified
    with pytest.raises(RuntimeError) as raised:  # today's Broker: "bad variant access"
        broker.Data(1).as_set()
    assert isinstance(raised.value, broker.BrokerError)
    assert raised.value.code == broker.EC.TypeClash and "integer" in str(raised.value)
    with pytest.raises(broker.BrokerError) as raised:
        endpoints().attach_master("r", broker.Backend.RocksDB)
    assert raised.value.code == broker.EC.BackendFailure


# --- listening ----------------------------------------------------------------------


def time_wait_ports():
    """Local ports of loopback TCP connections in TIME_WAIT."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "06":
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def test_a_port_can_be_listened_on_again_while_a_connection_is_in_time_wait(endpoints):
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("needs Linux's /proc/net/tcp to see TIME_WAIT")
    a = broker.Endpoint()
    port = a.listen("127.0.0.1", 0)
    # A client that is no Broker peer: `a` drops the connection, so `a` closes first and
    # its side of the connection, on `port`, waits out TIME_WAIT after `a` is gone.
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        client.sendall(b"\xff" * 4096)
        while client.recv(4096):
            pass
    a.shutdown()
    assert wait_until(lambda: port in time_wait_ports())
    # Without SO_REUSEADDR, the port is taken while the connection waits.
    with socket.socket() as plain:
        with pytest.raises(OSError) as refused:
            plain.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
    assert endpoints().listen("127.0.0.1", port) == port
    assert port in time_wait_ports()
