#!/usr/bin/env python3
"""Ours vs Broker 1.4 vs pyzmq, in one run, with a chart.

Runs `shared/bench/compare.py` (ours and Broker 1.4 alternating, one process per run) for
each scenario of the performance targets, then `shared/bench/zmqbench.py` (the pyzmq
anchor) on the same payloads, and writes to `--out`:

- `results.json`: every run's figures, per side;
- `summary.md`: the medians per scenario and metric, the ratios and the targets;
- `chart.png`: one panel per target, the three implementations side by side.

    python3 benches/run_compare.py --ours .venv/bin/python --zmq-python /tmp/zmq/bin/python

Each side gets its own message count so that every run lasts seconds: Broker 1.4 keeps
pybench's defaults, ours gets `OURS_N`. The machine is shared; use `--reps` >= 3 and read
medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH = os.path.normpath(os.path.join(ROOT, "..", "shared", "bench"))

# (label, pybench scenario, extra pybench args, metric, target, better, zmq run)
# `better` is "high" or "low"; the zmq run is (scenario, payload) or None.
TARGETS = [
    ("throughput2p", "throughput2p", [], "msgs_per_s", 1_000_000, "high", ("pubsub", "small")),
    ("throughput2p no-ssl", "throughput2p", ["--no-ssl"], "msgs_per_s", 1_000_000, "high",
     ("pubsub", "small")),
    ("latency2p", "latency2p", [], "median_us", 100, "low", ("reqrep", "small")),
    ("latency2p no-ssl", "latency2p", ["--no-ssl"], "median_us", 100, "low",
     ("reqrep", "small")),
    ("vec100-2p", "vec100-2p", [], "msgs_per_s", 250_000, "high", ("pubsub", "vec100")),
    ("table50-2p", "table50-2p", [], "msgs_per_s", 120_000, "high", ("pubsub", "table50")),
    ("zeek2p", "zeek2p", [], "msgs_per_s", 500_000, "high", ("pubsub", "zeek")),
    ("fanout2p", "fanout2p", [], "deliveries_per_s", 2_000_000, "high", None),
    # The three store rows share one set of `store` runs.
    ("store master puts", "store", [], "master_puts_per_s", 500_000, "high", None),
    ("store clone puts", "store", [], "clone_puts_per_s", 300_000, "high", None),
    ("store clone get", "store", [], "clone_get_median_us", 2, "low", None),
]

# Message counts for our side, sized for a few seconds per run.
OURS_N = {
    "throughput2p": 2_000_000,
    "latency2p": 10_000,
    "vec100-2p": 500_000,
    "table50-2p": 150_000,
    "zeek2p": 1_000_000,
    "fanout2p": 1_000_000,
    "store": 100_000,
}

ZMQ_N = {"small": 1_000_000, "vec100": 500_000, "table50": 300_000, "zeek": 1_000_000}


def median(values):
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


COMPARE_RUNS = {}


def run_compare(args, label, scenario, extra):
    """Ours (A) and Broker 1.4 (B) alternating; every run's figures per side (once per
    scenario and arguments)."""
    key = (scenario, tuple(extra))
    if key in COMPARE_RUNS:
        return dict(COMPARE_RUNS[key])
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    a_args = extra + ["--n", str(OURS_N[scenario])]
    cmd = [sys.executable, os.path.join(BENCH, "compare.py"), "--a", args.ours,
           "--b", args.broker, "--reps", str(args.reps), "--scenarios", scenario,
           # `=`: values starting with `--` would read as options.
           "--a-args=" + " ".join(a_args), "--b-args=" + " ".join(extra), "--json", out]
    print("#", label, flush=True)
    subprocess.run(cmd, check=False, timeout=args.timeout)
    try:
        with open(out) as f:
            runs = json.load(f).get(scenario, {"A": [], "B": []})
    except (OSError, ValueError):
        runs = {"A": [], "B": []}
    os.unlink(out)
    COMPARE_RUNS[key] = {"ours": runs["A"], "broker-1.4": runs["B"]}
    return dict(COMPARE_RUNS[key])


ZMQ_RUNS = {}


def run_zmq(args, scenario, payload):
    """pyzmq (pickle) runs of one scenario and payload (once per invocation)."""
    if (scenario, payload) in ZMQ_RUNS:
        return ZMQ_RUNS[scenario, payload]
    runs = ZMQ_RUNS.setdefault((scenario, payload), [])
    for _ in range(args.reps):
        cmd = [args.zmq_python, os.path.join(BENCH, "zmqbench.py"), "--scenario", scenario,
               "--payload", payload, "--codec", "pickle"]
        if scenario == "pubsub":
            cmd += ["--n", str(ZMQ_N[payload])]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
            runs.append(json.loads(lines[-1]) if lines else {"error": p.stderr[-300:]})
        except subprocess.TimeoutExpired:
            runs.append({"error": "timeout"})
    return runs


def summarize(results):
    rows = []
    for label, _, _, metric, target, better, zmq in TARGETS:
        entry = results[label]
        ours = median(r.get(metric) for r in entry["ours"])
        ref = median(r.get(metric) for r in entry["broker-1.4"])
        zmq_metric = "median_us" if zmq and zmq[0] == "reqrep" else "msgs_per_s"
        anchor = median(r.get(zmq_metric) for r in entry.get("pyzmq", []))
        met = ours is not None and (ours >= target if better == "high" else ours <= target)
        rows.append({"label": label, "metric": metric, "target": target, "better": better,
                     "ours": ours, "broker": ref, "pyzmq": anchor, "met": met})
    return rows


def fmt(value):
    if value is None:
        return "—"
    if value >= 1e6:
        return "%.2f M" % (value / 1e6)
    if value >= 1e4:
        return "%.0f k" % (value / 1e3)
    if value < 10:
        return "%.1f" % value
    return "%.0f" % value


def write_markdown(rows, path):
    lines = ["| scenario | metric | target | ours | Broker 1.4 | gain vs 1.4 | pyzmq (pickle) |"
             " met |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "—"
        if r["ours"] and r["broker"]:
            ratio = "%.0fx" % (r["ours"] / r["broker"] if r["better"] == "high"
                               else r["broker"] / r["ours"])
        sign = "≥" if r["better"] == "high" else "≤"
        lines.append("| %s | %s | %s %s | %s | %s | %s | %s | %s |" % (
            r["label"], r["metric"], sign, fmt(r["target"]), fmt(r["ours"]), fmt(r["broker"]),
            ratio, fmt(r["pyzmq"]), "yes" if r["met"] else "no"))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def draw(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["ours"] or r["broker"] or r["pyzmq"]]
    if not rows:
        return
    fig, axes = plt.subplots(2, (len(rows) + 1) // 2, figsize=(16, 7), squeeze=False)
    colors = {"ours": "#1f77b4", "Broker 1.4": "#d62728", "pyzmq": "#7f7f7f"}
    for ax, r in zip(axes.flat, rows):
        names = ["ours", "Broker 1.4", "pyzmq"]
        values = [r["ours"], r["broker"], r["pyzmq"]]
        bars = ax.bar(names, [v or 0 for v in values], color=[colors[n] for n in names])
        ax.set_yscale("log")
        ax.axhline(r["target"], color="green", linestyle="--", linewidth=1)
        ax.set_title("%s\n%s (%s is better)" % (r["label"], r["metric"],
                                                  "higher" if r["better"] == "high" else "lower"),
                     fontsize=9)
        for bar, v in zip(bars, values):
            if v:
                ax.text(bar.get_x() + bar.get_width() / 2, v, fmt(v), ha="center",
                        va="bottom", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle("broker-rs vs Broker 1.4 vs pyzmq, two processes over loopback "
                 "(medians; dashed: target)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("chart:", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=os.path.join(ROOT, ".venv", "bin", "python"),
                    help="interpreter with our `broker` installed")
    ap.add_argument("--broker", default="/usr/bin/python3",
                    help="interpreter with Broker 1.4's `broker`")
    ap.add_argument("--zmq-python", default=None,
                    help="interpreter with pyzmq and msgpack (default: --ours)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=int, default=300, help="seconds per run")
    ap.add_argument("--only", default=None,
                    help="comma-separated labels of TARGETS to (re)run, keeping the other "
                         "figures of an earlier results.json in --out (default: run all)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    args.zmq_python = args.zmq_python or args.ours
    os.makedirs(args.out, exist_ok=True)
    wanted = set(args.only.split(",")) if args.only else None
    results_path = os.path.join(args.out, "results.json")
    results = {}
    if wanted and os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
    for label, scenario, extra, _, _, _, zmq in TARGETS:
        if wanted and label not in wanted:
            results.setdefault(label, {"ours": [], "broker-1.4": [], "pyzmq": []})
            continue
        results[label] = run_compare(args, label, scenario, extra)
        if zmq:
            results[label]["pyzmq"] = run_zmq(args, *zmq)
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)
    rows = summarize(results)
    write_markdown(rows, os.path.join(args.out, "summary.md"))
    draw(rows, os.path.join(args.out, "chart.png"))


if __name__ == "__main__":
    main()
