"""Received values are fresh and exact although conversion shares objects: short strings
come from a cache shared by all conversions, small counts are shared, and `get(n)`
converts expensive messages in chunks while the rest arrive."""

import gc
import ipaddress
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import broker
from conftest import WAIT, peer, subscribed_pair
from test_roundtrip import INT64, values


def back(value):
    """The value after a trip through Broker data."""
    return broker.Data.to_py(broker.Data(value))


def test_cached_strings_are_never_confused():
    # Many more distinct short strings than the cache holds, in two passes, so that
    # entries are replaced and hit; among them strings that differ only in trailing
    # zeros, in their last byte, or past the first 8 or 32 bytes.
    texts = [f"key{i:05d}" for i in range(3000)]
    texts += ["a", "a\0", "a\0\0", "", "\0", "é", "é\0", "x" * 32, "x" * 31 + "y"]
    texts += ["p" * 8 + "q", "p" * 8 + "r", "z" * 33, "z" * 32 + "\0"]
    for _ in range(2):
        for text in texts:
            got = back(text)
            assert type(got) is str and got == text
        table = back({text: broker.Count(i) for i, text in enumerate(texts)})
        assert table == {text: broker.Count(i) for i, text in enumerate(texts)}


def test_bytes_that_are_not_utf8_stay_bytes_next_to_cached_strings():
    assert back("ab") == "ab"
    assert back(b"a\xff") == b"a\xff"
    assert back(b"ab") == "ab"


def test_counts_are_exact_small_and_large():
    values = [0, 1, 255, 256, 2**32, 2**64 - 1]
    assert back([broker.Count(v) for v in values]) == tuple(broker.Count(v) for v in values)


def test_mutating_a_received_table_leaves_later_messages_alone(endpoints):
    sender, sub = subscribed_pair(endpoints, "/t")
    table = {f"key{i:02d}": broker.Count(i) for i in range(50)}
    sender.publish("/t", table)
    sender.publish("/t", table)
    first = sub.get(WAIT)
    assert first == ("/t", table)
    received = first[1]
    received["key00"] = "changed"
    received["extra"] = 1
    del received["key01"]
    assert sub.get(WAIT) == ("/t", table)
    assert back(table) == table


def test_get_n_returns_large_tables_complete_and_in_order(endpoints):
    sender, sub = subscribed_pair(endpoints, "/t")
    n = 600  # several chunks once the pace has been learnt
    for round_ in range(2):
        for i in range(n):
            sender.publish("/t", {"seq": i, "round": round_, **{f"k{j}": j for j in range(40)}})
        got = sub.get(n, WAIT)
        assert [value["seq"] for _, value in got] == list(range(n))
        assert all(value["round"] == round_ for _, value in got)


def test_get_n_with_a_timeout_returns_what_arrived(endpoints):
    sender, sub = subscribed_pair(endpoints, "/t")
    for i in range(5):
        sender.publish("/t", {"seq": i})
    got = sub.get(10, 1.0)
    assert [value["seq"] for _, value in got] == list(range(5))
    assert sub.get(3, 0) == []


