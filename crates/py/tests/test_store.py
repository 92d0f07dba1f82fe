"""Data stores through Python: a master and a clone peered over loopback, every method from
both sides, expiry, put_unique, SQLite persistence, store events, attach rules."""

import datetime
import time

import pytest

import broker
from conftest import WAIT, next_status, peer, wait_until


def contents(store):
    """The store as a dict, or None when it cannot tell."""
    keys = store.keys()
    return None if keys is None else {key: store.get(key) for key in keys}


def converge(stores, expected):
    """Waits until every store holds exactly `expected`."""
    for store in stores:
        assert store.await_idle(WAIT)
    assert wait_until(lambda: all(contents(s) == expected for s in stores)), [contents(s) for s in stores]


@pytest.fixture
def pair(endpoints):
    """A master of store "s" on one endpoint and its clone on a peer: (master, clone)."""
    a, b = endpoints(), endpoints()
    peer(b, a)
    master = a.attach_master("s", broker.Backend.Memory, {})
    assert master is not None
    clone = b.attach_clone("s")
    assert clone is not None
    return master, clone


@pytest.mark.parametrize("writer", ["master", "clone"])
def test_every_method_from_master_and_clone(pair, writer):
    master, clone = pair
    store = master if writer == "master" else clone
    assert master.name() == clone.name() == "s"
    store.put("str", "a")
    store.put("num", 5)
    store.put("cnt", broker.Count(1))
    store.put("vec", (1, 2))
    store.put("set", {1})
    store.put("tab", {1: "one"})
    store.put("gone", True)
    store.append("str", "bc")
    store.increment("num", 10)
    store.decrement("num", 3)
    store.increment("cnt", broker.Count(4))
    store.increment("fresh", 2)
    store.push("vec", 3)
    store.push("vec", 4)
    store.pop("vec")
    store.insert_into("set", 2)
    store.insert_into("tab", 2, "two")
    store.insert_into("tab", 3, 0)  # falsy, still a table value
    store.remove_from("set", 1)
    store.remove_from("tab", 1)
    store.erase("gone")
    expected = {
        "str": "abc",
        "num": 12,
        "cnt": broker.Count(5),
        "fresh": 2,
        "vec": (1, 2, 3),
        "set": {2},
        "tab": {2: "two", 3: 0},
    }
    converge([master, clone], expected)
    for reader in (master, clone):
        assert reader.keys() == set(expected)
        assert reader.exists("str") and not reader.exists("gone")
        assert reader.get("gone") is None
        assert reader.get_index_from_value("set", 2) is True
        assert reader.get_index_from_value("set", 1) is False
        assert reader.get_index_from_value("tab", 3) == 0
        assert reader.get_index_from_value("tab", 1) is None
        assert reader.get_index_from_value("vec", broker.Count(2)) == 3
        assert reader.get_index_from_value("vec", broker.Count(9)) is None
        assert reader.get_index_from_value("missing", 1) is None
        assert reader.get_index_from_value("str", 1) is None  # not a container: a failed read
    store.clear()
    converge([master, clone], {})


def test_type_clashes_leave_the_value_alone(pair):
    master, clone = pair
    master.put("s", "text")
    clone.increment("s", 1)
    clone.push("s", 1)
    converge([master, clone], {"s": "text"})


@pytest.mark.parametrize("writer", ["master", "clone"])
def test_expiry_in_seconds_and_timedelta(pair, writer):
    master, clone = pair
    store = master if writer == "master" else clone
    store.put("short", 1, 0.2)
    store.put("delta", 2, datetime.timedelta(milliseconds=200))
    store.increment("counter", 1, 0.2)
    store.put("stays", 3)
    converge([master, clone], {"stays": 3})


def test_put_unique_from_master_and_clone(pair):
    master, clone = pair
    assert master.put_unique("m", 1) is True
    assert master.put_unique("m", 2) is False
    assert clone.put_unique("m", 3) is False
    assert clone.put_unique("c", 4) is True
    assert clone.put_unique("c", 5) is False
    assert master.put_unique("c", 6) is False
    assert clone.put_unique("e", 7, 0.2) is True
    converge([master, clone], {"m": 1, "c": 4})


