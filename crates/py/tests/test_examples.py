"""The Python examples in examples/ and the ```python blocks in docs/ run as tests."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
DOC_BLOCKS = [
    pytest.param(block, id=f"{doc.relative_to(ROOT)}#{i}")
    for doc in sorted((ROOT / "docs").rglob("*.md"))
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), re.S))
    if "import broker" in block
]


def run(args):
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_there_are_examples():
    assert any(p.name == "demo.py" for p in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example):
    assert run([str(example)]).strip()


def test_demo_prints_what_happens():
    out = run([str(ROOT / "examples" / "demo.py")])
    for expected in ("SC.PeerAdded", "ep2 received ('ping',)", "ep1 received ('pong',)",
                     "Count(42)", "Zeek event ping", "SC.EndpointDiscovered - found a new peer", "EC.PeerUnavailable", "SC.PeerRemoved",
                     "SC.EndpointUnreachable - lost the last path",
                     "put_unique('new') from the clone: True",
                     "clone: {'counter': 42, 'fruits': {'pear'}, 'greeting': 'hello, world'",
                     "after clear: master keys set(), clone keys set()"):
        assert expected in out


@pytest.mark.parametrize("block", DOC_BLOCKS)
def test_doc_block_runs(block):
    run(["-c", block])
