#!/usr/bin/env python3
"""Many peers: what one endpoint pays per peering, idle and under traffic.

    python3 benches/python/scale.py                       # N = 1, 10, 100, 1000, ours + anchor
    python3 benches/python/scale.py --peers 1,10,100 --idle 5 --out /tmp/scale

For each N a fresh hub process (one endpoint, listening) is peered by N leaf endpoints spread
over --leaf-processes processes, each leaf subscribing to the topic before peering. The hub
measures, in its own process:
- RSS and threads before the peerings and once every leaf has received a marker (the growth
  per peering is what the peerings cost);
- CPU over --idle seconds with nothing published (keepalives included), in % of one core;
- one publish reaching all N subscribers: from the publish to the last leaf's receipt
  (median of --probes);
- a stream of small messages to all N subscribers, sized to the same number of deliveries at
  every N, published once with one `publish` per message (as most users do) and once as
  one `publish_batch`: the hub's CPU per delivery (user + system, all its threads) and the
  wall time per delivery. Flat across N means the cost follows traffic, not peers;
- a stream of --single-messages messages on a topic only one leaf subscribes to (every leaf
  also subscribes to its own node topic, as Zeek's nodes do): the hub's CPU per message,
  which should not grow with the peers that do not want it.

Ours runs at every N; today's Broker (2.8, through scripts/reference-broker) runs as the
anchor at N up to --anchor-max-peers in the same run, and ratios are taken at equal N.
Writes benches/results/scale.json and scale.png (cost against peers) and prints a table.
"""

import argparse
import json
import os
import resource
import selectors
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from children import Child, emit  # noqa: E402

