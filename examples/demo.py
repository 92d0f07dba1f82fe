"""A tour of the Python API, mirroring Broker's Python documentation: two endpoints peer,
ping/pong, a batch of mixed-type messages, the status subscriber, and a Zeek event.

Run: python examples/demo.py
"""

import datetime
import ipaddress

import broker

WAIT = 10.0  # seconds; every wait is bounded


def main():
    with broker.Endpoint() as ep1, broker.Endpoint() as ep2:
        # --peer: ep1 peers with ep2, both subscribe to /test.
        statuses = ep1.make_status_subscriber(True)
        s1 = ep1.make_subscriber("/test")
        s2 = ep2.make_subscriber("/test")
        port = ep2.listen("127.0.0.1", 0)
        print(f"ep2 listens on port {port}")
        assert ep1.peer("127.0.0.1", port, 1.0), "peering failed"
        added = statuses.get(WAIT)
        print(f"status: {added.code()} - {added.message()} (peer {added.context().network.get()})")

        # --ping: a message is a topic and a value.
        ep1.publish("/test", ["ping"])
        topic, value = s2.get(WAIT)
        print(f"ep2 received {value} on {topic}")
        ep2.publish("/test", ["pong"])
        topic, value = s1.get(WAIT)
        print(f"ep1 received {value} on {topic}")

        # --messages: a batch of mixed types, standard Python values and Broker wrappers.
        ep1.publish_batch(
            ("/test/1", (1, 2, 3)),
            ("/test/2", ("a", "b", "c", broker.Count(42), 3.14, True, None)),
            ("/test/3", {ipaddress.ip_address("10.0.0.1"): broker.Port(80, broker.Port.TCP)}),
            ("/test/4", {ipaddress.ip_network("10.0.0.0/8"), broker.Enum("Conn::LOG")}),
            ("/test/5", (datetime.timedelta(seconds=1.5), datetime.datetime(2020, 1, 1, tzinfo=broker.utc))),
        )
        for topic, value in s2.get(5, WAIT):
            print(f"ep2 received {topic}: {value!r}  (Broker: {broker.Data(value)})")

        # --zeek: an event travels as Broker data and parses back.
        ep1.publish("/test/event", broker.zeek.Event("ping", "hello", broker.Count(1)))
        topic, value = s2.get(WAIT)
        event = broker.zeek.Event(value)
        print(f"ep2 received Zeek event {event.name()}{tuple(event.args())}")

        # --error: peering with a port nobody listens on fails with PeerUnavailable.
        assert not ep1.peer("127.0.0.1", free_port(), 0)
        error = statuses.get(WAIT)
        print(f"error: {error.code()} - {error.message()}")

        # --status: unpeering reports PeerRemoved.
        ep1.unpeer("127.0.0.1", port)
        removed = statuses.get(WAIT)
        print(f"status: {removed.code()} - {removed.message()}")
    print("both endpoints shut down")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
