"""broker.zeek: Event (with metadata), SafeEvent and MetadataType, each behaviour as today's
Broker has it (checked against the reference build, zeek/broker 7cc7a56b), and Broker 1.4's
forms still accepted. Where this package deliberately differs (a clear error instead of a
crash or a silently dropped value), the test says so."""

import datetime
import os
import pathlib
import subprocess
import sys
import types

import pytest

import broker
from broker.zeek import Event, MetadataType, SafeEvent
from conftest import WAIT

C = broker.Count
NETWORK_TIME = datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=broker.utc)


# --- constructor forms, name(), args() ------------------------------------------------------


def test_name_and_args_give_python_values():
    event = Event("ping", 1, "x", C(3), 2.5, None, {1, 2}, {1: 2}, [1, [2]])
    assert event.valid() and event.name() == "ping"
    assert event.args() == [1, "x", C(3), 2.5, None, {1, 2}, {1: 2}, (1, (2,))]
    assert str(event.as_data()) == "(1, 1, (ping, (1, x, 3, 2.500000, nil, {1, 2}, {1 -> 2}, (1, (2)))))"
    assert type(event.as_data()) is broker._broker.Data
    assert Event("no_args").args() == [] and Event("").valid()


def test_a_single_non_string_argument_is_data_to_wrap():
    sent = Event("ping", "x", C(1))
    wire = broker.Data.to_py(sent.as_data())
    assert wire == (C(1), C(1), ("ping", ("x", C(1))))
    for data in (wire, sent.as_data(), broker.Data(sent.as_data()), sent, list(wire)):
        event = Event(data)
        assert event.valid() and event.name() == "ping" and event.args() == ["x", C(1)]
    assert broker.Data(sent) == sent.as_data()
    # A one-element call with bytes is data too, as in Broker; with arguments, bytes name it.
    assert not Event(b"ping").valid()
    assert Event(b"ping", 1).name() == "ping"


def test_wrong_constructor_calls_raise_as_in_broker():
    with pytest.raises(IndexError):
        Event()
    with pytest.raises(TypeError):
        Event(1, 2)
    with pytest.raises(TypeError):
        Event(name="ping")
    with pytest.raises(TypeError):
        Event("ping", object())


def test_data_that_is_no_event_is_invalid_and_its_accessors_raise_value_error():
    for data in (5, None, (1, 2, 3), (C(1), C(1)), (C(2), C(1), ("p", ())), (C(1), C(2), ("p", ()))):
        event = Event(data)
        assert not event.valid(), data
        for accessor in (event.name, event.args, event.metadata):
            with pytest.raises(ValueError, match="invalid Event data"):
                accessor()
    assert str(Event(5).as_data()) == "5"


def test_received_events_with_metadata_follow_brokers_valid():
    """Zeek 6+ sends (1, 1, (name, args, metadata)), metadata a vector of (count key, value)
    pairs; Broker's Event.valid() accepts it and requires a timestamp at key 1."""

    def event(*content):
        return Event((C(1), C(1), ("ping", ("x", C(3))) + content))

    for metadata in ([(C(1), NETWORK_TIME)], [(C(200), "user"), (C(1), NETWORK_TIME)], []):
        with_metadata = event(metadata)
        assert with_metadata.valid(), metadata
        assert with_metadata.name() == "ping" and with_metadata.args() == ["x", C(3)]
    assert event([(C(200), "x"), (C(201), 2)]).metadata() == [(C(200), "x"), (C(201), 2)]
    assert event([]).metadata() is None
    # Trailing elements after the metadata, and after the content, are tolerated.
    assert event([(C(200), 5)], C(7)).metadata() == [(C(200), 5)]
    assert Event((C(1), C(1), ("ping", ()), C(7))).valid()
    for bad in (C(5), [C(5)], [(C(1), "not a timestamp")], [(1, "integer key")], [(C(200), "x", "y")]):
        assert not event(bad).valid(), bad
        with pytest.raises(ValueError, match="invalid Event data"):
            event(bad).metadata()


# --- metadata --------------------------------------------------------------------------------


def test_metadata_from_a_dict_keyed_by_metadata_type():
    event = Event("ping", 1, "x", metadata={MetadataType.NetworkTimestamp: NETWORK_TIME})
    assert event.valid() and event.name() == "ping" and event.args() == [1, "x"]
    assert event.metadata() == [(C(1), NETWORK_TIME)]
    key, value = event.metadata()[0]
    assert type(key) is broker.Count and type(value) is datetime.datetime
    assert str(event.as_data()) == "(1, 1, (ping, (1, x), ((1, 1700000000500000000ns))))"


