"""Zeek's Broker in Rust: a drop-in replacement for Broker's Python bindings, today's
(2.x-6.x) and 1.4's (see docs/python.md for where they differ and what we chose).

The native module ``broker._broker`` does the work (conversions, endpoints, waiting with
the GIL released); this package re-exports it and adds what reads better in Python:
Broker's argument conventions, safe subscribers, iteration, ``with`` blocks and asyncio.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from . import _broker

utc = datetime.timezone.utc

Version = _broker.Version
now = _broker.now

EC = _broker.EC
SC = _broker.SC
PeerStatus = _broker.PeerStatus
PeerFlags = _broker.PeerFlags
Backend = _broker.Backend
Frontend = _broker.Frontend

Address = _broker.Address
Count = _broker.Count
Enum = _broker.Enum
Port = _broker.Port
Set = _broker.Set
Subnet = _broker.Subnet
Table = _broker.Table
Timespan = _broker.Timespan
Timestamp = _broker.Timestamp
Vector = _broker.Vector
FrozenTable = _broker.FrozenTable
Topic = _broker.Topic
BrokerError = _broker.BrokerError

BrokerOptions = _broker.BrokerOptions
Configuration = _broker.Configuration
NetworkInfo = _broker.NetworkInfo
EndpointInfo = _broker.EndpointInfo
PeerInfo = _broker.PeerInfo
Status = _broker.Status
Error = _broker.Error
Store = _broker.Store


class Data(_broker.Data):
    """A Broker value: ``Data(x)`` converts any supported Python value, ``Data.to_py(d)``
    converts back. As in Broker, this is a subclass of the native ``_broker.Data``, and
    the elements of ``as_set()``, ``as_table()`` and ``as_vector()`` are native values,
    not instances of this class."""

    __slots__ = ()


class ImmutableData(Data):
    """A ``Data`` whose ``to_py`` gives immutable, hashable containers at every depth:
    ``frozenset`` for sets, ``tuple`` for vectors and ``FrozenTable`` (a read-only
    ``dict``, Broker's ``HashableReadOnlyDict``) for tables."""

    __slots__ = ()

    HashableReadOnlyDict = FrozenTable

    @staticmethod
    def to_py(d: Any) -> Any:
        return _broker.Data.to_py(d, immutable=True)


class _AsyncInbox:
    """asyncio support over a native subscriber's ``fd()`` and non-blocking ``get``."""

    async def aget(self) -> Any:
        """Waits for the next item without blocking the event loop."""
        loop = asyncio.get_running_loop()
        inbox: Any = self  # get() and fd() come from the native base class
        while True:
            item = inbox.get(0.0)
            if item is not None:
                return item
            ready = loop.create_future()
            fd = inbox.fd()
            loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
            try:
                await ready
            finally:
                loop.remove_reader(fd)

    def __aiter__(self) -> "_AsyncInbox":
        return self

    async def __anext__(self) -> Any:
        return await self.aget()


class Subscriber(_AsyncInbox, _broker.Subscriber):
    """Receives ``(topic, value)`` messages: ``get``, ``poll``, ``for``, ``async for``;
    ``reset()`` (or leaving a ``with`` block) ends the subscription."""


class SafeSubscriber(Subscriber):
    """A ``Subscriber`` whose values are immutable and hashable, as ``ImmutableData.to_py``
    gives them, so that any Broker value (a set of tables, say) can be represented."""

    def __new__(cls, endpoint: Any, topics: Any, qsize: int = 20) -> "SafeSubscriber":
        return super().__new__(cls, endpoint, topics, qsize, immutable=True)


class StatusSubscriber(_AsyncInbox, _broker.StatusSubscriber):
    """Receives ``Status`` and ``Error`` objects."""


class Publisher(_broker.Publisher):
    """Publishes to one topic: ``Endpoint.make_publisher(topic)``; ``reset()`` (or leaving
    a ``with`` block) releases it."""


class Endpoint(_broker.Endpoint):
    """A Broker endpoint; ``with Endpoint() as ep:`` shuts it down on exit."""

    def make_subscriber(
        self, topics: Any, qsize: int = 20, subscriber_class: type = Subscriber
    ) -> Any:
        """A subscriber to ``topics``; ``subscriber_class`` is ``Subscriber``,
        ``SafeSubscriber`` or a subclass of either."""
        return subscriber_class(self, topics, qsize)

    def make_safe_subscriber(self, topics: Any, qsize: int = 20) -> SafeSubscriber:
        """A ``SafeSubscriber``: values come out immutable and hashable."""
        return self.make_subscriber(topics=topics, qsize=qsize, subscriber_class=SafeSubscriber)

    def make_status_subscriber(self, receive_statuses: bool = False) -> StatusSubscriber:
        return StatusSubscriber(self, receive_statuses)

    def make_publisher(self, topic: Any) -> Publisher:
        return Publisher(self, topic)


from . import zeek  # noqa: E402
from . import bro  # noqa: E402,F401

__all__ = [
    "Address", "Backend", "BrokerError", "BrokerOptions", "Configuration", "Count", "Data", "EC",
    "Endpoint", "EndpointInfo", "Enum", "Error", "Frontend", "FrozenTable", "ImmutableData",
    "NetworkInfo", "PeerFlags", "PeerInfo", "PeerStatus", "Port", "Publisher", "SC",
    "SafeSubscriber", "Set", "Status", "StatusSubscriber", "Store", "Subnet", "Subscriber", "Table",
    "Timespan", "Timestamp", "Topic", "Vector", "Version", "now", "utc", "zeek",
]
