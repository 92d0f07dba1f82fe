"""Benchmark helper processes that report in JSON lines on their stdout."""

import json
import os
import select
import subprocess
import sys
import time


def emit(obj):
    """Reports one JSON line on stdout (the parent's side of `Child.read`)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Child:
    """A Python script in another process, same interpreter; reads its JSON lines without
    ever blocking longer than asked, and can send it lines on its stdin."""

    def __init__(self, script, argv, python=None):
        """`python`: the interpreter command of the child (default: ours)."""
        command = python or [sys.executable]
        self.process = subprocess.Popen(command + [os.path.abspath(script)] + argv,
                                        stdout=subprocess.PIPE, stdin=subprocess.PIPE)
        self.buffer = b""

    def ready(self):
        """Whether a whole line is waiting."""
        while b"\n" not in self.buffer:
            readable, _, _ = select.select([self.process.stdout], [], [], 0)
            if not readable:
                return False
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("child %d exited with status %s"
                                   % (self.process.pid, self.process.wait(timeout=5)))
            self.buffer += chunk
        return True

    def read(self, timeout):
        """The next line, parsed; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if time.monotonic() > deadline:
                raise TimeoutError("child %d said nothing for %.0f s"
                                   % (self.process.pid, timeout))
            select.select([self.process.stdout], [], [], 0.01)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def tell(self, line):
        """Sends one line to the child's stdin (ignored once it is gone)."""
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def finish(self, timeout=10):
        """Waits for the child to exit; kills it after `timeout` seconds."""
        try:
            self.process.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
