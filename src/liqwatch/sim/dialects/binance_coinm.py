"""Binance COIN-M: the USD-M framing (combined-stream SUBSCRIBE, protocol pings) on /dapi paths."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import dumps
from liqwatch.sim.dialects.binance import (
    SERVER_PING_S,
    empty_instruments,
    on_message,
    recorded_symbols,
    rest_error,
    subscribed_to,
    topic_of,
)
from liqwatch.venues.binance_coinm import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "BINANCE_DELIVERY"
WS_PATHS = (urlsplit(SPEC.ws_url).path, "/market/ws")
INSTRUMENTS_PATH = "/dapi/v1/exchangeInfo"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/dapi/v1/openInterest"


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /dapi/v1/openInterest?symbol=… (contracts)."""
    symbol = query.get("symbol", "")
    if symbol not in symbols:
        return 400, dumps({"code": -1121, "msg": "Invalid symbol."})
    pair, _, delivery = symbol.partition("_")
    contract_type = "PERPETUAL" if delivery == "PERP" else "CURRENT_QUARTER"
    return 200, dumps({"symbol": symbol, "pair": pair, "openInterest": f"{value:.0f}", "contractType": contract_type, "time": ts_ms})


__all__ = [
    "INSTRUMENTS_KEYS", "INSTRUMENTS_PATH", "OPEN_INTEREST_PATH", "RECORDED_PREFIX", "SERVER_PING_S", "VENUE", "WS_PATHS",
    "empty_instruments", "on_message", "open_interest", "recorded_symbols", "rest_error", "subscribed_to", "topic_of",
]