def exactly(a, b):
    """Equal, of the same types throughout, with sets and tables in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(exactly(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list, set, frozenset)):
        return len(a) == len(b) and all(exactly(x, y) for x, y in zip(a, b))
    return a == b


# What publishing encodes straight from Python objects: lists, tuples, dicts keyed by
# str, and the scalars they hold; anything else rides inside them.
fast = st.recursive(
    st.one_of(st.none(), st.booleans(), INT64, st.floats(allow_nan=False), st.text(),
              st.integers(0, 2**64 - 1).map(broker.Count)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.lists(inner, max_size=6).map(tuple),
                            st.dictionaries(st.text(max_size=6), inner, max_size=6)),
    max_leaves=30)


@pytest.fixture(scope="module")
def published():
    """A sender peered to a receiver with a plain and a safe subscriber on /v."""
    sender, receiver = broker.Endpoint(), broker.Endpoint()
    plain, safe = receiver.make_subscriber("/v"), receiver.make_safe_subscriber("/v")
    peer(sender, receiver)
    assert sender.await_peer_subscription("/v", WAIT)
    yield sender, plain, safe
    sender.shutdown()
    receiver.shutdown()


@settings(max_examples=150, deadline=None)
@given(st.one_of(fast, values, st.lists(values, max_size=3)))
def test_a_published_value_arrives_as_its_data_would(published, value):
    # Publishing encodes common Python values straight into wire bytes (a `Data` takes
    # the general way) and subscribers build Python values straight from the bytes
    # received: both arrive exactly as converting the value's `Data` gives it, at plain
    # and safe subscribers alike.
    sender, plain, safe = published
    sender.publish("/v", value)
    sender.publish("/v", broker.Data(value))
    data = broker.Data(value)
    for sub, expected in ((plain, broker.Data.to_py(data)),
                          (safe, broker.ImmutableData.to_py(data))):
        (_, encoded), (_, general) = sub.get(2, WAIT)
        assert exactly(encoded, expected), (value, encoded, expected)
        assert exactly(general, expected), (value, general, expected)


@pytest.mark.parametrize("bad", [
    [1, object()],
    {"a": 1, "b": [2**64]},
    ["\ud800"],
    {"\ud800": 1},
    [[[[]]]] * 2 + [object()],
])
def test_publishing_refuses_what_data_refuses(published, bad):
    sender, plain, _ = published
    with pytest.raises(Exception) as data_error:
        broker.Data(bad)
    with pytest.raises(type(data_error.value)) as publish_error:
        sender.publish("/v", bad)
    assert str(publish_error.value) == str(data_error.value)


def nested(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


def test_values_nested_beyond_the_wire_are_not_sent_and_deeper_ones_refused(published):
    # The wire carries 128 levels; conversion refuses beyond 500, as for Data.
    sender, plain, safe = published
    sender.publish("/v", nested(200))
    sender.publish("/v", "after")
    assert plain.get(WAIT) == ("/v", "after")
    assert safe.get(WAIT) == ("/v", "after")
    with pytest.raises(RecursionError):
        sender.publish("/v", nested(600))


def test_received_tuples_of_scalars_are_left_to_no_garbage_collection():
    # The collector would traverse each once only to untrack it; containers of
    # mutable values stay tracked, so cycles through them are still found.
    scalars = broker.Data.to_py(broker.Data([1, "a", 2.5, None, True, (3, "b")]))
    assert not gc.is_tracked(scalars) and not gc.is_tracked(scalars[5])
    assert gc.is_tracked(broker.Data.to_py(broker.Data([1, {"a": [1]}])))
    assert gc.is_tracked(broker.Data.to_py(broker.Data([{1, 2}])))


class Int(int):
    pass


class Str(str):
    pass


class Dict(dict):
    pass


@pytest.mark.parametrize("value", [
    [], (), {}, [[]], ([], ()), {"a": []}, [{}],
    [2**63 - 1, -(2**63), 0, -1, 63, -64, 64, -65, 8191, -8192, 8192, 2**62],
    [True, 1, False, 0, broker.Count(1), broker.Count(2**64 - 1)],
    [Int(5), Str("s"), Dict(a=Int(1)), [Int(-(2**63))]],
    [-0.0, 0.0, float("inf"), -float("inf"), 1e308, 5e-324],
    [[1, [2, [3, ("x", [4.5, None])]]]],
    list(range(300)),
])
def test_edge_values_arrive_as_their_data_would(published, value):
    # Bounds of the integer encodings, bools beside ints, subclasses (converted the
    # general way inside containers encoded straight), empty and nested containers.
    sender, plain, safe = published
    sender.publish("/v", value)
    data = broker.Data(value)
    for sub, expected in ((plain, broker.Data.to_py(data)),
                          (safe, broker.ImmutableData.to_py(data))):
        _, got = sub.get(WAIT)
        assert exactly(got, expected), (value, got, expected)


def test_nan_and_negative_zero_arrive_exactly(published):
    sender, plain, safe = published
    sender.publish("/v", [float("nan"), -0.0])
    for sub in (plain, safe):
        _, (nan, zero) = sub.get(WAIT)
        assert math.isnan(nan) and zero == 0.0 and math.copysign(1.0, zero) == -1.0


def test_publishing_a_list_that_an_item_empties_sends_the_list_as_left(published):
    # Converting an IPv4Address subclass calls its __int__, which here empties the
    # list being published: the items already encoded (borrowed from the list) are
    # not used again, and the list goes the general way as it is afterwards.
    sender, plain, safe = published
    victims = []

    class Emptying(ipaddress.IPv4Address):
        def __int__(self):
            victims.clear()
            return super().__int__()

    victims += ["x" * 100 + str(i) for i in range(3)]
    victims.insert(1, Emptying("10.0.0.1"))
    sender.publish("/v", victims)
    assert plain.get(WAIT) == ("/v", ())
    assert safe.get(WAIT) == ("/v", ())


def test_received_tuples_are_tracked_by_the_collector_only_if_they_may_hold_a_cycle(
        published):
    sender, plain, safe = published
    sender.publish("/v", [[1, "a", 2.5, None, True, broker.Count(3), (4, "b")], []])
    sender.publish("/v", [1, {"a": 1}])
    sender.publish("/v", [[{1, 2}]])
    _, scalars = plain.get(WAIT)
    assert not gc.is_tracked(scalars) and not gc.is_tracked(scalars[0][6])
    _, with_dict = plain.get(WAIT)
    assert gc.is_tracked(with_dict)
    _, with_set = plain.get(WAIT)
    assert gc.is_tracked(with_set) and gc.is_tracked(with_set[0])
    assert len(safe.get(3, WAIT)) == 3