def test_metadata_accepts_what_broker_accepts():
    user = MetadataType.UserMetadataStart
    pairs = [(1, NETWORK_TIME), (200, "u")]
    expected = [(C(1), NETWORK_TIME), (C(200), "u")]
    for metadata in (
        pairs,
        tuple(pairs),
        dict(pairs),
        types.MappingProxyType(dict(pairs)),
        [[1, NETWORK_TIME], [200, "u"]],
        ((k, v) for k, v in pairs),
        [(C(1), NETWORK_TIME), (user, "u")],
        [(True, NETWORK_TIME), (200, "u")],  # bool is an int, as for Count()
    ):
        event = Event("ping", metadata=metadata)
        assert event.valid() and event.metadata() == expected, metadata
    assert str(Event("ping", metadata=pairs).as_data()) == (
        "(1, 1, (ping, (), ((1, 1700000000500000000ns), (200, u))))"
    )
    # Values convert as Data does; order and duplicate keys are kept.
    assert Event("e", metadata={200: [1, 2], 201: {1, 2}, 202: {1: 2}, 203: None}).metadata() == [
        (C(200), (1, 2)), (C(201), {1, 2}), (C(202), {1: 2}), (C(203), None),
    ]
    assert Event("e", metadata=[(200, "x"), (200, "y")]).metadata() == [(C(200), "x"), (C(200), "y")]
    assert Event("e", metadata={2**63: "x"}).metadata() == [(C(2**63), "x")]
    stamp = Event("e", metadata={1: broker.Timestamp(1.5)})
    assert stamp.valid() and stamp.metadata() == [(C(1), datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, broker.utc))]
    for nothing in (None, {}, []):
        assert Event("ping", metadata=nothing).metadata() is None


def test_a_network_timestamp_that_is_no_timestamp_makes_an_invalid_event():
    # As in Broker: the event is built, and is invalid.
    for value in ("x", 1700000000.5, 5):
        event = Event("ping", metadata={MetadataType.NetworkTimestamp: value})
        assert not event.valid()
        with pytest.raises(ValueError, match="network timestamp"):
            event.name()


def test_bad_metadata_raises_a_clear_error():
    with pytest.raises(TypeError):
        Event("ping", metadata=5)
    for key in ("a", 1.5):
        with pytest.raises(TypeError):
            Event("ping", metadata={key: "x"})
    # Broker: SystemError from the Count constructor; here Count's own OverflowError.
    for key in (-1, 2**64):
        with pytest.raises(OverflowError):
            Event("ping", metadata={key: "x"})
    # Broker: IndexError for a short entry; a long one loses its extra elements silently
    # (int key) or makes an invalid event (Count key). Here a ValueError, as dict() raises.
    for entry in ((200,), (200, "x", "y"), (C(1), NETWORK_TIME, 3)):
        with pytest.raises(ValueError, match="not a \\(key, value\\) pair"):
            Event("ping", metadata=[entry])
    # Broker ignores metadata given with data to wrap; here nothing is dropped silently.
    with pytest.raises(TypeError, match="metadata"):
        Event(Event("ping").as_data(), metadata={200: 1})


def test_metadata_type_holds_counts_as_broker_defines_it():
    assert MetadataType.NetworkTimestamp == C(1) and type(MetadataType.NetworkTimestamp) is broker.Count
    assert MetadataType.UserMetadataStart == C(200)
    assert MetadataType.NetworkTimestamp != 1  # a Count, as in Broker, not an int
    assert MetadataType.NetworkTimestamp.value == 1 and str(MetadataType.UserMetadataStart) == "200"
    assert MetadataType.__module__ == "broker.zeek"
    names = {name for name in vars(MetadataType) if not name.startswith("_")}
    assert names == {"NetworkTimestamp", "UserMetadataStart"}
    # A key read back compares equal to its MetadataType.
    [(key, _)] = Event("e", metadata={1: NETWORK_TIME}).metadata()
    assert key == MetadataType.NetworkTimestamp
    # As an argument it is a count, as in Broker.
    assert str(Event("e", MetadataType.NetworkTimestamp).as_data()) == "(1, 1, (e, (1)))"


# --- SafeEvent, repr, subclasses ---------------------------------------------------------------


def test_safe_event_gives_immutable_args_and_brokers_metadata():
    event = SafeEvent("e", {1, 2}, [1, [2]], {1: 2}, metadata={200: {1: 2}})
    assert isinstance(event, Event) and event.valid() and event.name() == "e"
    args = event.args()
    assert args == [frozenset({1, 2}), (1, (2,)), {1: 2}]
    assert type(args[0]) is frozenset and isinstance(args[2], broker.FrozenTable)
    hash(tuple(args))
    # metadata() is Event's, as in Broker's SafeEvent.
    [(_, table)] = event.metadata()
    assert type(table) is dict
    table_in_set = broker.Data({broker.Data({1: 2})})
    assert SafeEvent("e", table_in_set).args() == [frozenset({broker.FrozenTable({1: 2})})]
    assert SafeEvent(Event("e", [1]).as_data()).args() == [(1,)]
    with pytest.raises(ValueError, match="invalid Event data"):
        SafeEvent(5).args()
    with pytest.raises(IndexError):
        SafeEvent()


def test_repr_names_the_class_and_shows_the_data():
    assert repr(Event("ping", 1)) == "Event((1, 1, (ping, (1))))"
    assert repr(SafeEvent("e", metadata={200: "x"})) == "SafeEvent((1, 1, (e, (), ((200, x)))))"


