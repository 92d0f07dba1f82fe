"""Deprecated alias of :mod:`broker.zeek`, kept for scripts written for Bro."""

from __future__ import annotations

import warnings
from typing import Any

from . import zeek


class Event(zeek.Event):
    """``broker.zeek.Event`` under its old name; warns once per call site."""

    def __new__(cls, *args: Any) -> "Event":
        warnings.warn(
            "broker.bro.Event is deprecated, use broker.zeek.Event", DeprecationWarning, stacklevel=2
        )
        return super().__new__(cls, *args)


__all__ = ["Event"]
