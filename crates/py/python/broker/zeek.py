"""Zeek message types over Broker data: ``Event`` (with metadata), ``SafeEvent`` (whose
``args()`` are immutable and hashable) and ``MetadataType`` (the well-known metadata keys,
as ``broker.Count``)."""

from ._broker import Event, MetadataType, SafeEvent

__all__ = ["Event", "MetadataType", "SafeEvent"]
