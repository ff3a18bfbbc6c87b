"""Venue wire dialects the local exchange server speaks: one small module per venue, one registry line each."""

from __future__ import annotations

from typing import cast

from . import binance, bybit, okx
from liqwatch.sim.dialects._base import Dialect, Reply

DIALECTS: dict[str, Dialect] = {m.VENUE: cast(Dialect, m) for m in (binance, bybit, okx)}

__all__ = ["DIALECTS", "Dialect", "Reply"]