def test_subclasses_keep_the_keywords():
    class Tagged(Event):
        pass

    event = Tagged("p", 1, metadata={200: 2})
    assert event.metadata() == [(C(200), 2)] and event.args() == [1]


def test_broker_1_4_forms_still_work():
    with pytest.warns(DeprecationWarning):
        event = broker.bro.Event("ping", 1)
    assert isinstance(event, Event) and event.args() == [1] and event.valid()
    wrapped = Event(Event("ping", "x").as_data())
    assert (wrapped.name(), wrapped.args(), wrapped.valid()) == ("ping", ["x"], True)


# --- over the network ----------------------------------------------------------------------------


@pytest.mark.parametrize("event_class", [Event, SafeEvent])
def test_metadata_travels_between_endpoints(endpoints, event_class):
    a, b = endpoints(), endpoints()
    sub = b.make_subscriber("/zeek")
    port = b.listen("127.0.0.1", 0)
    assert a.peer("127.0.0.1", port, 0) is True
    sent = event_class("ping", "x", C(3), metadata={MetadataType.NetworkTimestamp: NETWORK_TIME, 200: {1: 2}})
    a.publish("/zeek/event", sent)
    topic, value = sub.get(WAIT)
    assert topic == "/zeek/event"
    received = event_class(value)
    assert received.valid() and received.name() == "ping" and received.args() == ["x", C(3)]
    assert received.metadata() == [(MetadataType.NetworkTimestamp, NETWORK_TIME), (C(200), {1: 2})]
    assert received.as_data() == sent.as_data()


# --- the same script under today's Broker ---------------------------------------------------------

REFERENCE_SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "reference-broker"

# Prints what a script sees of broker.zeek; deliberate differences stay out of it.
SHARED_SCRIPT = r"""
import datetime, broker
from broker.zeek import Event, MetadataType, SafeEvent
ts = datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=datetime.timezone.utc)
C = broker.Count
def show(label, f):
    try:
        print(label, repr(f()))
    except Exception as e:
        print(label, type(e).__name__)
show("types", lambda: (repr(MetadataType.NetworkTimestamp), repr(MetadataType.UserMetadataStart)))
e = Event("ping", 1, "x", C(3), metadata={MetadataType.NetworkTimestamp: ts, 200: [1, {2}]})
show("event", lambda: (e.valid(), e.name(), e.args(), e.metadata(), str(e.as_data())))
show("plain", lambda: (Event("p").metadata(), Event("p", metadata=None).metadata(), str(Event("p").as_data())))
show("pairs", lambda: Event("p", metadata=[(1, ts), [C(200), "u"]]).metadata())
show("mapping items", lambda: Event("p", metadata={True: ts}).metadata())
show("timestamp", lambda: Event("p", metadata={1: broker.Timestamp(1.5)}).metadata())
for bad in ("x", 1.5, 5):
    b = Event("p", metadata={1: bad})
    show("bad ts", lambda: (b.valid(), str(b.as_data())))
    show("bad ts name", b.name)
show("str key", lambda: Event("p", metadata={"a": 1}))
show("not iterable", lambda: Event("p", metadata=5))
w = Event(broker.Data.to_py(e.as_data()))
show("wrapped", lambda: (w.valid(), w.name(), w.args(), w.metadata()))
for data in (5, (C(1), C(1)), (C(1), C(1), ("p", (), ((C(1), "x"),))), (C(1), C(1), ("p", (), ((C(200), 1),), 7))):
    d = Event(data)
    show("data", d.valid)
    show("data name", d.name)
    show("data args", d.args)
    show("data metadata", d.metadata)
s = SafeEvent("e", {1, 2}, [1, [2]], {1: 2}, metadata={200: {3}})
show("safe", lambda: (isinstance(s, Event), s.name(), s.args(), s.metadata()))
show("safe wrapped", lambda: SafeEvent(s.as_data()).args())
show("no args", lambda: Event())
show("name kw", lambda: Event(name="x"))
show("bytes", lambda: (Event(b"p").valid(), Event(b"p", 1).name()))
"""


def test_the_same_script_prints_the_same_under_todays_broker():
    if not (os.access(REFERENCE_SCRIPT, os.X_OK) and os.access("/usr/bin/python3", os.X_OK)):
        pytest.skip("scripts/reference-broker or /usr/bin/python3 missing")
    where = subprocess.run([REFERENCE_SCRIPT], capture_output=True, text=True, timeout=60)
    if where.returncode == 77:
        pytest.skip(f"reference Broker not found: {where.stderr.strip()}")
    reference = subprocess.run(
        [REFERENCE_SCRIPT, "/usr/bin/python3", "-c", SHARED_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert reference.returncode == 0, reference.stderr
    ours = subprocess.run([sys.executable, "-c", SHARED_SCRIPT], capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stderr
    # Broker's Event::valid() prints this to stdout on the way; it is noise, not behaviour.
    reference_lines = [line for line in reference.stdout.splitlines() if line != "outer fields invalid"]
    assert len(reference_lines) > 30
    assert ours.stdout.splitlines() == reference_lines
