"""The .pyi stubs match the built native module (mypy's stubtest), and ship with py.typed."""

import pathlib
import subprocess
import sys

import pytest

import broker


def test_stubs_and_py_typed_ship_with_the_package():
    package = pathlib.Path(broker.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_broker.pyi").exists()


def test_stubtest_finds_no_difference():
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "broker._broker"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_public_native_name_is_reexported_or_internal():
    from broker import _broker

    internal = {"OptionalNetworkInfo", "Event"}  # reached through attributes / broker.zeek
    assert set(_broker.__all__) - internal <= set(dir(broker))
    assert broker.zeek.Event is _broker.Event
