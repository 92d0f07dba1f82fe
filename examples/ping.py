"""The Python version of Broker's Zeek ping example, with the Zeek side played by a
second endpoint: send ping[i] events and wait for pong[i] answers.

Run: python examples/ping.py
"""

import threading

import broker

WAIT = 10.0


def zeek_side(ep, ready):
    """Answers every ping event with a pong event of the same arguments."""
    sub = ep.make_subscriber("/topic/test/ping")
    ready.set()
    for _ in range(5):
        _, value = sub.get(WAIT) or (None, None)
        ping = broker.zeek.Event(value)
        ep.publish("/topic/test/pong", broker.zeek.Event("pong", *ping.args()))


def main():
    with broker.Endpoint() as zeek, broker.Endpoint() as ep:
        ready = threading.Event()
        answerer = threading.Thread(target=zeek_side, args=(zeek, ready))
        answerer.start()
        ready.wait(WAIT)
        sub = ep.make_subscriber("/topic/test/pong")
        port = zeek.listen("127.0.0.1", 0)
        assert ep.peer("127.0.0.1", port, 1.0)
        for n in range(5):
            ep.publish("/topic/test/ping", broker.zeek.Event("ping", n))
            _, value = sub.get(WAIT)
            pong = broker.zeek.Event(value)
            print(f"received {pong.name()}{pong.args()}")
        answerer.join(WAIT)


if __name__ == "__main__":
    main()
