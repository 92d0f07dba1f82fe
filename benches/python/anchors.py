"""Finding, and where possible setting up, the implementations the benchmarks compare.

Each `setup_*` returns the command prefix that runs a Python script with that
implementation's `broker` importable, or None after saying why it is skipped:
- ours: the `broker` of a given interpreter (scripts/install-python builds it into .venv);
- Broker 1.4: Debian's python3-broker under /usr/bin/python3, installed when we are root;
- Broker 2.8 (today's Broker): the reference build, through scripts/reference-broker.
`ensure_bench_venv` makes the scratch virtualenv with pyzmq, msgpack and matplotlib.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
VENV = os.path.join(ROOT, "target", "bench-venv")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
VENV_PACKAGES = ["pyzmq", "msgpack", "matplotlib"]
REFERENCE = os.path.join(ROOT, "scripts", "reference-broker")
MISSING = 77  # scripts/reference-broker's exit status when the reference is not there
VERSION = ["-c", "import broker; print(broker.Version.string(), broker.__file__)"]


def say(*parts):
    print(*parts, flush=True)


def clean_env():
    """The environment without a PYTHONPATH that would shadow an interpreter's own broker."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def probe(command, env=None):
    """(exit status, last line of output) of a short command."""
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=60,
                           env=env or clean_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return 1, str(e)
    lines = (p.stdout.strip() or p.stderr.strip() or "?").splitlines()
    return p.returncode, lines[-1]


def ensure_bench_venv():
    """target/bench-venv with pyzmq, msgpack and matplotlib; returns its interpreter."""
    if os.path.exists(VENV_PYTHON) and probe([VENV_PYTHON, "-c",
                                              "import zmq, msgpack, matplotlib"])[0] == 0:
        return VENV_PYTHON
    say("# setting up %s (%s)" % (VENV, ", ".join(VENV_PACKAGES)))
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q"] + VENV_PACKAGES, check=True)
    return VENV_PYTHON


def run_in_bench_venv(script):
    """Re-runs `script` (with the same arguments) in the scratch venv unless already there."""
    if sys.prefix != os.path.realpath(VENV):
        python = ensure_bench_venv()
        os.execv(python, [python, os.path.abspath(script)] + sys.argv[1:])


def setup_ours(python):
    status, line = probe([python] + VERSION)
    if status != 0 and python == OURS_PYTHON:
        say("# building ours: scripts/install-python")
        subprocess.run([os.path.join(ROOT, "scripts", "install-python")], check=True)
        status, line = probe([python] + VERSION)
    if status != 0:
        sys.exit("ours: %s cannot import broker (%s); run scripts/install-python" % (python, line))
    say("# ours: %s" % line)
    return [python]


def setup_broker_14():
    """Debian's python3-broker under /usr/bin/python3, installed when we are root."""
    command = ["/usr/bin/python3"]
    status, line = probe(command + VERSION)
    if status != 0 or not line.startswith("1.4"):
        if os.geteuid() != 0:
            say("# Broker 1.4 skipped: /usr/bin/python3 has no Broker 1.4 (%s); install it "
                "with `sudo apt-get install -y python3-broker`" % line)
            return None
        say("# installing Debian's python3-broker (Broker 1.4)")
        env = dict(clean_env(), DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-broker"], env=env,
                       check=False)
        status, line = probe(command + VERSION)
        if status != 0 or not line.startswith("1.4"):
            say("# Broker 1.4 skipped: installing python3-broker did not work (%s)" % line)
            return None
    say("# Broker 1.4: %s" % line)
    return command


def setup_broker_28():
    """Today's Broker through scripts/reference-broker, or None (saying why)."""
    command = [REFERENCE, "/usr/bin/python3"]
    status, line = probe(command + VERSION)
    if status != 0:
        reason = line if status == MISSING else "it does not import (%s)" % line
        say("# Broker 2.8 skipped: %s" % reason)
        return None
    say("# Broker 2.8: %s" % line)
    return command
