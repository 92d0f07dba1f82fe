#!/usr/bin/env python3
"""Ours against the anchors, all measured in one run, reported as ratios, with a chart.

    python3 benches/run_compare.py                 # everything, 3 repetitions (~20 min)
    python3 benches/run_compare.py --only latency2p,store --reps 5
    python3 benches/run_compare.py --scale 0.02 --reps 1 --out /tmp/cmp   # a quick check

The anchors, set up here when missing:
- Broker 1.4: Debian's python3-broker under /usr/bin/python3 (`apt-get install -y
  python3-broker`, run when we are root; otherwise the command to run is printed and the
  anchor skipped);
- Broker 2.8, today's Broker: the reference build found by scripts/reference-broker (skipped,
  saying why, when it is missing);
- pyzmq + msgpack on the same payloads: a scratch virtualenv at target/bench-venv with
  pyzmq, msgpack and matplotlib (this script re-runs itself in it to draw the chart).
Ours is the `broker` of --ours (default .venv/bin/python; scripts/install-python builds it
when that interpreter cannot import it).

Broker 1.4, Broker 2.8 and ours speak different protocols, so each runs every scenario of
benches/python/pybench.py against itself, two processes of one implementation; the
implementations alternate run by run so that they share the machine's moods. Machines differ
~3x, so read the ratios, not the absolute figures. Writes to --out: results.json (every run),
summary.md (medians, ratios, targets) and chart.png.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "python"))
from anchors import (OURS_PYTHON, VENV_PYTHON, clean_env, run_in_bench_venv,  # noqa: E402
                     say, setup_broker_14, setup_broker_28, setup_ours)

PYBENCH = os.path.join(HERE, "python", "pybench.py")
ZMQBENCH = os.path.join(HERE, "python", "zmqbench.py")

# (label, pybench scenario, extra arguments, metric, target, better, pyzmq (scenario, payload))
ROWS = [
    ("throughput2p", "throughput2p", [], "msgs_per_s", 1_000_000, "high", ("pubsub", "small")),
    ("throughput2p no-ssl", "throughput2p", ["--no-ssl"], "msgs_per_s", None, "high",
     ("pubsub", "small")),
    ("latency2p", "latency2p", [], "median_us", 100, "low", ("reqrep", "small")),
    ("latency2p no-ssl", "latency2p", ["--no-ssl"], "median_us", None, "low",
     ("reqrep", "small")),
    ("vec100-2p", "vec100-2p", [], "msgs_per_s", 250_000, "high", ("pubsub", "vec100")),
    # pyzmq does not encrypt: the plaintext rows compare like with like.
    ("vec100-2p no-ssl", "vec100-2p", ["--no-ssl"], "msgs_per_s", None, "high",
     ("pubsub", "vec100")),
    ("table50-2p", "table50-2p", [], "msgs_per_s", 120_000, "high", ("pubsub", "table50")),
    ("table50-2p no-ssl", "table50-2p", ["--no-ssl"], "msgs_per_s", None, "high",
     ("pubsub", "table50")),
    ("zeek2p", "zeek2p", [], "msgs_per_s", 500_000, "high", ("pubsub", "zeek")),
    ("fanout2p", "fanout2p", [], "deliveries_per_s", 2_000_000, "high", None),
    # The three store rows share one set of `store` runs.
    ("store master puts", "store", [], "master_puts_per_s", 500_000, "high", None),
    ("store clone puts", "store", [], "clone_puts_per_s", 300_000, "high", None),
    ("store clone get", "store", [], "clone_get_median_us", 2, "low", None),
]

# Messages per run, sized for a few seconds each on a 2-core VM.
SLOW = {"throughput2p": 100_000, "latency2p": 800, "vec100-2p": 5_000, "table50-2p": 5_000,
        "zeek2p": 30_000, "fanout2p": 20_000, "store": 10_000}
COUNTS = {
    "ours": {"throughput2p": 2_000_000, "latency2p": 10_000, "vec100-2p": 500_000,
             "table50-2p": 150_000, "zeek2p": 1_000_000, "fanout2p": 1_000_000,
             "store": 100_000},
    "broker-1.4": SLOW,
    "broker-2.8": SLOW,
}
ZMQ_COUNTS = {"small": 1_000_000, "vec100": 500_000, "table50": 300_000, "zeek": 1_000_000,
              "reqrep": 10_000}
NAMES = {"ours": "ours", "broker-1.4": "Broker 1.4", "broker-2.8": "Broker 2.8",
         "pyzmq": "pyzmq + msgpack"}
ANCHORS = ["broker-1.4", "broker-2.8", "pyzmq"]


def median(values):
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def run_json(command, timeout):
    """The last JSON line a benchmark prints, or {"error": ...}."""
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                           env=clean_env())
    except subprocess.TimeoutExpired:
        return {"error": "timeout after %d s" % timeout}
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": (p.stderr or p.stdout).strip()[-300:] or "exit %d" % p.returncode}
    return json.loads(lines[-1])


def count(n, scale):
    return str(max(10, int(n * scale)))


def run_pybench(args, sides, scenario, extra, zmq, cache):
    """Every implementation's runs of one scenario, alternating run by run, pyzmq on the
    same payload (`zmq`: its scenario and payload, or None) included, so that all share
    the machine's moods (once per scenario/args)."""
    key = (scenario, tuple(extra))
    if key not in cache:
        commands = {side: command + [PYBENCH, "--scenario", scenario, "--n",
                                     count(COUNTS[side][scenario], args.scale)] + extra
                    for side, command in sides.items()}
        if zmq:
            zmq_scenario, payload = zmq
            n = count(ZMQ_COUNTS["reqrep" if zmq_scenario == "reqrep" else payload], args.scale)
            commands["pyzmq"] = [VENV_PYTHON, ZMQBENCH, "--scenario", zmq_scenario,
                                 "--payload", payload, "--n", n]
        runs = {side: [] for side in commands}
        for rep in range(args.reps):
            for side, command in commands.items():
                result = run_json(command, args.timeout)
                say("  %-11s %s" % (side, summary_line(result)))
                runs[side].append(result)
        cache[key] = runs
    return dict(cache[key])


