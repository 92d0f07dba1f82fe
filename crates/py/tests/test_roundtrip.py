"""hypothesis: nested Python values survive Python -> Data -> Python unchanged."""

import datetime
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

import broker

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
UTC = datetime.timezone.utc

# Timestamps: whole microseconds within Broker's 64-bit nanosecond range.
timestamps = st.datetimes(
    min_value=datetime.datetime(1678, 1, 1), max_value=datetime.datetime(2261, 12, 31)
).map(lambda d: d.replace(tzinfo=UTC))
timespans = st.timedeltas(
    min_value=datetime.timedelta(days=-100_000), max_value=datetime.timedelta(days=100_000)
)
# IPv4-mapped IPv6 addresses are the IPv4 address in Broker, so they come back as IPv4.
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None)
networks = st.one_of(
    st.builds(lambda a, n: ipaddress.IPv4Network((int(a), n), strict=False), st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, n: ipaddress.IPv6Network((int(a), n), strict=False), ipv6, st.integers(0, 128)),
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.integers(min_value=0, max_value=2**64 - 1).map(broker.Count),
    st.floats(allow_nan=False),
    st.text(),
    st.ip_addresses(v=4),
    ipv6,
    networks,
    st.builds(broker.Port, st.integers(0, 65535), st.sampled_from([0, 1, 2, 3])),
    st.text(min_size=1).map(broker.Enum),
    timestamps,
    timespans,
)

hashables = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4).map(tuple), max_leaves=12
)


def containers(inner):
    return st.one_of(
        st.lists(inner, max_size=4).map(tuple),
        st.sets(hashables, max_size=4),
        st.dictionaries(hashables, inner, max_size=4),
    )


values = st.recursive(scalars, containers, max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(values)
def test_python_data_python_is_identity(value):
    data = broker.Data(value)
    assert broker.Data.to_py(data) == value
    assert broker.Data(broker.Data.to_py(data)) == data
    assert hash(broker.Data(value)) == hash(data)


@settings(max_examples=200, deadline=None)
@given(st.recursive(scalars, containers, max_leaves=25))
def test_sets_of_anything_come_back_hashable(value):
    # Wrapping any value in a set forces the hashable form of everything inside.
    data = broker.Data(broker.Set([value]))
    (back,) = broker.Data.to_py(data)
    assert hash(back) == hash(back)
    assert broker.Data(back) == broker.Data(value)
