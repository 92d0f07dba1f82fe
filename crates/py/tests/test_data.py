"""The data model: conversions both ways, wrapper classes, str() formats, enums, topics."""

import datetime
import ipaddress
import math
import pickle

import pytest

import broker

D = broker.Data


def roundtrip(value):
    return D.to_py(D(value))


# --- conversion table, both ways -------------------------------------------------------


@pytest.mark.parametrize(
    "value, kind",
    [
        (None, broker.Data.Type.Nil),
        (True, broker.Data.Type.Boolean),
        (False, broker.Data.Type.Boolean),
        (broker.Count(42), broker.Data.Type.Count),
        (-7, broker.Data.Type.Integer),
        (3.5, broker.Data.Type.Real),
        ("text", broker.Data.Type.String),
        (ipaddress.IPv4Address("1.2.3.4"), broker.Data.Type.Address),
        (ipaddress.IPv6Address("::1"), broker.Data.Type.Address),
        (ipaddress.IPv4Network("10.0.0.0/8"), broker.Data.Type.Subnet),
        (ipaddress.IPv6Network("2001:db8::/32"), broker.Data.Type.Subnet),
        (broker.Port(80, broker.Port.TCP), broker.Data.Type.Port),
        (broker.Enum("Conn::LOG"), broker.Data.Type.EnumValue),
        (datetime.timedelta(seconds=1, microseconds=5), broker.Data.Type.Timespan),
        (datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=broker.utc), broker.Data.Type.Timestamp),
        ((1, "a", (2.0,)), broker.Data.Type.Vector),
        ({1, 2}, broker.Data.Type.Set),
        ({"a": 1}, broker.Data.Type.Table),
    ],
)
def test_values_convert_both_ways(value, kind):
    data = D(value)
    assert data.get_type() == kind
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_inputs_that_come_back_in_another_form():
    assert roundtrip([1, 2]) == (1, 2)
    assert roundtrip(frozenset({1})) == {1} and isinstance(roundtrip(frozenset({1})), set)
    assert roundtrip(b"bytes") == "bytes"
    assert roundtrip(b"\xff\x00") == b"\xff\x00"
    assert roundtrip(broker.Timespan(1500)) == datetime.timedelta(microseconds=1)
    assert roundtrip(broker.Timestamp(1.5)) == datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=broker.utc)
    assert roundtrip(broker.Address("1.2.3.4")) == ipaddress.IPv4Address("1.2.3.4")
    assert roundtrip(broker.Subnet("10.1.0.0/16")) == ipaddress.IPv4Network("10.1.0.0/16")
    assert roundtrip(broker.Set([1, 2])) == {1, 2}
    assert roundtrip(broker.Vector([1, "x"])) == (1, "x")
    assert roundtrip(broker.Table({1: "x"})) == {1: "x"}
    assert roundtrip(D(5)) == 5


def test_naive_datetime_is_local_time():
    naive = datetime.datetime(2021, 6, 1, 12, 0, 0)
    expected = naive.astimezone().astimezone(datetime.timezone.utc)
    assert roundtrip(naive) == expected
    assert roundtrip(naive).tzinfo == datetime.timezone.utc


def test_aware_datetime_in_another_zone_comes_back_as_utc():
    zone = datetime.timezone(datetime.timedelta(hours=5))
    local = datetime.datetime(2021, 6, 1, 12, 0, 0, tzinfo=zone)
    assert roundtrip(local) == local
    assert roundtrip(local).utcoffset() == datetime.timedelta(0)


def test_negative_timespans_and_timestamps_before_the_epoch():
    assert roundtrip(datetime.timedelta(days=-3, microseconds=7)) == datetime.timedelta(days=-3, microseconds=7)
    before = datetime.datetime(1960, 1, 1, tzinfo=broker.utc)
    assert roundtrip(before) == before


def test_subclasses_of_builtin_types_convert():
    assert D(broker.SC.PeerLost).get_type() == broker.Data.Type.Integer

    class MyStr(str):
        pass

    class MyList(list):
        pass

    assert roundtrip(MyStr("x")) == "x"
    assert roundtrip(MyList([1])) == (1,)