def summary_line(result):
    if "error" in result:
        return "ERROR " + result["error"][-200:]
    shown = ("msgs_per_s", "deliveries_per_s", "median_us", "master_puts_per_s",
             "clone_puts_per_s", "clone_get_median_us", "complete")
    return " ".join("%s=%s" % (k, result[k]) for k in shown if k in result)


def fmt(value):
    if value is None:
        return "—"
    if value >= 1e6:
        return "%.2f M" % (value / 1e6)
    if value >= 1e4:
        return "%.0f k" % (value / 1e3)
    return "%.1f" % value if value < 10 else "%.0f" % value


def summarize(results):
    rows = []
    for label, _, _, metric, target, better, zmq in ROWS:
        entry = results.get(label, {})
        row = {"label": label, "metric": metric, "target": target, "better": better}
        for side in ["ours"] + ANCHORS:
            side_metric = metric
            if side == "pyzmq":
                side_metric = "median_us" if zmq and zmq[0] == "reqrep" else "msgs_per_s"
            row[side] = median(r.get(side_metric) for r in entry.get(side, []))
        for anchor in ANCHORS:
            ours, theirs = row["ours"], row[anchor]
            row["vs " + anchor] = (None if not ours or not theirs else
                                   ours / theirs if better == "high" else theirs / ours)
        # CPU per delivered message over every thread of both processes: the figure
        # that holds when the machine is busy, where rates follow the scheduler.
        row["cpu"] = {side: median(r.get("cpu_us_per_delivery") for r in entry.get(side, []))
                      for side in ("ours", "pyzmq")}
        row["met"] = target is not None and row["ours"] is not None and (
            row["ours"] >= target if better == "high" else row["ours"] <= target)
        rows.append(row)
    return rows


