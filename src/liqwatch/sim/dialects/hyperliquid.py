"""Hyperliquid: {"method":"subscribe"} → `subscriptionResponse`, {"method":"ping"} → {"channel":"pong"}; REST is POST /info.

No `meta` body is recorded, so POST /info {"type":"meta"} serves a small universe built from
tests/fixtures/instruments/hyperliquid.json (coin names only; `szDecimals`/`maxLeverage` are placeholders), and
{"type":"metaAndAssetCtxs"} adds one asset context per coin with the configured open interest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.hyperliquid import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "HYPERLIQUID"
WS_PATHS = (urlsplit(SPEC.ws_url).path,)
SERVER_PING_S: float | None = None  # the client sends {"method":"ping"}
INSTRUMENTS_PATH = "/info"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/info"

_COINS = ("BTC", "FXS", "MOODENG")  # tests/fixtures/instruments/hyperliquid.json


def _meta() -> dict[str, Any]:
    return {"universe": [{"name": c, "szDecimals": 2, "maxLeverage": 20} for c in _COINS]}


def _key(sub: Mapping[str, object]) -> str:
    return f"{sub.get('type')}|{sub.get('coin', '')}"


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer ping, subscribe and unsubscribe."""
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[dumps({"channel": "error", "data": f"Error parsing JSON into valid websocket request: {message[:100]!r}"})])
    method, sub = request.get("method"), request.get("subscription")
    if method == "ping":
        return Reply(frames=[dumps({"channel": "pong"})])
    if method in ("subscribe", "unsubscribe") and isinstance(sub, dict):
        if method == "subscribe" and reject:
            return Reply(frames=[dumps({"channel": "error", "data": f"Invalid subscription {dumps(sub).decode()}"})], subscribe=True)
        ack = dumps({"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}})
        if method == "subscribe":
            return Reply(frames=[ack], topics=[_key(sub)], subscribe=True)
        return Reply(frames=[ack])
    return Reply(frames=[dumps({"channel": "error", "data": "Unknown request"})])


def topic_of(frame: bytes) -> str | None:
    """Return `channel|coin` of a data push."""
    obj = loads(frame)
    if not isinstance(obj, dict) or obj.get("channel") in (None, "pong", "subscriptionResponse", "error"):
        return None
    data = obj.get("data")
    coin = data.get("coin") if isinstance(data, dict) else (data[0].get("coin") if isinstance(data, list) and data and isinstance(data[0], dict) else None)
    return f"{obj['channel']}|{coin or ''}"


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether the topic was subscribed."""
    return topic in topics


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Answer POST /info by request type."""
    if call.path != "/info":
        return None
    request = loads(call.body)
    kind = request.get("type") if isinstance(request, dict) else None
    if kind == "meta":
        return 200, dumps(_meta())
    if kind == "metaAndAssetCtxs":
        ctxs = [{"openInterest": f"{call.oi(c):g}", "funding": "0.0000125", "markPx": "1.0", "oraclePx": "1.0"} for c in _COINS]
        return 200, dumps([_meta(), ctxs])
    return 422, dumps("Failed to deserialize the JSON body into the target type")


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return the fixture universe."""
    return dumps(_meta())


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer metaAndAssetCtxs with `value` for every coin."""
    ctxs = [{"openInterest": f"{value:g}", "funding": "0.0000125", "markPx": "1.0", "oraclePx": "1.0"} for _ in _COINS]
    return 200, dumps([_meta(), ctxs])


def rest_error(status: int) -> bytes:
    """Return Hyperliquid's (plain) error body."""
    return dumps("rate limited" if status == 429 else "internal error")


def recorded_symbols(body: bytes) -> list[str]:
    """Return the coin names of a meta body."""
    obj = loads(body)
    rows = obj.get("universe") if isinstance(obj, dict) else None
    return [str(r["name"]) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
