"""Zeek's Broker in Rust: a drop-in replacement for Broker 1.4's Python bindings.

The native module ``broker._broker`` does the work (conversions, endpoints, waiting with
the GIL released); this package re-exports it and adds what reads better in Python:
Broker 1.4's argument conventions, iteration, ``with`` blocks and asyncio.
"""

from __future__ import annotations

import asyncio
import collections.abc
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

Data = _broker.Data
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

BrokerOptions = _broker.BrokerOptions
Configuration = _broker.Configuration
NetworkInfo = _broker.NetworkInfo
EndpointInfo = _broker.EndpointInfo
PeerInfo = _broker.PeerInfo
Status = _broker.Status
Error = _broker.Error
Store = _broker.Store

collections.abc.Mapping.register(FrozenTable)


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
    """Receives ``(topic, value)`` messages: ``get``, ``poll``, ``for``, ``async for``."""


class StatusSubscriber(_AsyncInbox, _broker.StatusSubscriber):
    """Receives ``Status`` and ``Error`` objects."""


class Publisher(_broker.Publisher):
    """Publishes to one topic: ``Endpoint.make_publisher(topic)``."""


class Endpoint(_broker.Endpoint):
    """A Broker endpoint; ``with Endpoint() as ep:`` shuts it down on exit."""

    def make_subscriber(self, topics: Any, qsize: int = 20) -> Subscriber:
        return Subscriber(self, topics, qsize)

    def make_status_subscriber(self, receive_statuses: bool = False) -> StatusSubscriber:
        return StatusSubscriber(self, receive_statuses)

    def make_publisher(self, topic: Any) -> Publisher:
        return Publisher(self, topic)


from . import zeek  # noqa: E402
from . import bro  # noqa: E402,F401

__all__ = [
    "Address", "Backend", "BrokerOptions", "Configuration", "Count", "Data", "EC", "Endpoint",
    "EndpointInfo", "Enum", "Error", "Frontend", "FrozenTable", "NetworkInfo", "PeerFlags",
    "PeerInfo", "PeerStatus", "Port", "Publisher", "SC", "Set", "Status", "StatusSubscriber",
    "Store", "Subnet", "Subscriber", "Table", "Timespan", "Timestamp", "Topic", "Vector", "Version",
    "now", "utc", "zeek",
]
