"""BitMEX: welcome frame on connect, {"op":"subscribe"} acked per arg with {"success":true,…}, text ping → pong.

As BitMEX does, a `liquidation[:SYMBOL]` subscription is followed by the table's `partial`: the liquidation
orders resting at that moment (`RESTING_LIQUIDATIONS`, by symbol; none unless a test sets some), which are not
new liquidations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, dumps, loads
from liqwatch.venues.bitmex import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "BITMEX"
WS_PATHS = (urlsplit(SPEC.ws_url).path,)
SERVER_PING_S: float | None = None  # the client sends text `ping`
INSTRUMENTS_PATH = "/api/v1/instrument/active"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/api/v1/instrument"  # OI streams on `instrument`; REST answers with the active list

RESTING_LIQUIDATIONS: dict[str, list[dict[str, object]]] = {}  # symbol → rows of the partial sent on subscribe
_LIQUIDATION_TYPES = {"orderID": "guid", "symbol": "symbol", "side": "symbol", "price": "float", "leavesQty": "long"}


def _liquidation_partial(arg: str) -> bytes:
    """Return the `partial` of the liquidation table for a `liquidation` or `liquidation:SYMBOL` subscription."""
    symbol = arg.partition(":")[2]
    rows = RESTING_LIQUIDATIONS.get(symbol, []) if symbol else [r for rs in RESTING_LIQUIDATIONS.values() for r in rs]
    return dumps({
        "table": "liquidation", "action": "partial", "keys": ["orderID"], "types": _LIQUIDATION_TYPES,
        "foreignKeys": {"symbol": "instrument", "side": "side"}, "attributes": {"orderID": "grouped"},
        "filter": {"symbol": symbol} if symbol else {}, "data": rows,
    })


def on_connect(path: str) -> list[bytes]:
    """Return BitMEX's welcome message."""
    return [dumps({
        "info": "Welcome to the BitMEX Realtime API.", "version": "2.0.0", "timestamp": "2024-01-01T00:00:00.000Z",
        "docs": "https://www.bitmex.com/app/wsAPI", "heartbeatEnabled": False, "limit": {"remaining": 39},
    })]


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer text `ping`, subscribe and unsubscribe."""
    if message.strip() == b"ping":
        return Reply(frames=[b"pong"])
    request = loads(message)
    if not isinstance(request, dict) or "op" not in request:
        return Reply(frames=[dumps({"status": 400, "error": "Unknown or missing op", "meta": {}, "request": request})])
    op = request["op"]
    args = [str(a) for a in request.get("args", [])] if isinstance(request.get("args"), list) else [str(request.get("args"))]
    if op == "subscribe":
        if reject:
            err = {"status": 400, "error": f"Unknown table: {args[0].split(':')[0] if args else ''}", "meta": {}, "request": request}
            return Reply(frames=[dumps(err)], subscribe=True)
        frames: list[bytes] = []
        for a in args:
            frames.append(dumps({"success": True, "subscribe": a, "request": request}))
            if a.split(":", 1)[0] == "liquidation":
                frames.append(_liquidation_partial(a))
        return Reply(frames=frames, topics=args, subscribe=True)
    if op == "unsubscribe":
        return Reply(frames=[dumps({"success": True, "unsubscribe": a, "request": request}) for a in args])
    return Reply(frames=[dumps({"status": 400, "error": f"Unknown op: {op}", "meta": {}, "request": request})])


def topic_of(frame: bytes) -> str | None:
    """Return `table:symbol` of a table push (symbol of its first row), or the bare table."""
    obj = loads(frame)
    if not isinstance(obj, dict) or not isinstance(obj.get("table"), str) or "data" not in obj:
        return None
    rows = obj["data"]
    symbol = rows[0].get("symbol") if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
    return f"{obj['table']}:{symbol}" if symbol else str(obj["table"])


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `table:symbol` or the whole `table` was subscribed."""
    return topic in topics or topic.split(":", 1)[0] in topics


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an empty instrument list."""
    return b"[]"


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /api/v1/instrument?symbol=…: one row with openInterest (contracts)."""
    symbol = query.get("symbol", "")
    rows = [{"symbol": s, "state": "Open", "openInterest": int(value), "timestamp": "2024-01-01T00:00:00.000Z"} for s in symbols if s == symbol]
    return 200, dumps(rows)


def rest_error(status: int) -> bytes:
    """Return BitMEX's error body for an HTTP status."""
    if status == 429:
        return dumps({"error": {"message": "Rate limit exceeded, retry in 1 seconds.", "name": "RateLimitError"}})
    return dumps({"error": {"message": "Service unavailable", "name": "HTTPError"}})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the symbols of a recorded instrument/active body."""
    obj = loads(body)
    return [str(r["symbol"]) for r in obj if isinstance(r, dict) and "symbol" in r] if isinstance(obj, list) else []
