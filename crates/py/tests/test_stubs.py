"""The .pyi stubs match the built native module (mypy's stubtest, and every enumeration's
members and values), and ship with py.typed."""

import ast
import enum
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

    zeek = {"Event", "SafeEvent", "MetadataType"}  # reached through broker.zeek
    internal = {"OptionalNetworkInfo"} | zeek  # reached through attributes
    assert set(_broker.__all__) - internal <= set(dir(broker))
    assert all(getattr(broker.zeek, name) is getattr(_broker, name) for name in zeek)


def _stub_enums():
    """The enumerations the stubs declare, by the native object they describe: a
    top-level class (`EC`) or one that a class attribute names (`Data.Type = _DataType`)."""
    stub = pathlib.Path(broker.__file__).parent / "_broker.pyi"
    classes = {node.name: node for node in ast.parse(stub.read_text()).body if isinstance(node, ast.ClassDef)}

    def is_enum(node):
        return any(isinstance(b, ast.Attribute) and b.attr in ("IntEnum", "IntFlag") for b in node.bases)

    def members(node):
        return {
            stmt.targets[0].id: stmt.value.value
            for stmt in node.body
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
        }

    paths = {name: (name,) for name, node in classes.items() if is_enum(node) and not name.startswith("_")}
    for owner, node in classes.items():
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name) and stmt.value.id in classes:
                if is_enum(classes[stmt.value.id]):
                    paths[stmt.value.id] = (owner, stmt.targets[0].id)
    return {paths[name]: members(node) for name, node in classes.items() if is_enum(node)}


def _native_enums():
    """Every enumeration the native module exposes, at top level or as a class attribute."""
    from broker import _broker

    found = {}
    for name in dir(_broker):
        value = getattr(_broker, name)
        if isinstance(value, enum.EnumMeta):
            found[(name,)] = value
        elif isinstance(value, type):
            for attr, nested in vars(value).items():
                if isinstance(nested, enum.EnumMeta):
                    found[(name, attr)] = nested
    return found


def test_stub_enums_list_exactly_the_native_members_and_values():
    stubs, natives = _stub_enums(), _native_enums()
    assert set(stubs) == set(natives)
    assert {("EC",), ("SC",), ("PeerFlags",), ("Backend",), ("Data", "Type"), ("Port", "Protocol")} <= set(natives)
    for path, native in natives.items():
        assert stubs[path] == {m.name: m.value for m in native.__members__.values()}, ".".join(path)