def test_unsupported_types_raise_type_error_naming_them():
    class Strange:
        pass

    for value in (object(), Strange(), 1j, [1, object()], {"k": Strange()}):
        with pytest.raises(TypeError, match="unsupported data type"):
            D(value)
    with pytest.raises(TypeError, match="Strange"):
        D([Strange()])
    with pytest.raises(TypeError, match="complex"):
        D(1j)


def test_integers_out_of_range():
    with pytest.raises(OverflowError):
        broker.Count(-1)
    with pytest.raises(OverflowError):
        broker.Count(2**64)
    assert broker.Count(2**64 - 1).value == 2**64 - 1
    with pytest.raises(OverflowError):
        D(2**63)
    assert roundtrip(-(2**63)) == -(2**63)


def test_deep_nesting_raises_instead_of_crashing():
    value = ()
    for _ in range(10_000):
        value = (value,)
    with pytest.raises(RecursionError):
        D(value)


def test_numeric_types_are_distinct_values():
    assert D(broker.Count(1)) != D(1)
    assert D(1) != D(1.0)
    assert D(True) != D(1)
    assert broker.Count(1) != 1
    assert len(broker.Set([broker.Count(1), 1, 1.0, True])) == 4


# --- hashable forms of received values ----------------------------------------------------


def test_set_of_tables_comes_out_hashable_and_read_only():
    value = roundtrip(broker.Set([{1: 2}, {3: {4}}]))
    assert isinstance(value, set) and len(value) == 2
    tables = sorted(value, key=len)
    assert all(isinstance(t, broker.FrozenTable) for t in tables)
    first = next(t for t in tables if 1 in t)
    assert first[1] == 2 and first == {1: 2} and dict(first) == {1: 2}
    assert hash(first) == hash(roundtrip(broker.Set([{1: 2}])).pop())
    other = next(t for t in tables if 3 in t)
    assert other[3] == frozenset({4})
    with pytest.raises(TypeError):
        first[5] = 6  # type: ignore[index]
    import collections.abc

    assert isinstance(first, collections.abc.Mapping)


def test_table_keys_that_are_sets_or_tables_come_out_hashable():
    value = roundtrip(broker.Table([(broker.Set([1]), "s"), (broker.Vector([{1: 2}]), "v")]))
    assert value[frozenset({1})] == "s"
    assert value[(broker.FrozenTable({1: 2}),)] == "v"


def test_hashable_forms_convert_back():
    assert D(broker.FrozenTable({1: 2})) == D({1: 2})
    assert D(frozenset({1})) == D({1})
    assert pickle.loads(pickle.dumps(broker.FrozenTable({1: 2}))) == {1: 2}


# --- str() formats exactly as Broker 1.4 ----------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "nil"),
        (True, "T"),
        (False, "F"),
        (42, "42"),
        (-7, "-7"),
        (broker.Count(3), "3"),
        (3.5, "3.500000"),
        (1e18, "1000000000000000000.000000"),
        ("a string", "a string"),
        (ipaddress.IPv4Address("1.2.3.4"), "1.2.3.4"),
        (ipaddress.IPv6Address("::1"), "::1"),
        (ipaddress.IPv4Network("10.0.0.0/8"), "10.0.0.0/8"),
        (broker.Port(80, broker.Port.TCP), "80/tcp"),
        (broker.Port(53, broker.Port.UDP), "53/udp"),
        (broker.Port(8, broker.Port.ICMP), "8/icmp"),
        (broker.Port(0, broker.Port.Unknown), "0/?"),
        (datetime.timedelta(seconds=1.5), "1500000000ns"),
        (broker.Timespan(1.5), "1500000000ns"),
        (broker.Timestamp(1.5), "1500000000ns"),
        (broker.Enum("foo"), "foo"),
        ((1, "a", (2.0,)), "(1, a, (2.000000))"),
        ({1, 2}, "{1, 2}"),
        ({"a": 1, (1, 2): {3}}, "{a -> 1, (1, 2) -> {3}}"),
        ({None, "foo", ipaddress.IPv6Address("::1")}, "{nil, foo, ::1}"),
        (
            {True: 42, broker.Port(22, broker.Port.TCP): False, (1, 2, 3): "x"},
            "{T -> 42, 22/tcp -> F, (1, 2, 3) -> x}",
        ),
    ],
)
def test_str_formats(value, text):
    assert str(D(value)) == text


