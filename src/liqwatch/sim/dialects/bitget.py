"""Bitget v2/v3 public: {"op":"subscribe","args":[…]} acked per arg with {"event":"subscribe","arg":…}; text ping → pong.

The recorded contract bodies are v1 (`/api/mix/v1/market/contracts?productType=umcbl|dmcbl`); the v2 path the
client calls is answered with them (USDT-FUTURES → umcbl, COIN-FUTURES → dmcbl, USDC-FUTURES → empty).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.bitget import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "BITGET"
WS_PATHS = (urlsplit(SPEC.ws_url).path, "/v2/ws/public")
SERVER_PING_S: float | None = None  # the client sends text `ping`
INSTRUMENTS_PATH = "/api/v2/mix/market/contracts"
INSTRUMENTS_KEYS: tuple[str, ...] = ("productType",)
OPEN_INTEREST_PATH = "/api/v2/mix/market/open-interest"
_V1_CONTRACTS = "/api/mix/v1/market/contracts"
_V1_PRODUCT = {"USDT-FUTURES": "umcbl", "COIN-FUTURES": "dmcbl", "USDC-FUTURES": "cmcbl"}
REST_PATHS = (_V1_CONTRACTS,)


def _key(arg: Mapping[str, object]) -> str:
    return json.dumps({k: str(v).lower() for k, v in arg.items()}, sort_keys=True, separators=(",", ":"))


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer text `ping`, subscribe and unsubscribe."""
    if message.strip() == b"ping":
        return Reply(frames=[b"pong"])
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[dumps({"event": "error", "code": 30001, "msg": "param error"})])
    op = request.get("op")
    args = [a for a in request.get("args", []) if isinstance(a, dict)]
    if op == "subscribe":
        if reject:
            arg = args[0] if args else {}
            return Reply(frames=[dumps({"event": "error", "arg": arg, "code": 30001, "msg": "instType:unknown doesn't exist"})], subscribe=True)
        return Reply(frames=[dumps({"event": "subscribe", "arg": a}) for a in args], topics=[_key(a) for a in args], subscribe=True)
    if op == "unsubscribe":
        return Reply(frames=[dumps({"event": "unsubscribe", "arg": a}) for a in args])
    return Reply(frames=[dumps({"event": "error", "code": 30001, "msg": f"unknown op {op!r}"})])


def topic_of(frame: bytes) -> str | None:
    """Return a push's `arg` as a canonical key."""
    obj = loads(frame)
    if not isinstance(obj, dict) or "data" not in obj or not isinstance(obj.get("arg"), dict):
        return None
    return _key(obj["arg"])


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether some subscribed arg is contained in the push's arg (case-insensitive)."""
    pushed = json.loads(topic)
    return any(all(pushed.get(k) == v for k, v in json.loads(t).items()) for t in topics)


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Serve v2 and v1 contracts from the recorded v1 bodies."""
    if call.path == INSTRUMENTS_PATH:
        product = _V1_PRODUCT.get(call.query.get("productType", "").upper(), "")
        return 200, call.recorded_body(_V1_CONTRACTS, productType=product) or empty_instruments(call.query)
    if call.path == _V1_CONTRACTS:
        return 200, call.recorded_body(_V1_CONTRACTS, productType=call.query.get("productType", "")) or empty_instruments(call.query)
    return None


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return a contracts body listing nothing."""
    return dumps({"code": "00000", "msg": "success", "requestTime": 0, "data": []})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /api/v2/mix/market/open-interest?symbol&productType."""
    symbol = query.get("symbol", "")
    data = {"openInterestList": [{"symbol": symbol, "size": f"{value:g}"}], "ts": str(ts_ms)}
    return 200, dumps({"code": "00000", "msg": "success", "requestTime": ts_ms, "data": data})


def rest_error(status: int) -> bytes:
    """Return Bitget's error body for an HTTP status."""
    if status == 429:
        return dumps({"code": "429", "msg": "Too Many Requests", "requestTime": 0, "data": None})
    return dumps({"code": "40725", "msg": "service return an error", "requestTime": 0, "data": None})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the symbols of a recorded contracts body."""
    obj = loads(body)
    rows = obj.get("data") if isinstance(obj, dict) else None
    return [str(r["symbol"]) for r in rows if isinstance(r, dict) and "symbol" in r] if isinstance(rows, list) else []
