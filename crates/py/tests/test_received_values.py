"""Received values are fresh and exact although conversion shares objects: short strings
come from a cache shared by all conversions, small counts are shared, and `get(n)`
converts expensive messages in chunks while the rest arrive."""

import broker
from conftest import WAIT, subscribed_pair


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