def test_sets_iterate_in_brokers_total_order():
    value = {ipaddress.IPv6Address("::1"), "foo", None}
    assert [D.to_py(x) for x in D(value).as_set()] == [None, "foo", ipaddress.IPv6Address("::1")]
    order = [None, False, broker.Count(1), -1, 0.5, "s", ipaddress.IPv4Address("1.1.1.1"),
             ipaddress.IPv4Network("1.0.0.0/8"), broker.Port(1, broker.Port.TCP),
             broker.Timestamp(1.0), broker.Timespan(1), broker.Enum("e"), broker.Set([1]),
             broker.Table({1: 1}), broker.Vector([1])]
    datas = [D(x) for x in order]
    assert sorted(reversed(datas)) == datas


def test_container_wrappers_print_and_mutate():
    s = broker.Set([3, 1, 2])
    assert str(s) == "Set{1, 2, 3}"
    assert s.add(4) and not s.add(4) and s.remove(4) and len(s) == 3 and 1 in s
    assert [x.as_integer() for x in s] == [1, 2, 3]
    s.clear()
    assert len(s) == 0
    v = broker.Vector([1, 2])
    assert str(v) == "Vector[1, 2]"
    v.append("x")
    v.extend([3.0])
    v.insert(0, None)
    assert str(v) == "Vector[nil, 1, 2, x, 3.000000]"
    assert v.pop().as_real() == 3.0 and v[-1] == D("x") and v.count(1) == 1
    v.remove(1)
    v[0] = True
    assert str(v) == "Vector[T, 2, x]"
    with pytest.raises(IndexError):
        v[10]
    with pytest.raises(ValueError):
        v.remove(99)
    t = broker.Table({1: 2})
    assert str(t) == "Table{1: 2}"
    t["k"] = (1,)
    assert t["k"] == D((1,)) and len(t) == 2 and "k" in t
    assert [k.get_type() for k in t.keys()] == [broker.Data.Type.Integer, broker.Data.Type.String]
    assert [str(v) for v in t.values()] == ["2", "(1)"]
    assert [(str(k), str(v)) for k, v in t.items()] == [("1", "2"), ("k", "(1)")]
    del t[1]
    with pytest.raises(KeyError):
        t[1]
    assert broker.Set([1]) == broker.Set([1]) and broker.Vector([1]) != broker.Vector([2])


# --- Data -------------------------------------------------------------------------------


def test_data_accessors():
    assert D(True).as_boolean() is True
    assert D(broker.Count(5)).as_count() == 5
    assert D(-5).as_integer() == -5
    assert D(2.5).as_real() == 2.5
    assert D("s").as_string() == b"s"
    assert D(None).as_none() is None
    assert str(D(ipaddress.ip_address("1.2.3.4")).as_address()) == "1.2.3.4"
    assert D(ipaddress.ip_network("10.0.0.0/8")).as_subnet().length() == 8
    assert D(broker.Port(1, broker.Port.UDP)).as_port().get_type() == broker.Port.UDP
    assert D(broker.Timestamp(2.5)).as_timestamp() == 2.5
    assert D(datetime.timedelta(seconds=1.5)).as_timespan() == 1.5
    assert D(broker.Enum("x")).as_enum_value().name == "x"
    assert str(D({1}).as_set()) == "Set{1}"
    assert str(D({1: 2}).as_table()) == "Table{1: 2}"
    assert str(D((1,)).as_vector()) == "Vector[1]"
    # Today's Broker raises RuntimeError ("bad variant access"); BrokerError is one.
    with pytest.raises(broker.BrokerError, match="holds an integer"):
        D(1).as_string()
    assert D.from_py(3) == D(3) and D() == D(None)