TOPIC = "/bench/scale"
NODE_TOPIC = "/bench/node/%d"  # one per leaf, as Zeek's zeek/cluster/node/<name>/
MARKER = "__sync__"
TEXT = "some string"
HOST = "127.0.0.1"
TICK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    """Peerings are sockets: lift the soft limit on descriptors to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_status(field, pid="self"):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid):
    """User + system time of a process (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def new_endpoint(args):
    import broker

    options = broker.BrokerOptions()
    options.disable_ssl = args.no_ssl
    return broker.Endpoint(broker.Configuration(options))


def role_leaves(args):
    """`--count` endpoints, each subscribed then peered with the hub; reports when all are
    peered, when all saw a marker, when all got probe r, and when all got the stream."""
    raise_fd_limit()
    endpoints, subscribers = [], []
    for k in range(args.count):
        endpoint = new_endpoint(args)
        subscriber = endpoint.make_subscriber(TOPIC)
        # add_topic, not a list: Broker 2.8's bindings fail on lists under Python >= 3.10
        # (they test for collections.Iterable).
        subscriber.add_topic(NODE_TOPIC % (args.first + k), True)
        subscribers.append(subscriber)
        endpoints.append(endpoint)
    for endpoint in endpoints:
        if endpoint.peer(HOST, args.port, 1.0) is False:
            raise RuntimeError("peering with the hub failed")
    emit({"peered": args.count})
    selector = selectors.DefaultSelector()
    for index, subscriber in enumerate(subscribers):
        selector.register(subscriber.fd(), selectors.EVENT_READ, index)
    selector.register(sys.stdin, selectors.EVENT_READ, None)
    synced, probes, streamed, finished, single = set(), {}, [0] * args.count, 0, 0
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(1.0):
            if key.data is None:
                return  # the hub said stop (or went away)
            received = subscribers[key.data].poll()
            now = time.time()
            # A bound on each phase, not on the whole run: a slow anchor at N=1 takes
            # minutes over every phase (200 k messages twice, then 20 k one by one).
            deadline = time.monotonic() + args.max_seconds
            for _, data in received:
                if data == MARKER:
                    if key.data not in synced:
                        synced.add(key.data)
                        if len(synced) == args.count:
                            emit({"synced": True})
                elif data[0] == "single":
                    single += 1
                    if single == args.single_messages:
                        emit({"single": True, "t_last": now})
                        single = 0
                elif data[0] == "probe":
                    count = probes[data[1]] = probes.get(data[1], 0) + 1
                    if count == args.count:
                        emit({"probe": data[1], "t_last": now})
                else:
                    streamed[key.data] += 1
                    if streamed[key.data] == args.messages:
                        finished += 1
                        if finished == args.count:  # ready for the next stream
                            emit({"streamed": True, "t_last": now})
                            streamed, finished = [0] * args.count, 0
    # Out of time: say how far the stream got rather than leave the hub guessing.
    emit({"streamed": False, "t_last": time.time(), "received_min": min(streamed)})


def wait_all(leaves, key, timeout):
    """Every leaf's next report, which must carry `key`."""
    deadline = time.monotonic() + timeout
    reports = []
    for leaf in leaves:
        report = leaf.read(max(0.1, deadline - time.monotonic()))
        if key not in report:
            raise RuntimeError("expected %r from a leaf, got %r" % (key, report))
        reports.append(report)
    return reports


def stream(hub, leaves, messages, pid, args, batched):
    """Publishes `messages` small messages (one `publish` each, or one `publish_batch`)
    and waits for every leaf to have them all; the hub's CPU and wall seconds."""
    cpu0 = cpu_seconds(pid)
    sent = time.time()
    if batched:
        hub.publish_batch(*[(TOPIC, [i, TEXT, 3.14]) for i in range(messages)])
    else:
        for i in range(messages):
            hub.publish(TOPIC, [i, TEXT, 3.14])
    published = time.time() - sent
    reports = wait_all(leaves, "streamed", args.max_seconds + 10)
    return {"cpu": cpu_seconds(pid) - cpu0, "publish": published,
            "wall": max(report["t_last"] for report in reports) - sent,
            "complete": all(report["streamed"] for report in reports)}


def single_stream(hub, leaf, pid, args):
    """Publishes --single-messages messages, one `publish` each, to the first leaf's node
    topic, which no other leaf wants, and waits for it to have them all; the hub's CPU."""
    cpu0 = cpu_seconds(pid)
    for i in range(args.single_messages):
        hub.publish(NODE_TOPIC % 0, ["single", i])
    wait_all([leaf], "single", args.max_seconds + 10)
    return cpu_seconds(pid) - cpu0


def role_hub(args):
    """One endpoint peered by `--peers` leaves; prints its figures as one JSON line."""
    raise_fd_limit()
    n = args.peers
    hub = new_endpoint(args)
    port = hub.listen(HOST, 0)
    time.sleep(0.5)
    before = {"rss_kb": proc_status("VmRSS"), "threads": proc_status("Threads")}
    processes = min(n, args.leaf_processes)
    counts = [n // processes + (1 if k < n % processes else 0) for k in range(processes)]
    messages = max(args.min_messages, args.deliveries // n)
    leaves = [Child(__file__, ["--role", "leaves", "--count", str(c), "--port", str(port),
                               "--first", str(sum(counts[:k])), "--messages", str(messages),
                               "--single-messages", str(args.single_messages),
                               "--max-seconds", str(args.max_seconds)]
                    + (["--no-ssl"] if args.no_ssl else []))
              for k, c in enumerate(counts)]
    try:
        began = time.monotonic()
        wait_all(leaves, "peered", 60 + n * 0.5)
        peering_s = time.monotonic() - began
        pending = set(range(processes))
        deadline = time.monotonic() + 60 + n * 0.1
        while pending:  # markers until every leaf's subscription is through
            if time.monotonic() > deadline:
                raise TimeoutError("markers did not reach %d leaf processes" % len(pending))
            hub.publish(TOPIC, MARKER)
            time.sleep(0.2)
            for k in [k for k in pending if leaves[k].ready()]:
                leaves[k].read(1)
                pending.discard(k)
        time.sleep(1.0)
        pid = os.getpid()
        peered = {"rss_kb": proc_status("VmRSS"), "threads": proc_status("Threads"),
                  "fds": len(os.listdir("/proc/self/fd"))}
        leaf_pids = [leaf.process.pid for leaf in leaves]
        cpu0, leaf_cpu0 = cpu_seconds(pid), sum(map(cpu_seconds, leaf_pids))
        time.sleep(args.idle)
        idle_cpu = cpu_seconds(pid) - cpu0
        leaf_idle_cpu = sum(map(cpu_seconds, leaf_pids)) - leaf_cpu0
        probes = []
        for r in range(args.probes):
            sent = time.time()
            hub.publish(TOPIC, ["probe", r])
            reports = wait_all(leaves, "probe", 30 + n * 0.05)
            probes.append(max(report["t_last"] for report in reports) - sent)
            time.sleep(0.2)
        # A leaf that times out waiting for a stream reports how far it got and ends, so
        # a stream that lost messages (Broker 2.8 drops what overflows its queues) is the
        # last one run.
        skipped = {"complete": False, "wall": None, "cpu": None}
        one_by_one = stream(hub, leaves, messages, pid, args, batched=False)
        batched = skipped
        if one_by_one["complete"]:
            batched = stream(hub, leaves, messages, pid, args, batched=True)
        single = None
        if batched["complete"]:
            single = single_stream(hub, leaves[0], pid, args)
        deliveries = messages * n

        def per(seconds, count):
            return None if seconds is None else round(1e6 * seconds / count, 3)

        emit({"peers": n, "leaf_processes": processes, "peering_s": round(peering_s, 2),
              "rss_before_kb": before["rss_kb"], "rss_peered_kb": peered["rss_kb"],
              "rss_growth_kb": peered["rss_kb"] - before["rss_kb"],
              "rss_per_peer_kb": round((peered["rss_kb"] - before["rss_kb"]) / n, 1),
              "rss_after_stream_kb": proc_status("VmRSS"),
              "threads_before": before["threads"], "threads_peered": peered["threads"],
              "fds_peered": peered["fds"], "idle_s": args.idle,
              "idle_cpu_pct": round(100 * idle_cpu / args.idle, 2),
              "leaves_idle_cpu_pct": round(100 * leaf_idle_cpu / args.idle, 2),
              "probe_ms_median": round(1000 * statistics.median(probes), 2),
              "probe_ms_max": round(1000 * max(probes), 2),
              "stream_messages": messages, "stream_deliveries": deliveries,
              "stream_complete": one_by_one["complete"], "batched_complete": batched["complete"],
              "stream_s": round(one_by_one["wall"], 3),
              "stream_publish_s": round(one_by_one["publish"], 4),
              "wall_us_per_delivery": round(1e6 * one_by_one["wall"] / deliveries, 3),
              "hub_cpu_us_per_delivery": round(1e6 * one_by_one["cpu"] / deliveries, 3),
              "batched_stream_s": batched["wall"] and round(batched["wall"], 3),
              "batched_wall_us_per_delivery": per(batched["wall"], deliveries),
              "batched_hub_cpu_us_per_delivery": per(batched["cpu"], deliveries),
              "single_complete": single is not None,
              "single_hub_cpu_us_per_message": per(single, args.single_messages)})
    finally:
        for leaf in leaves:
            leaf.tell("stop")
        for leaf in leaves:
            leaf.finish(30)
        hub.shutdown()


def run_hub(command, args, n, deliveries):
    argv = [os.path.abspath(__file__), "--role", "hub", "--peers", str(n), "--idle",
            str(args.idle), "--probes", str(args.probes), "--deliveries", str(deliveries),
            "--leaf-processes", str(args.leaf_processes), "--max-seconds",
            str(args.max_seconds), "--single-messages", str(args.single_messages)] + (
                ["--no-ssl"] if args.no_ssl else [])
    try:
        p = subprocess.run(command + argv, capture_output=True, text=True,
                           timeout=args.max_seconds * 3 + n * 2)
    except subprocess.TimeoutExpired:
        return {"peers": n, "error": "timeout"}
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"peers": n, "error": (p.stderr or p.stdout).strip()[-1500:]}
    return json.loads(lines[-1])


COLUMNS = [("peers", "N"), ("rss_growth_kb", "hub RSS growth (KiB)"),
           ("rss_per_peer_kb", "per peering (KiB)"), ("threads_peered", "threads"),
           ("idle_cpu_pct", "idle CPU %"), ("probe_ms_median", "1 publish to all (ms)"),
           ("hub_cpu_us_per_delivery", "hub CPU µs/delivery"),
           ("batched_hub_cpu_us_per_delivery", "same, batched"),
           ("single_hub_cpu_us_per_message", "1 of N subscribed: hub CPU µs/msg"),
           ("wall_us_per_delivery", "wall µs/delivery")]


def figure(run, key):
    """A run's figure, None where the stream it comes from lost messages (Broker 2.8 drops
    what overflows its queues), was not run after one that did, or the run failed."""
    if "error" in run:
        return None
    if key.startswith("single"):
        complete = run.get("single_complete", True)
    elif "batched" in key:
        complete = run.get("batched_complete", run.get("stream_complete"))
    elif "delivery" in key:
        complete = run.get("stream_complete")
    else:
        complete = True
    return run.get(key) if complete else None


def table(results):
    lines = ["| implementation | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for name, runs in results.items():
        for run in runs:
            if "error" in run:
                lines.append("| %s | %s | error: %s |" % (name, run["peers"], run["error"][-120:]))
                continue
            lines.append("| %s | " % name + " | ".join(
                "not run" if run.get(key) is None
                else "lost messages" if figure(run, key) is None else str(run[key])
                for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def ratios(results, anchor):
    """ours vs anchor at equal N, > 1 meaning ours costs less."""
    ours = {r["peers"]: r for r in results.get("ours", []) if "error" not in r}
    rows = []
    for theirs in results.get(anchor, []):
        mine = ours.get(theirs["peers"])
        if "error" in theirs or not mine:
            continue
        rows.append("| %d | %s | %s | %s | %s | %s | %s |" % (
            theirs["peers"],
            *["%.2g×" % (figure(theirs, key) / figure(mine, key))
              if figure(mine, key) and figure(theirs, key) is not None else "—"
              for key in ("rss_growth_kb", "probe_ms_median", "hub_cpu_us_per_delivery",
                          "batched_hub_cpu_us_per_delivery", "wall_us_per_delivery",
                          "single_hub_cpu_us_per_message")]))
    if not rows:
        return ""
    return "\n".join(["| N | RSS growth | 1 publish to all | hub CPU/delivery | same, batched "
                       "| wall/delivery | 1 of N subscribed |", "|---|---|---|---|---|---|---|"]
                     + rows)


def draw(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("hub_cpu_us_per_delivery", "hub CPU per delivery (µs), one publish each"),
              ("batched_hub_cpu_us_per_delivery", "the same, one publish_batch"),
              ("single_hub_cpu_us_per_message", "hub CPU per message, 1 of N subscribed"),
              ("wall_us_per_delivery", "wall time per delivery (µs)"),
              ("probe_ms_median", "one publish to all N (ms)"),
              ("rss_per_peer_kb", "hub RSS per peering (KiB)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(22, 4.5))
    for ax, (key, title) in zip(axes, panels):
        for name, runs in results.items():
            good = [r for r in runs if figure(r, key) is not None]
            ax.plot([r["peers"] for r in good], [r[key] for r in good], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("peerings on the hub (N)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("One hub endpoint, N peered subscribers over loopback: cost against peers")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("chart:", path, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers", default="1,10,100,1000", help="comma-separated N")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    ap.add_argument("--probes", type=int, default=5, help="single publishes timed")
    ap.add_argument("--deliveries", type=int, default=200_000,
                    help="stream deliveries per N (messages = this / N)")
    ap.add_argument("--anchor-deliveries", type=int, default=20_000,
                    help="the same for Broker 2.8, which costs ~10-50x more per delivery")
    ap.add_argument("--min-messages", type=int, default=200, help=argparse.SUPPRESS)
    ap.add_argument("--single-messages", type=int, default=20_000,
                    help="messages of the stream only one leaf subscribes to")
    ap.add_argument("--leaf-processes", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound of each phase")
    ap.add_argument("--no-ssl", action="store_true", help="plain TCP peerings")
    ap.add_argument("--ours", default=None, help="interpreter with our broker (.venv)")
    ap.add_argument("--anchor-max-peers", type=int, default=100,
                    help="largest N for the Broker 2.8 anchor (0: no anchor)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results"))
    ap.add_argument("--replot", action="store_true",
                    help="only print and draw the results saved in --out")
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--messages", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "leaves":
        return role_leaves(args)
    if args.role == "hub":
        args.peers = int(args.peers)
        return role_hub(args)

    import anchors

    anchors.run_in_bench_venv(__file__)
    if args.replot:
        with open(os.path.join(args.out, "scale.json")) as f:
            saved = json.load(f)
        return report(saved["meta"], saved["results"], args.out)
    sides = {"ours": anchors.setup_ours(args.ours or anchors.OURS_PYTHON)}
    if args.anchor_max_peers > 0:
        reference = anchors.setup_broker_28()
        if reference:
            sides["broker-2.8"] = reference
    peers = [int(n) for n in args.peers.split(",")]
    results = {name: [] for name in sides}
    for n in peers:  # ours and the anchor back to back at each N
        for name, command in sides.items():
            if name != "ours" and n > args.anchor_max_peers:
                continue
            print("# %s, N=%d" % (name, n), flush=True)
            deliveries = args.deliveries if name == "ours" else args.anchor_deliveries
            run = run_hub(command, args, n, deliveries)
            print("  ", json.dumps(run), flush=True)
            results[name].append(run)
    os.makedirs(args.out, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(), "load": "%.1f" % os.getloadavg()[0],
            "tls": not args.no_ssl, "idle_s": args.idle, "deliveries": args.deliveries}
    with open(os.path.join(args.out, "scale.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    return report(meta, results, args.out)


def report(meta, results, out):
    """Prints the table and the ratios, draws the chart."""
    print("\nRun of %s (%d CPUs, load %s)\n" % (meta["date"], meta["cpus"], meta["load"]))
    print(table(results))
    anchor_ratios = ratios(results, "broker-2.8")
    if anchor_ratios:
        print("\nBroker 2.8 ÷ ours at equal N (> 1: ours costs less):\n")
        print(anchor_ratios)
    draw(results, os.path.join(out, "scale.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