def test_increments_from_master_and_clone_add_up(pair):
    master, clone = pair
    for _ in range(50):
        master.increment("n", 1)
        clone.increment("n", 2)
        clone.decrement("n", 1)
    converge([master, clone], {"n": 100})


def test_sqlite_contents_survive_a_master_restart(endpoints, tmp_path):
    path = str(tmp_path / "store.sqlite")
    first = endpoints()
    store = first.attach_master("persistent", broker.Backend.SQLite, {"path": path})
    store.put("a", 1)
    store.put("b", {"x": (1, 2.5)})
    store.insert_into("b", "y", 0)
    assert store.await_idle(WAIT)
    first.shutdown()
    second = endpoints()
    store = second.attach_master("persistent", broker.Backend.SQLite, {"path": path})
    assert contents(store) == {"a": 1, "b": {"x": (1, 2.5), "y": 0}}


def test_store_events_reach_ordinary_subscribers_at_master_and_clone(endpoints):
    a, b = endpoints(), endpoints()
    topic = "<$>/local/data/store-events/ev"
    at_master, at_clone = a.make_subscriber(topic), b.make_subscriber(topic)
    peer(b, a)
    master = a.attach_master("ev")
    clone = b.attach_clone("ev")
    assert clone is not None
    master.put("k", 1)
    master.put("k", 2)
    clone.erase("k")
    assert clone.await_idle(WAIT)  # the clone's write reaches the master before the next
    master.put("t", 0, 0.2)
    for events in (at_master, at_clone):
        received = events.get(5, WAIT)
        assert {t for t, _ in received} == {topic}
        fields = [value for _, value in received]
        assert [f[0] for f in fields] == ["insert", "update", "erase", "insert", "expire"]
        assert fields[0][1:4] == ("ev", "k", 1)
        assert fields[1][1:5] == ("ev", "k", 1, 2)
        assert fields[2][1:3] == ("ev", "k")
        assert fields[3][4] == datetime.timedelta(seconds=0.2)
        assert fields[4][1:3] == ("ev", "t")


def test_attach_master_twice_gives_the_same_store(endpoints):
    ep = endpoints()
    first = ep.attach_master("twice")
    second = ep.attach_master("twice", broker.Backend.Memory)
    first.put("k", "v")
    assert second.get("k") == "v"
    assert ep.attach_clone("twice").get("k") == "v"


def test_attach_master_with_a_master_at_a_direct_peer_is_none(endpoints):
    a, b = endpoints(), endpoints()
    errors = b.make_status_subscriber()
    peer(b, a)
    assert a.attach_master("taken") is not None
    # Broker's topic of a master: b knows of it once a's subscription reached it.
    assert b.await_peer_subscription("taken/<$>/data/master", WAIT)
    assert b.attach_master("taken") is None
    assert next_status(errors, broker.EC.MasterExists).code() == broker.EC.MasterExists


def test_a_clone_attached_before_peering_syncs_once_its_master_is_reachable(endpoints):
    # As in today's Broker (its store.py attaches clones before peering): a Store at once.
    a, b = endpoints(), endpoints()
    started = time.monotonic()
    clone = b.attach_clone("early")
    assert clone is not None and time.monotonic() - started < 1.0
    master = a.attach_master("early", broker.Backend.Memory)
    master.put("k", 1)
    peer(b, a)
    assert wait_until(lambda: clone.get("k") == 1)
    clone.put("from-clone", 2)
    assert wait_until(lambda: master.get("from-clone") == 2)
    assert clone.await_idle(WAIT)


def test_bad_backends_raise(endpoints, tmp_path):
    ep = endpoints()
    with pytest.raises(RuntimeError, match="RocksDB"):
        ep.attach_master("r", broker.Backend.RocksDB)
    with pytest.raises(RuntimeError, match="backend of store q"):
        ep.attach_master("q", broker.Backend.SQLite, {"path": str(tmp_path)})  # a directory
    with pytest.raises(ValueError):
        ep.attach_master("v", 7)
    with pytest.raises(TypeError):
        ep.attach_master("w").put(object(), 1)