def test_data_compares_orders_and_hashes_like_broker():
    assert D(1) == D(1) and D(1) < D(2) and D(None) < D(False) < D(broker.Count(0)) < D(0)
    assert hash(D({1: (2, 3)})) == hash(D({1: (2, 3)}))
    assert len({D(1), D(1), D(2)}) == 2
    assert D(ipaddress.ip_address("::ffff:1.2.3.4")) == D(ipaddress.ip_address("1.2.3.4"))
    assert (D(1) == 1) is False
    assert repr(D(1)) == "Data(1)"


def test_reals_print_nan_and_infinity_like_printf():
    assert str(D(math.nan)) == "nan"
    assert str(D(math.inf)) == "inf"
    assert str(D(-math.inf)) == "-inf"
    assert math.isnan(roundtrip(math.nan))


# --- wrapper classes ---------------------------------------------------------------------


def test_count():
    c = broker.Count(5)
    assert c.value == 5 and str(c) == "5" and repr(c) == "Count(5)" and int(c) == 5
    assert c == broker.Count(5) and c < broker.Count(6) and hash(c) == hash(broker.Count(5))
    with pytest.raises(TypeError):
        broker.Count("5")  # type: ignore[arg-type]


def test_enum_and_port():
    e = broker.Enum("Foo::BAR")
    assert e.name == "Foo::BAR" and str(e) == "Foo::BAR" and e == broker.Enum("Foo::BAR")
    p = broker.Port(443, broker.Port.TCP)
    assert p.number() == 443 and p.get_type() == broker.Port.TCP and str(p) == "443/tcp"
    assert repr(p) == "Port(443, Port.TCP)" and p == broker.Port(443, broker.Port.TCP)
    assert broker.Port(1, broker.Port.TCP) < broker.Port(1, broker.Port.UDP) < broker.Port(2, broker.Port.TCP)
    assert broker.Port.TCP == 1 and broker.Port.UDP == 2 and broker.Port.ICMP == 3 and broker.Port.Unknown == 0
    with pytest.raises(ValueError):
        broker.Port(1, 9)
    with pytest.raises(OverflowError):
        broker.Port(70000, broker.Port.TCP)


def test_timespan():
    t = broker.Timespan(1.5)
    assert t.count() == 1_500_000_000 and str(t) == "1500000000ns"
    assert broker.Timespan(1500) == broker.Timespan(1500) and broker.Timespan(1500).count() == 1500
    assert (t + t).count() == 3_000_000_000 and (t - t).count() == 0
    assert (t * 2).count() == 3_000_000_000 and (2 * t).count() == 3_000_000_000
    assert t / broker.Timespan(0.5) == 3.0 and (t / 3).count() == 500_000_000
    assert (-t).count() == -1_500_000_000 and t < broker.Timespan(2.0)
    with pytest.raises(ZeroDivisionError):
        t / 0
    with pytest.raises(OverflowError):
        broker.Timespan(2**63 - 1) + broker.Timespan(1)


def test_timestamp():
    t = broker.Timestamp(1.5)
    assert str(t) == "1500000000ns" and t.time_since_epoch() == broker.Timespan(1.5)
    assert broker.Timestamp(broker.Timespan(7)).time_since_epoch().count() == 7
    assert (t + broker.Timespan(1)).time_since_epoch().count() == 1_500_000_001
    assert t - broker.Timestamp(1.0) == broker.Timespan(0.5)
    assert t - broker.Timespan(0.5) == broker.Timestamp(1.0)
    now = broker.now()
    assert isinstance(now, broker.Timestamp)
    wall = datetime.datetime.now(broker.utc).timestamp()
    assert abs(now.time_since_epoch().count() / 1e9 - wall) < 60


def test_address_and_subnet():
    a = broker.Address(ipaddress.ip_address("1.2.3.4").packed, 4)
    assert str(a) == "1.2.3.4" and a.is_v4() and not a.is_v6()
    assert a.bytes() == b"\x00" * 10 + b"\xff\xff" + bytes([1, 2, 3, 4])
    assert broker.Address("::1").is_v6() and broker.Address("1.2.3.4") == a
    s = broker.Subnet(a, 8)
    assert str(s) == "1.0.0.0/8" and s.length() == 8 and str(s.network()) == "1.0.0.0"
    assert s.contains(broker.Address("1.9.9.9")) and not s.contains(broker.Address("2.0.0.0"))
    assert broker.Subnet("10.0.0.0/8") == broker.Subnet(broker.Address("10.1.2.3"), 8)
    with pytest.raises(ValueError):
        broker.Address("not an address")
    with pytest.raises(ValueError):
        broker.Address(b"abc", 4)


