"""Zeek message types over Broker data: ``broker.zeek.Event``."""

from ._broker import Event

__all__ = ["Event"]