def write_markdown(rows, meta, path):
    ratio = lambda r: "—" if r is None else "%.2g×" % r if r < 10 else "%.0f×" % r
    head = ["scenario", "metric", "target", "ours"]
    for anchor in ANCHORS:
        head += [NAMES[anchor], "ours vs " + NAMES[anchor]]
    head.append("CPU µs/msg, ours / pyzmq")
    lines = ["Run of %s on %s (%d CPUs, load %s). Ratios > 1: ours is better." % (
        meta["date"], meta["host"], meta["cpus"], meta["load"]), "",
        "| " + " | ".join(head + ["met"]) + " |", "|" + "---|" * (len(head) + 1)]
    for r in rows:
        sign = "≥ " if r["better"] == "high" else "≤ "
        cells = [r["label"], r["metric"], sign + fmt(r["target"]) if r["target"] else "—",
                 fmt(r["ours"])]
        for anchor in ANCHORS:
            cells += [fmt(r[anchor]), ratio(r["vs " + anchor])]
        ours_cpu, zmq_cpu = r["cpu"]["ours"], r["cpu"]["pyzmq"]
        cells.append("—" if not ours_cpu or not zmq_cpu else "%.2f / %.2f (%s)" % (
            ours_cpu, zmq_cpu, ratio(zmq_cpu / ours_cpu)))
        cells.append("—" if r["target"] is None else "yes" if r["met"] else "no")
        lines.append("| " + " | ".join(cells) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    say("\n".join(lines))


def draw(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = ["ours"] + ANCHORS
    colors = {"ours": "#1f77b4", "broker-1.4": "#d62728", "broker-2.8": "#ff7f0e",
              "pyzmq": "#7f7f7f"}
    rows = [r for r in rows if any(r[s] for s in sides)]
    if not rows:
        return
    fig, axes = plt.subplots(2, (len(rows) + 1) // 2, figsize=(18, 7.5), squeeze=False)
    for ax, r in zip(axes.flat, rows):
        values = [r[s] for s in sides]
        bars = ax.bar([NAMES[s].replace(" ", "\n", 1) for s in sides], [v or 0 for v in values],
                      color=[colors[s] for s in sides])
        ax.set_yscale("log")
        if r["target"]:
            ax.axhline(r["target"], color="green", linestyle="--", linewidth=1)
        ax.set_title("%s\n%s (%s is better)" % (r["label"], r["metric"],
                                                  "higher" if r["better"] == "high" else "lower"),
                     fontsize=9)
        for bar, v in zip(bars, values):
            if v:
                ax.text(bar.get_x() + bar.get_width() / 2, v, fmt(v), ha="center", va="bottom",
                        fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle("broker-rs vs Broker 1.4 vs Broker 2.8 vs pyzmq+msgpack, two processes over "
                 "loopback, one run (medians; dashed: target)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    say("chart:", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=OURS_PYTHON,
                    help="interpreter with our `broker` (default: .venv/bin/python)")
    ap.add_argument("--reps", type=int, default=3, help="runs per implementation and row")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies every message count (0.02: a quick check)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per run")
    ap.add_argument("--only", default=None,
                    help="comma-separated labels to (re)run, keeping the other rows of an "
                         "earlier results.json in --out")
    ap.add_argument("--skip", default="", help="comma-separated anchors to leave out: "
                                               + ", ".join(ANCHORS))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    run_in_bench_venv(__file__)
    skip = set(filter(None, args.skip.split(",")))
    sides = {"ours": setup_ours(args.ours)}
    for name, setup in (("broker-1.4", setup_broker_14), ("broker-2.8", setup_broker_28)):
        command = None if name in skip else setup()
        if command:
            sides[name] = command
    os.makedirs(args.out, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    results_path = os.path.join(args.out, "results.json")
    results = {}
    if wanted and os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
    pybench_runs = {}
    for label, scenario, extra, _, _, _, zmq in ROWS:
        # Rows after a wanted one that share its runs (the store rows) come along.
        if wanted and label not in wanted and (scenario, tuple(extra)) not in pybench_runs:
            continue
        say("#", label)
        zmq = None if "pyzmq" in skip else zmq
        results[label] = run_pybench(args, sides, scenario, extra, zmq, pybench_runs)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "host": os.uname().nodename, "cpus": os.cpu_count(),
            "load": "%.1f" % os.getloadavg()[0], "scale": args.scale, "reps": args.reps}
    results["_meta"] = meta
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)
    rows = summarize(results)
    write_markdown(rows, meta, os.path.join(args.out, "summary.md"))
    draw(rows, os.path.join(args.out, "chart.png"))


if __name__ == "__main__":
    main()
