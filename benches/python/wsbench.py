#!/usr/bin/env python3
"""WebSocket throughput: Zeek events per second from one Python WebSocket client (the
`websockets` library from PyPI, nothing of broker-rs) into a broker-rs endpoint and out
to a native subscriber peered with it, and back the other way. Three processes:

    client  --WebSocket JSON-->  server endpoint  --native peering-->  native endpoint
    client  <--WebSocket JSON--  server endpoint  <--native peering--  native endpoint

    .venv/bin/python benches/python/wsbench.py --n 200000 [--tls] [--api sync|sansio]

up: from the client's first send until the native subscriber has the last event;
down: from the native publisher's first publish until the client has parsed the last
event's JSON. Prints one JSON line per direction; every wait is bounded.

--api picks how the client uses the library: `sync` is its blocking API, one `send`
(one `sendall`) and one `recv` per message; `sansio` is its Sans-I/O protocol
(`websockets.client.ClientProtocol`, the layer the library's own clients are built
on), framing many messages per `sendall` and parsing whatever one `recv` brings.
"""

import argparse
import json
import socket
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
    # The down burst outruns any client by far: a buffer for all of it rather than
    # the default disconnect after 512 (see docs/websocket.md, "Slow clients").
    opts.web_socket_buffer_size = 1 << 22
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


def tls_context():
    """Broker's anonymous TLS, as a Python client reaches it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("AECDH-AES256-SHA@SECLEVEL=0")
    return context


class SyncClient:
    """The library's blocking API: a message per call."""

    def __init__(self, url, tls):
        from websockets.sync.client import connect
        self.ws = connect(url, ssl=tls_context() if tls else None, open_timeout=WAIT,
                          max_queue=1024, compression=None).__enter__()

    def send(self, texts):
        for text in texts:
            self.ws.send(text)

    def texts(self, n):
        for _ in range(n):
            yield self.ws.recv(WAIT)


class SansIoClient:
    """The library's Sans-I/O protocol over a plain (or TLS) socket: many frames per
    write, every frame that one read brings parsed at once."""

    def __init__(self, url, tls):
        from websockets.client import ClientProtocol
        from websockets.protocol import State
        from websockets.uri import parse_uri
        uri = parse_uri(url)
        self.protocol = ClientProtocol(uri, max_size=None)
        self.sock = socket.create_connection((uri.host, uri.port), timeout=WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.protocol.send_request(self.protocol.connect())
        self.flush()
        while self.protocol.state is not State.OPEN:
            self.receive()
            if self.protocol.handshake_exc:
                raise self.protocol.handshake_exc

    def flush(self):
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def receive(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        self.protocol.receive_data(data)
        return self.protocol.events_received()

    def send(self, texts, chunk=512):
        for start in range(0, len(texts), chunk):
            for text in texts[start:start + chunk]:
                self.protocol.send_text(text.encode())
            self.flush()

    def texts(self, n):
        while n > 0:
            for frame in self.receive():
                if frame.opcode.name == "TEXT":
                    n -= 1
                    yield frame.data.decode()


def client(args):
    """The WebSocket client: the `websockets` library, JSON by hand and by `json`."""
    url = f"{'wss' if args.tls else 'ws'}://{HOST}:{args.port}/v1/messages/json"
    ws = (SansIoClient if args.api == "sansio" else SyncClient)(url, args.tls)
    ws.send([json.dumps([DOWN])])
    json.loads(next(ws.texts(1)))
    reply("ready")
    for line in sys.stdin:
        command, n = line.split()
        n = int(n)
        if command == "send_up":
            texts = [event_json(UP, i) for i in range(n)]
            start = time.time()
            ws.send(texts)
            reply(start)
        elif command == "recv_down":
            last = None
            for text in ws.texts(n):
                last = json.loads(text)
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
    parser.add_argument("--api", choices=["sync", "sansio"], default="sansio",
                        help="how the client uses the websockets library (see above)")
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
    ws = spawn("client", "--port", str(ws_port), "--api", args.api, *tls)
    try:
        assert answer(peer) == ["ready"] and answer(ws) == ["ready"]
        assert server.await_peer_subscription(UP, WAIT)
        n = args.n
        ask(peer, f"count_up {n}")
        ask(ws, f"send_up {n}")
        start = float(answer(ws)[0])
        end, got = answer(peer)
        report("up", n, int(got), float(end) - start, args)
        ask(ws, f"recv_down {n}")
        time.sleep(0.2)  # the client is waiting in recv
        ask(peer, f"publish_down {n}")
        start = float(answer(peer)[0])
        end, last = answer(ws)
        report("down", n, int(last) + 1, float(end) - start, args)
    finally:
        for child in (peer, ws):
            child.stdin.close()
            child.wait(WAIT)
        server.shutdown()


def report(direction, n, got, seconds, args):
    print(json.dumps({"scenario": f"websocket-{direction}", "api": args.api, "tls": args.tls,
                      "n": n, "received": got,
                      "seconds": round(seconds, 3), "events_per_s": round(got / seconds)}),
          flush=True)


if __name__ == "__main__":
    main()
