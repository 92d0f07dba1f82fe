#!/usr/bin/env python3
"""The pyzmq anchor: pybench's payloads over ZeroMQ on loopback TCP, two processes.

    target/bench-venv/bin/python benches/python/zmqbench.py --scenario pubsub --payload vec100
    target/bench-venv/bin/python benches/python/zmqbench.py --scenario reqrep

pubsub: PUB here, SUB in a child process; every message serialized on send and parsed on
receipt (msgpack by default, pickle with --codec pickle), high-water marks off so nothing is
dropped; the rate runs from the first send to the last message received. reqrep: REQ here,
REP in a child that parses and re-serializes; round-trip median and p99 in µs. The payloads
are pybench's: [i, str, 3.14], 100 counts, a table of 50 str -> count, and a Zeek-like event
["ping", [str, i]]. One JSON line on stdout; every wait is bounded by --max-seconds.
"""

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import time

import msgpack
import zmq

TEXT = "some string"
MARKER = b"__sync__"
STOP = b"__stop__"
ENDPOINT = "tcp://127.0.0.1"


def make_payload(kind):
    if kind == "small":
        return lambda i: [i, TEXT, 3.14]
    if kind == "vec100":
        vector = list(range(100))
        return lambda i: vector
    if kind == "table50":
        table = {"key%02d" % j: j for j in range(50)}
        return lambda i: table
    if kind == "zeek":
        return lambda i: ["ping", [TEXT, i]]
    raise ValueError(kind)


def codec(name):
    """(encode, decode) of a codec name."""
    if name == "msgpack":
        return msgpack.packb, msgpack.unpackb
    return (lambda o: pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL)), pickle.loads


def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def report(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def role_sub(args):
    """Receives until `n` messages; says "synced" on stdout at the first marker."""
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect("%s:%d" % (ENDPOINT, args.port))
    _, decode = codec(args.codec)
    deadline = time.monotonic() + args.max_seconds + 15
    synced, received, last = False, 0, None
    cpu_start = time.process_time()
    while received < args.n and time.monotonic() < deadline:
        if not sub.poll(100):
            continue
        for _ in range(1000):
            try:
                message = sub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if message == MARKER:
                if not synced:
                    synced = True
                    cpu_start = time.process_time()
                    report({"synced": True})
                continue
            decode(message)
            received += 1
            last = time.time()
    report({"received": received, "t_last": last, "vmhwm_kb": vmhwm_kb(),
            "cpu_s": time.process_time() - cpu_start})
    context.destroy(linger=0)


def role_rep(args):
    """Answers every request with its payload, parsed and serialized again, until STOP."""
    context = zmq.Context()
    rep = context.socket(zmq.REP)
    rep.connect("%s:%d" % (ENDPOINT, args.port))
    rep.RCVTIMEO = 500
    encode, decode = codec(args.codec)
    deadline = time.monotonic() + args.max_seconds + 15
    while time.monotonic() < deadline:
        try:
            message = rep.recv()
        except zmq.Again:
            continue
        if message == STOP:
            rep.send(b"")
            break
        rep.send(encode(decode(message)))
    context.destroy(linger=0)


def spawn(args, role, port):
    argv = [sys.executable, __file__, "--role", role, "--port", str(port), "--n", str(args.n),
            "--codec", args.codec, "--max-seconds", str(args.max_seconds)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def read_line(child, timeout):
    """The child's next JSON line, or TimeoutError (its stdout is polled, never blocked on)."""
    poller = zmq.Poller()
    poller.register(child.stdout, zmq.POLLIN)
    if not poller.poll(int(timeout * 1000)):
        raise TimeoutError("child %d said nothing for %.0f s" % (child.pid, timeout))
    line = child.stdout.readline()
    if not line:
        raise RuntimeError("child %d exited" % child.pid)
    return json.loads(line)


def pubsub(args):
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port(ENDPOINT)
    child = spawn(args, "sub", port)
    try:
        deadline = time.monotonic() + 15
        while True:  # markers until the subscription is through
            pub.send(MARKER)
            try:
                read_line(child, 0.05)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        time.sleep(0.1)
        encode, _ = codec(args.codec)
        make = make_payload(args.payload)
        cpu_start = time.process_time()
        start = time.time()
        stop_at = start + args.max_seconds
        sent = 0
        for i in range(args.n):
            pub.send(encode(make(i)))
            sent += 1
            if (i & 1023) == 0 and time.time() > stop_at:
                break
        result = read_line(child, args.max_seconds + 30)
        # All threads of both processes (ZeroMQ's I/O threads too), as pybench counts.
        cpu = time.process_time() - cpu_start + result["cpu_s"]
        elapsed = (result["t_last"] or start) - start
        return {"n": args.n, "sent": sent, "received": result["received"],
                "complete": result["received"] == args.n, "elapsed_s": round(elapsed, 4),
                "msgs_per_s": round(result["received"] / elapsed, 1) if elapsed > 0 else None,
                "cpu_us_per_delivery": round(1e6 * cpu / max(result["received"], 1), 3),
                "child_vmhwm_kb": result["vmhwm_kb"]}
    finally:
        child.wait(timeout=20)
        context.destroy(linger=0)


def reqrep(args):
    context = zmq.Context()
    req = context.socket(zmq.REQ)
    req.RCVTIMEO = 5000
    port = req.bind_to_random_port(ENDPOINT)
    child = spawn(args, "rep", port)
    try:
        encode, decode = codec(args.codec)
        make = make_payload(args.payload)
        warmup = min(200, max(10, args.n // 10))
        clock = time.perf_counter_ns
        rtts = []
        for i in range(args.n + warmup):
            sent_at = clock()
            req.send(encode(make(i)))
            decode(req.recv())
            if i >= warmup:
                rtts.append((clock() - sent_at) / 1000.0)
        req.send(STOP)
        req.recv()
        rtts.sort()
        return {"n": args.n, "completed": len(rtts), "complete": len(rtts) == args.n,
                "median_us": round(statistics.median(rtts), 1),
                "p99_us": round(rtts[int(0.99 * (len(rtts) - 1))], 1)}
    finally:
        child.wait(timeout=20)
        context.destroy(linger=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=["pubsub", "reqrep"], default="pubsub")
    ap.add_argument("--payload", choices=["small", "vec100", "table50", "zeek"], default="small")
    ap.add_argument("--codec", choices=["msgpack", "pickle"], default="msgpack")
    ap.add_argument("--n", type=int, default=0, help="messages (pubsub) or round trips (reqrep)")
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "sub":
        return role_sub(args)
    if args.role == "rep":
        return role_rep(args)
    args.n = args.n or (200_000 if args.scenario == "pubsub" else 10_000)
    result = pubsub(args) if args.scenario == "pubsub" else reqrep(args)
    result.update(scenario="zmq-" + args.scenario, payload=args.payload, codec=args.codec,
                  pyzmq=zmq.__version__)
    report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
