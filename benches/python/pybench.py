#!/usr/bin/env python3
"""The Python performance scenarios, against whatever `broker` module the interpreter imports.

Uses only the API that ours, Broker 1.4 (Debian's python3-broker) and today's Broker (2.8)
share: Endpoint(Configuration), listen, peer, make_subscriber with one topic, Subscriber.get,
Endpoint.publish, attach_master/attach_clone, Store.put/get, broker.Count, broker.zeek.Event.
Broker 1.4 talks only to itself; ours and Broker 2.8 speak Broker's native protocol to each
other. Every two-process scenario runs two processes of the interpreter given, or the other
process under --peer-python.

    .venv/bin/python benches/python/pybench.py --scenario throughput2p --n 100000
    /usr/bin/python3 benches/python/pybench.py --scenario latency2p          # Broker 1.4
    scripts/reference-broker /usr/bin/python3 benches/python/pybench.py ...  # Broker 2.8
    .venv/bin/python benches/python/pybench.py --peer-python \
        'scripts/reference-broker /usr/bin/python3' ...   # ours publishing to Broker 2.8

Scenarios:
  throughput2p  one publishing process, one subscribing process; [i, str, 3.14] messages
  vec100-2p     the same with a vector of 100 counts
  table50-2p    the same with a table of 50 str -> count
  zeek2p        the same with broker.zeek.Event("ping", str, count), decoded on receipt
  fanout2p      one publishing process, --fanout subscribing processes (deliveries/s)
  latency2p     ping-pong with an echoing process: round-trip median and p99 in µs
  store         two endpoints in this process: master puts/s, clone puts/s until visible on
                the clone, median clone get in µs

Prints one JSON line per scenario on stdout; diagnostics go to stderr. Every wait is bounded
(--max-seconds, then a watchdog exits a process stuck in a blocking call).
"""

import argparse
import faulthandler
import shlex
import statistics
import sys
import time

import broker
import broker.zeek
from children import Child, emit

TOPIC = "/bench/data"
PING = "/bench/ping"
PONG = "/bench/pong"
MARKER = "__sync__"
STOP = "__stop__"
TEXT = "some string"
HOST = "127.0.0.1"

FLOWS = {"throughput2p": "small", "vec100-2p": "vec100", "table50-2p": "table50",
         "zeek2p": "zeek", "fanout2p": "small"}
