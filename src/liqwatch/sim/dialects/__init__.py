"""Venue wire dialects the local exchange server speaks: one small module per venue, one registry line each."""

from __future__ import annotations

from typing import cast

from liqwatch.sim.dialects._base import Dialect, Reply

from . import (
    binance,
    binance_coinm,
    bitget,
    bitmex,
    bybit,
    deribit,
    dydx,
    gate,
    htx,
    hyperliquid,
    kraken_futures,
    okx,
)

_MODULES = (binance, binance_coinm, bitget, bitmex, bybit, deribit, dydx, gate, htx, hyperliquid, kraken_futures, okx)
DIALECTS: dict[str, Dialect] = {m.VENUE: cast(Dialect, m) for m in _MODULES}

__all__ = ["DIALECTS", "Dialect", "Reply"]