# --- topics, enums, version, options -----------------------------------------------------


def test_topic():
    t = broker.Topic("/a/")
    assert t.string() == "/a/" and str(t) == "/a/" and repr(t) == "Topic('/a/')"
    assert (broker.Topic("/a/") / broker.Topic("/b/c")).string() == "/a//b/c"
    t = broker.Topic("/b/c")
    t /= broker.Topic("/a/")
    assert t.string() == "/b/c/a"
    assert (broker.Topic("a") / "b").string() == "a/b"
    assert broker.Topic("x") == broker.Topic("x") and len({broker.Topic("x"), broker.Topic("x")}) == 1


ENUMS = {
    broker.EC: dict(Unspecified=1, PeerIncompatible=2, PeerInvalid=3, PeerUnavailable=4, PeerTimeout=6,
                    MasterExists=7, NoSuchMaster=8, NoSuchKey=9, RequestTimeOut=10, TypeClash=11,
                    InvalidData=12, BackendFailure=13, StaleData=14),
    broker.SC: dict(Unspecified=0, PeerAdded=1, PeerRemoved=2, PeerLost=3, EndpointDiscovered=4,
                    EndpointUnreachable=5),
    broker.PeerStatus: dict(Initialized=0, Connecting=1, Connected=2, Peered=3, Disconnected=4,
                            Reconnecting=5),
    broker.PeerFlags: dict(Invalid=0, Local=1, Remote=2, Outbound=4, Inbound=8),
    broker.Backend: dict(Memory=0, SQLite=1, RocksDB=2),
    broker.Frontend: dict(Master=1, Clone=0),
    broker.Data.Type: dict(Address=0, Boolean=1, Count=2, EnumValue=3, Integer=4, Nil=5, Port=6,
                           Real=7, Set=8, String=9, Subnet=10, Table=11, Timespan=12, Timestamp=13,
                           Vector=14),
}


@pytest.mark.parametrize("enum", list(ENUMS), ids=lambda e: e.__qualname__)
def test_enums_have_brokers_values_and_compare_equal_to_ints(enum):
    for name, value in ENUMS[enum].items():
        member = getattr(enum, name)
        assert member == value and int(member) == value and hash(member) == hash(value)
        assert enum(value) is member or enum is broker.PeerFlags
    name = next(iter(ENUMS[enum]))
    assert str(getattr(enum, name)) == f"{enum.__name__}.{name}"


def test_peer_flags_combine():
    both = broker.PeerFlags.Remote | broker.PeerFlags.Outbound
    assert both == 6 and broker.PeerFlags.Remote in both


def test_version():
    assert (broker.Version.MAJOR, broker.Version.MINOR, broker.Version.PATCH) == (1, 4, 0)
    assert broker.Version.string() == "1.4.0"
    assert broker.Version.compatible(broker.Version.PROTOCOL)
    assert broker.Version.compatible(3, 3) and not broker.Version.compatible(2, 3)
    assert broker.utc is datetime.timezone.utc


def test_options_and_configuration():
    opts = broker.BrokerOptions()
    assert (opts.disable_ssl, opts.ttl, opts.forward, opts.ignore_broker_conf, opts.use_real_time) == (
        False, 20, True, False, True)
    opts.ttl = 5
    opts.disable_ssl = True
    cfg = broker.Configuration(opts)
    assert cfg.options.ttl == 5 and cfg.options.disable_ssl
    assert broker.Configuration().options.ttl == 20
    for field in ("openssl_cafile", "openssl_capath", "openssl_certificate", "openssl_key", "openssl_passphrase"):
        assert getattr(cfg, field) == ""
        setattr(cfg, field, "/x")
        assert getattr(cfg, field) == "/x"
    assert cfg.max_threads == 0
