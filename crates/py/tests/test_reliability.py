"""Reliability: nothing published right after peering is lost, and no blocking call
(drop, store attachment) hangs or holds the GIL."""

import broker
from conftest import WAIT


def test_publish_right_after_peer_arrives(endpoints):
    # Several fresh pairs: the window this guards was short.
    for _ in range(5):
        a, b = endpoints(), endpoints()
        sub = b.make_subscriber(["/race/a", "/race/b"])
        port = b.listen("127.0.0.1", 0)
        assert a.peer("127.0.0.1", port, 0)
        for i in range(3):
            a.publish("/race/a/x", i)
        assert [value for _, value in sub.get(3, WAIT)] == [0, 1, 2]
