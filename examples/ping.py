"""Broker's "Exchanging Zeek events" example: send ping(n) events, print the pong(n)
answers.

    python examples/ping.py 127.0.0.1 9999   # with Zeek running examples/ping.zeek
    python examples/ping.py                  # Zeek's side played by a second endpoint
"""

import sys
import threading

import broker

WAIT = 10.0
TOPIC = "/topic/test"


def zeek_stand_in(ep, ready):
    """What examples/ping.zeek does: answers every ping(n) with pong(n)."""
    with ep.make_subscriber(TOPIC) as sub:
        ready.set()
        for _ in range(5):
            _, value = sub.get(WAIT) or (None, None)
            ping = broker.zeek.Event(value)
            ep.publish(TOPIC, broker.zeek.Event("pong", *ping.args()))


def ping(ep, host, port):
    with ep.make_subscriber(TOPIC) as sub, ep.make_status_subscriber(True) as statuses:
        ep.peer(host, port)
        status = statuses.get(WAIT)
        if not (isinstance(status, broker.Status) and status.code() == broker.SC.PeerAdded):
            print("could not connect")
            sys.exit(1)
        for n in range(5):
            ep.publish(TOPIC, broker.zeek.Event("ping", n))
            _, value = sub.get(WAIT)
            pong = broker.zeek.Event(value)
            print(f"received {pong.name()}{pong.args()}")


def main():
    with broker.Endpoint() as ep:
        if len(sys.argv) == 3:
            ping(ep, sys.argv[1], int(sys.argv[2]))
            return
        with broker.Endpoint() as zeek:
            ready = threading.Event()
            answerer = threading.Thread(target=zeek_stand_in, args=(zeek, ready))
            answerer.start()
            ready.wait(WAIT)
            ping(ep, "127.0.0.1", zeek.listen("127.0.0.1", 0))
            answerer.join(WAIT)


if __name__ == "__main__":
    main()
