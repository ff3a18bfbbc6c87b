"""Binance USD-M: combined-stream SUBSCRIBE with {"result":null,"id":N} acks; the server pings at protocol level."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects import _history
from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.binance import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "BINANCE_FUTURES"
WS_PATHS = (urlsplit(SPEC.ws_url).path, "/market/ws")
SERVER_PING_S: float | None = 180.0  # docs: a ping every 3 minutes, pong within 10 minutes
INSTRUMENTS_PATH = "/fapi/v1/exchangeInfo"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/fapi/v1/openInterest"

# All-market streams carry per-symbol payloads: `!forceOrder@arr` delivers what `<sym>@forceOrder` would.
_ALL_MARKET = {"!forceOrder@arr": "@forceOrder", "!markPrice@arr@1s": "@markPrice", "!markPrice@arr": "@markPrice"}
_EVENT_STREAM = {"forceOrder": "!forceOrder@arr", "markPriceUpdate": "!markPrice@arr@1s"}


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS."""
    request = loads(message)
    if not isinstance(request, dict) or "method" not in request:
        return Reply(frames=[dumps({"error": {"code": 3, "msg": "Invalid JSON: expected an object with 'method'"}, "id": None})])
    req_id = request.get("id")
    method = request["method"]
    if method == "SUBSCRIBE":
        if reject:
            return Reply(
                frames=[dumps({"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": req_id})], subscribe=True
            )
        return Reply(frames=[dumps({"result": None, "id": req_id})], topics=[str(p) for p in request.get("params", [])], subscribe=True)
    if method in ("UNSUBSCRIBE", "SET_PROPERTY"):
        return Reply(frames=[dumps({"result": None, "id": req_id})])
    if method == "LIST_SUBSCRIPTIONS":
        return Reply(frames=[dumps({"result": [], "id": req_id})])
    return Reply(frames=[dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": req_id})])


def topic_of(frame: bytes) -> str | None:
    """Return the stream name of a combined-stream frame (or of a bare payload's all-market stream)."""
    obj = loads(frame)
    if not isinstance(obj, dict):
        return None
    stream = obj.get("stream")
    if isinstance(stream, str) and "data" in obj:
        return stream
    event = obj.get("e")
    return _EVENT_STREAM.get(event) if isinstance(event, str) else None


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether the subscribed streams cover `topic`."""
    if topic in topics:
        return True
    return any(topic.endswith(suffix) for stream, suffix in _ALL_MARKET.items() if stream in topics)


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an exchangeInfo with no symbols."""
    return dumps({"timezone": "UTC", "serverTime": 0, "rateLimits": [], "assets": [], "symbols": []})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /fapi/v1/openInterest?symbol=…"""
    symbol = query.get("symbol", "")
    if symbol not in symbols:
        return 400, dumps({"code": -1121, "msg": "Invalid symbol."})
    return 200, dumps({"symbol": symbol, "openInterest": f"{value:.3f}", "time": ts_ms})


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Answer GET /fapi/v1/klines from `_history` (oldest first, as Binance does); None for other paths."""
    if call.path != "/fapi/v1/klines":
        return None
    q = call.query
    if q.get("symbol") not in call.symbols:
        return 400, dumps({"code": -1121, "msg": "Invalid symbol."})
    rows = []
    for t in _history.grid(int(q["startTime"]), int(q["endTime"]), 60_000, int(q.get("limit", "500")), newest_first=False):
        o, h, low, c, volume = _history.bar(t)
        rows.append([t, f"{o:g}", f"{h:g}", f"{low:g}", f"{c:g}", f"{volume:g}", t + 59_999, f"{volume * c:g}", 10, "0", "0", "0"])
    return 200, dumps(rows)


def rest_error(status: int) -> bytes:
    """Return Binance's error body for an HTTP status."""
    if status in (418, 429):
        return dumps({"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."})
    return dumps({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the symbols of a recorded exchangeInfo."""
    obj = loads(body)
    return [s["symbol"] for s in obj.get("symbols", [])] if isinstance(obj, dict) else []
