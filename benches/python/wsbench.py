#!/usr/bin/env python3
"""WebSocket throughput: Zeek events per second from one Python WebSocket client (the
`websockets` library from PyPI, nothing of broker-rs) into a broker-rs endpoint and out
to a native subscriber peered with it, and back the other way. Three processes:

    client  --WebSocket JSON-->  server endpoint  --native peering-->  native endpoint
    client  <--WebSocket JSON--  server endpoint  <--native peering--  native endpoint

    .venv/bin/python benches/python/wsbench.py --n 200000 [--tls]

up: from the client's first send until the native subscriber has the last event;
down: from the native publisher's first publish until the client has parsed the last
event's JSON. Prints one JSON line per direction; every wait is bounded.
"""

import argparse
import json
import ssl
import subprocess
import sys
import time

UP, DOWN = "/bench/up", "/bench/down"
HOST = "127.0.0.1"
WAIT = 60.0


def event_json(topic, i):
    """A Zeek event ping(count i, "some string") as the client sends it."""
    return ('{"type":"data-message","topic":"%s","@data-type":"vector","data":['
            '{"@data-type":"count","data":1},{"@data-type":"count","data":1},'
            '{"@data-type":"vector","data":[{"@data-type":"string","data":"ping"},'
            '{"@data-type":"vector","data":[{"@data-type":"count","data":%d},'
            '{"@data-type":"string","data":"some string"}]}]}]}' % (topic, i))


def reply(*values):
    print(*values, flush=True)


def configuration(tls):
    import broker
    opts = broker.BrokerOptions()
    opts.disable_ssl = not tls
    opts.web_socket_buffer_size = 65536  # a benchmark bursts; see docs/websocket.md
    return broker.Configuration(opts)


def native(args):
    """The native endpoint: counts what comes up, publishes what goes down."""
    import broker
    import broker.zeek
    ep = broker.Endpoint(configuration(args.tls))
    sub = ep.make_subscriber(UP)
    assert ep.peer(HOST, args.port, 1.0)
    reply("ready")
    for line in sys.stdin:
        command, n = line.split()
        n = int(n)
        if command == "count_up":
            got, deadline = 0, time.monotonic() + WAIT
            while got < n and time.monotonic() < deadline:
                got += len(sub.get(1000, 0.1) or [])
            reply(time.time(), got)
        elif command == "publish_down":
            start = time.time()
            for i in range(n):
                ep.publish(DOWN, broker.zeek.Event("ping", broker.Count(i), "some string"))
            reply(start)
    ep.shutdown()


def client(args):
    """The WebSocket client: plain `websockets`, JSON by hand and by `json`."""
    from websockets.sync.client import connect
    context = None
    if args.tls:  # Broker's anonymous TLS
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("AECDH-AES256-SHA@SECLEVEL=0")
    scheme = "wss" if args.tls else "ws"
    url = f"{scheme}://{HOST}:{args.port}/v1/messages/json"
    with connect(url, ssl=context, open_timeout=WAIT, max_queue=1024, compression=None) as ws:
        ws.send(json.dumps([DOWN]))
        json.loads(ws.recv(WAIT))
        reply("ready")
        for line in sys.stdin:
            command, n = line.split()
            n = int(n)
            if command == "send_up":
                texts = [event_json(UP, i) for i in range(n)]
                start = time.time()
                for text in texts:
                    ws.send(text)
                reply(start)
            elif command == "recv_down":
                last = None
                for _ in range(n):
                    last = json.loads(ws.recv(WAIT))
                _, _, body = last["data"]
                reply(time.time(), body["data"][1]["data"][0]["data"])


def spawn(role, *extra):
    return subprocess.Popen([sys.executable, __file__, "--role", role, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def ask(child, command=None):
    if command:
        child.stdin.write(command + "\n")
        child.stdin.flush()


def answer(child):
    line = child.stdout.readline()
    if not line:
        raise RuntimeError("a child process died")
    return line.split()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--tls", action="store_true", help="anonymous TLS, as Broker by default")
    parser.add_argument("--role", choices=["native", "client"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "native":
        return native(args)
    if args.role == "client":
        return client(args)

    import broker
    server = broker.Endpoint(configuration(args.tls))
    native_port = server.listen(HOST, 0)
    ws_port = server.web_socket_listen(HOST, 0)
    tls = ["--tls"] if args.tls else []
    peer = spawn("native", "--port", str(native_port), *tls)
    ws = spawn("client", "--port", str(ws_port), *tls)
    try:
        assert answer(peer) == ["ready"] and answer(ws) == ["ready"]
        assert server.await_peer_subscription(UP, WAIT)
        n = args.n
        ask(peer, f"count_up {n}")
        ask(ws, f"send_up {n}")
        start = float(answer(ws)[0])
        end, got = answer(peer)
        report("up", n, int(got), float(end) - start, args.tls)
        ask(ws, f"recv_down {n}")
        time.sleep(0.2)  # the client is waiting in recv
        ask(peer, f"publish_down {n}")
        start = float(answer(peer)[0])
        end, last = answer(ws)
        report("down", n, int(last) + 1, float(end) - start, args.tls)
    finally:
        for child in (peer, ws):
            child.stdin.close()
            child.wait(WAIT)
        server.shutdown()


def report(direction, n, got, seconds, tls):
    print(json.dumps({"scenario": f"websocket-{direction}", "tls": tls, "n": n, "received": got,
                      "seconds": round(seconds, 3), "events_per_s": round(got / seconds)}),
          flush=True)


if __name__ == "__main__":
    main()
