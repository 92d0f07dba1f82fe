"""A tour of the Python API, mirroring Broker's Python documentation: two endpoints peer,
ping/pong, a batch of mixed-type messages, the status subscriber, a Zeek event, and a data
store with a master on one endpoint and a clone on the other.

Run: python examples/demo.py
"""

import datetime
import ipaddress
import time

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
        discovered = statuses.get(WAIT)
        print(f"status: {discovered.code()} - {discovered.message()}")

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

        # --stores: a master on ep1, a clone on ep2; both read and write the same store.
        stores(ep1, ep2)

        # --error: peering with a port nobody listens on fails with PeerUnavailable.
        assert not ep1.peer("127.0.0.1", free_port(), 0)
        error = statuses.get(WAIT)
        print(f"error: {error.code()} - {error.message()}")

        # --status: unpeering reports PeerRemoved, then that the endpoint is unreachable.
        ep1.unpeer("127.0.0.1", port)
        for status in statuses.get(2, WAIT):
            print(f"status: {status.code()} - {status.message()}")
    print("both endpoints shut down")


def stores(ep1, ep2):
    master = ep1.attach_master("demo", broker.Backend.Memory, {})
    clone = ep2.attach_clone("demo")
    print(f"ep1 holds the master of {master.name()!r}, ep2 a clone of {clone.name()!r}")
    master.put("greeting", "hello")
    master.put("counter", 1)
    master.put("fruits", {"apple"})
    master.put("prices", {"apple": 1.5})
    master.put("queue", (1, 2))
    clone.increment("counter", 41)
    clone.append("greeting", ", world")
    clone.insert_into("fruits", "pear")
    clone.insert_into("prices", "pear", 0.0)
    clone.push("queue", 3)
    clone.pop("queue")
    clone.remove_from("fruits", "apple")
    print(f"put_unique('greeting') from the clone: {clone.put_unique('greeting', 'hi')}")
    print(f"put_unique('new') from the clone: {clone.put_unique('new', True)}")
    clone.erase("new")
    master.put("short-lived", "gone soon", 0.1)
    expected = {"greeting": "hello, world", "counter": 42, "fruits": {"pear"},
                "prices": {"apple": 1.5, "pear": 0.0}, "queue": (1, 2)}
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and (snapshot(master) != expected or snapshot(clone) != expected):
        time.sleep(0.02)
    for name, store in (("master", master), ("clone", clone)):
        print(f"{name}: {dict(sorted(snapshot(store).items()))}")
    print(f"clone: exists('counter') = {clone.exists('counter')}, get('missing') = {clone.get('missing')}")
    print(f"clone: 'pear' in fruits = {clone.get_index_from_value('fruits', 'pear')},"
          f" prices['apple'] = {clone.get_index_from_value('prices', 'apple')}")
    master.clear()
    assert clone.await_idle(WAIT)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and clone.keys():
        time.sleep(0.02)
    print(f"after clear: master keys {master.keys()}, clone keys {clone.keys()}")


def snapshot(store):
    return {key: store.get(key) for key in store.keys() or ()}


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