SCENARIOS = list(FLOWS) + ["latency2p", "store"]
# Sized for a few seconds against Broker 1.4; faster implementations pass a larger --n.
DEFAULT_N = {"throughput2p": 100_000, "vec100-2p": 5_000, "table50-2p": 5_000,
             "zeek2p": 30_000, "fanout2p": 20_000, "latency2p": 800, "store": 10_000}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def status_kb(field, pid="self"):
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), or None."""
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def make_payload(kind):
    """A function i -> the message to publish for payload `kind`."""
    if kind == "small":
        return lambda i: [i, TEXT, 3.14]
    if kind == "vec100":
        vector = list(range(100))
        return lambda i: vector
    if kind == "table50":
        table = {"key%02d" % j: broker.Count(j) for j in range(50)}
        return lambda i: table
    if kind == "zeek":
        return lambda i: broker.zeek.Event("ping", TEXT, broker.Count(i))
    raise ValueError(kind)


def new_endpoint(args):
    options = broker.BrokerOptions()
    options.disable_ssl = args.no_ssl
    return broker.Endpoint(broker.Configuration(options))


def listen(endpoint):
    port = endpoint.listen(HOST, 0)
    if not port:
        raise RuntimeError("listen failed")
    return port


def peer(endpoint, port):
    if endpoint.peer(HOST, port, 1.0) is False:
        raise RuntimeError("peering with %s:%d failed" % (HOST, port))


def messages(got):
    """Subscriber.get(n, timeout) returns a list; some versions give None when empty."""
    return got or []


def publish_until_seen(endpoint, topic, seen, timeout=15.0):
    """Publishes markers on `topic` until `seen()` is true (the peering and the
    subscription are up end to end)."""
    deadline = time.monotonic() + timeout
    while not seen():
        if time.monotonic() > deadline:
            raise TimeoutError("no marker came through within %.0f s" % timeout)
        endpoint.publish(topic, MARKER)
        time.sleep(0.05)


def child(args, role, extra=()):
    """This script in another process with `role`."""
    argv = ["--role", role, "--n", str(args.n), "--max-seconds", str(args.max_seconds)]
    python = shlex.split(args.peer_python) if args.peer_python else None
    return Child(__file__, argv + list(extra) + (["--no-ssl"] if args.no_ssl else []), python)


def role_subscriber(args):
    """Subscribes, listens, tells its port; after the first marker counts `n` messages."""
    endpoint = new_endpoint(args)
    subscriber = endpoint.make_subscriber(TOPIC)
    emit({"port": listen(endpoint)})
    deadline = time.monotonic() + args.max_seconds + 15
    synced, received, decoded, last = False, 0, 0, None
    cpu_start = time.process_time()
    while received < args.n and time.monotonic() < deadline:
        before = received
        for _, data in messages(subscriber.get(1000, 0.1)):
            if isinstance(data, str):
                if not synced:
                    synced = True
                    cpu_start = time.process_time()
                    emit({"synced": True})
                continue
            received += 1
            if args.payload == "zeek" and broker.zeek.Event(data).name() == "ping":
                decoded += 1
        if received > before:
            last = time.time()
    emit({"received": received, "decoded": decoded, "t_last": last,
          "cpu_s": time.process_time() - cpu_start, "vmhwm_kb": status_kb("VmHWM")})
    endpoint.shutdown()


def role_echo(args):
    """Sends every message on PING back on PONG until STOP."""
    endpoint = new_endpoint(args)
    subscriber = endpoint.make_subscriber(PING)
    emit({"port": listen(endpoint)})
    deadline = time.monotonic() + args.max_seconds + 15
    while time.monotonic() < deadline:
        got = subscriber.get(1.0)
        if got is None:
            continue
        if got[1] == STOP:
            break
        endpoint.publish(PONG, got[1])
    emit({"vmhwm_kb": status_kb("VmHWM")})
    endpoint.shutdown()


def flow(args, scenario):
    """One publisher here, `subscribers` processes; rate from the first publish to the
    last message received (wall clocks of one machine)."""
    kind = FLOWS[scenario]
    subscribers = args.fanout if scenario == "fanout2p" else 1
    make = make_payload(kind)
    children = [child(args, "sub", ["--payload", kind]) for _ in range(subscribers)]
    try:
        ports = [c.read(20)["port"] for c in children]
        endpoint = new_endpoint(args)
        for port in ports:
            peer(endpoint, port)
        waiting = set(range(subscribers))

        def all_synced():
            for k in [k for k in waiting if children[k].ready()]:
                children[k].read(1)
                waiting.discard(k)
            return not waiting

        publish_until_seen(endpoint, TOPIC, all_synced)
        time.sleep(0.1)
        publish = endpoint.publish
        cpu_start = time.process_time()
        start = time.time()
        deadline = start + args.max_seconds
        sent = 0
        while sent < args.n and time.time() < deadline:
            for i in range(sent, min(args.n, sent + 1000)):
                publish(TOPIC, make(i))
            sent = min(args.n, sent + 1000)
        published = time.time() - start
        results = [c.read(args.max_seconds + 30) for c in children]
        cpu = time.process_time() - cpu_start + sum(r.get("cpu_s", 0) for r in results)
        elapsed = max(r["t_last"] or start for r in results) - start
        received = [r["received"] for r in results]
        result = {"n": args.n, "sent": sent, "subscribers": subscribers,
                  "received_min": min(received), "elapsed_s": round(elapsed, 4),
                  "msgs_per_s": round(min(received) / elapsed, 1) if elapsed > 0 else None,
                  "deliveries_per_s": round(sum(received) / elapsed, 1) if elapsed > 0 else None,
                  "publish_rate": round(sent / max(published, 1e-9), 1),
                  # All threads of every process, from the first publish (the
                  # subscribers' from their first marker) to the last message.
                  "cpu_us_per_delivery": round(1e6 * cpu / max(sum(received), 1), 3),
                  "complete": min(received) == args.n, "vmhwm_kb": status_kb("VmHWM"),
                  "child_vmhwm_kb": [r["vmhwm_kb"] for r in results]}
        if kind == "zeek":
            result["decoded_min"] = min(r["decoded"] for r in results)
        endpoint.shutdown()
        return result
    finally:
        for sub_child in children:
            sub_child.finish()


def latency(args, _scenario):
    echo_child = child(args, "echo")
    try:
        port = echo_child.read(20)["port"]
        endpoint = new_endpoint(args)
        pongs = endpoint.make_subscriber(PONG)
        peer(endpoint, port)
        publish_until_seen(endpoint, PING, lambda: bool(messages(pongs.get(1, 0.05))))
        time.sleep(0.2)
        pongs.poll()
        warmup = min(200, max(10, args.n // 10))
        clock = time.perf_counter_ns
        rtts = []
        deadline = time.monotonic() + args.max_seconds
        for i in range(args.n + warmup):
            if time.monotonic() > deadline:
                break
            sent_at = clock()
            endpoint.publish(PING, [i, TEXT])
            for _ in range(100):  # late markers may come first; bounded
                got = pongs.get(2.0)
                if got is None or (not isinstance(got[1], str) and got[1][0] == i):
                    break
            if got is None:
                raise TimeoutError("no pong for ping %d" % i)
            if i >= warmup:
                rtts.append((clock() - sent_at) / 1000.0)
        endpoint.publish(PING, STOP)
        echo = echo_child.read(10)
        rtts.sort()
        endpoint.shutdown()
        return {"n": args.n, "completed": len(rtts), "complete": len(rtts) == args.n,
                "median_us": round(statistics.median(rtts), 1),
                "p99_us": round(rtts[int(0.99 * (len(rtts) - 1))], 1),
                "vmhwm_kb": status_kb("VmHWM"), "child_vmhwm_kb": echo["vmhwm_kb"]}
    finally:
        echo_child.finish()


def wait_for(store, key, value, deadline):
    while store.get(key) != value:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0005)
    return True


def store(args, _scenario):
    """Master puts until the last is readable; clone puts until the last is visible on the
    clone (a round trip through the master); clone get latency."""
    n = args.n
    master_ep, clone_ep = new_endpoint(args), new_endpoint(args)
    probe = clone_ep.make_subscriber(TOPIC)
    peer(clone_ep, listen(master_ep))
    publish_until_seen(master_ep, TOPIC, lambda: bool(messages(probe.get(1, 0.05))))
    deadline = time.monotonic() + args.max_seconds
    master = master_ep.attach_master("benchstore", broker.Backend.Memory)
    start = time.perf_counter()
    for i in range(n):
        master.put("m%d" % i, i)
    master_ok = wait_for(master, "m%d" % (n - 1), n - 1, deadline)
    master_s = time.perf_counter() - start
    clone = clone_ep.attach_clone("benchstore")
    synced = wait_for(clone, "m%d" % (n - 1), n - 1, time.monotonic() + 20)
    start = time.perf_counter()
    for i in range(n):
        clone.put("c%d" % i, i)
    clone_ok = wait_for(clone, "c%d" % (n - 1), n - 1, deadline)
    clone_s = time.perf_counter() - start
    spot = all(clone.get("c%d" % i) == i for i in range(0, n, max(1, n // 50)))
    clock = time.perf_counter_ns
    gets = []
    for i in range(args.gets):
        key = "c%d" % ((i * 7919) % n)
        before = clock()
        clone.get(key)
        gets.append((clock() - before) / 1000.0)
    clone_ep.shutdown()
    master_ep.shutdown()
    return {"n": n, "master_puts_per_s": round(n / master_s, 1),
            "clone_puts_per_s": round(n / clone_s, 1),
            "clone_get_median_us": round(statistics.median(gets), 2),
            "complete": master_ok and synced and clone_ok and spot,
            "vmhwm_kb": status_kb("VmHWM")}


def implementation():
    try:
        version = broker.Version.string()
    except AttributeError:
        version = getattr(broker, "__version__", "?")
    return {"module": broker.__file__, "version": version}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="throughput2p",
                    help="comma-separated: " + ", ".join(SCENARIOS))
    ap.add_argument("--n", type=int, default=0, help="messages, round trips or puts")
    ap.add_argument("--fanout", type=int, default=4, help="subscriber processes of fanout2p")
    ap.add_argument("--gets", type=int, default=2000, help="store get latency samples")
    ap.add_argument("--max-seconds", type=float, default=20.0, help="bound of a measured phase")
    ap.add_argument("--no-ssl", action="store_true", help="plain TCP peerings")
    ap.add_argument("--peer-python", default=None,
                    help="interpreter command of the other processes, e.g. "
                         "'scripts/reference-broker /usr/bin/python3': ours against "
                         "Broker 2.8 over Broker's native protocol")
    ap.add_argument("--payload", default="small", help=argparse.SUPPRESS)
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    # A process stuck in a blocking call (a peer gone, a full queue) exits instead of hanging.
    faulthandler.dump_traceback_later(args.max_seconds + 60, exit=True)
    if args.role == "sub":
        return role_subscriber(args)
    if args.role == "echo":
        return role_echo(args)
    status = 0
    n = args.n
    for scenario in args.scenario.split(","):
        run = store if scenario == "store" else latency if scenario == "latency2p" else flow
        if scenario not in SCENARIOS:
            ap.error("unknown scenario %r" % scenario)
        args.n = n or DEFAULT_N[scenario]
        began = time.time()
        try:
            result = run(args, scenario)
        except Exception as e:  # one JSON line per scenario, even a failed one
            result = {"error": "%s: %s" % (type(e).__name__, e)}
            status = 1
        result.update(scenario=scenario, tls=not args.no_ssl, wall_s=round(time.time() - began, 2),
                      **implementation())
        emit(result)
    return status


if __name__ == "__main__":
    sys.exit(main())
