"""Bybit v5 public: {"op":"subscribe"} with success acks, {"op":"ping"} answered with a pong."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects import _history
from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.bybit import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "BYBIT"
WS_PATHS = (urlsplit(SPEC.ws_url).path, "/v5/public/inverse")
SERVER_PING_S: float | None = None  # the client pings
INSTRUMENTS_PATH = "/v5/market/instruments-info"
INSTRUMENTS_KEYS: tuple[str, ...] = ("category",)
OPEN_INTEREST_PATH = "/v5/market/open-interest"

_CONN_ID = str(uuid.uuid4())


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer subscribe / unsubscribe / ping."""
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[dumps({"success": False, "ret_msg": "error:invalid json", "conn_id": _CONN_ID, "op": ""})])
    op = request.get("op")
    req_id = request.get("req_id", "")
    if op == "ping":
        # v5 public answer (docs: websocket/connect, "How to Send the Heartbeat Packet").
        return Reply(frames=[dumps({"success": True, "ret_msg": "pong", "conn_id": _CONN_ID, "req_id": req_id, "op": "ping"})])
    if op == "subscribe":
        args = [str(a) for a in request.get("args", [])]
        if reject:
            msg = f"error:handler not found,topic:{args[0] if args else ''}"
            return Reply(frames=[dumps({"success": False, "ret_msg": msg, "conn_id": _CONN_ID, "req_id": req_id, "op": "subscribe"})], subscribe=True)
        ack = {"success": True, "ret_msg": "", "conn_id": _CONN_ID, "req_id": req_id, "op": "subscribe"}
        return Reply(frames=[dumps(ack)], topics=args, subscribe=True)
    if op == "unsubscribe":
        return Reply(frames=[dumps({"success": True, "ret_msg": "", "conn_id": _CONN_ID, "req_id": req_id, "op": "unsubscribe"})])
    return Reply(frames=[dumps({"success": False, "ret_msg": f"error:unknown op {op!r}", "conn_id": _CONN_ID, "op": op})])


def topic_of(frame: bytes) -> str | None:
    """Return a push's `topic`."""
    obj = loads(frame)
    topic = obj.get("topic") if isinstance(obj, dict) else None
    return topic if isinstance(topic, str) and "data" in obj else None


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `topic` was subscribed (Bybit has no wildcards)."""
    return topic in topics


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an instruments-info body with an empty list."""
    category = query.get("category", "linear")
    return dumps({"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": [], "nextPageCursor": ""}, "retExtInfo": {}, "time": 0})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /v5/market/open-interest?category&symbol&intervalTime."""
    symbol = query.get("symbol", "")
    category = query.get("category", "linear")
    if not symbol:
        return 200, dumps({"retCode": 10001, "retMsg": "params error: symbol is required", "result": {}, "retExtInfo": {}, "time": ts_ms})
    row = {"openInterest": f"{value:.4f}", "timestamp": str(ts_ms)}
    result = {"category": category, "symbol": symbol, "list": [row], "nextPageCursor": ""}
    return 200, dumps({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": ts_ms})


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Answer the history requests (kline; open-interest with startTime) from `_history`; None otherwise."""
    q = call.query
    if call.path == "/v5/market/kline":
        rows = [
            [str(t), *(f"{v:g}" for v in _history.bar(t)[:4]), f"{_history.bar(t)[4]:g}", f"{_history.bar(t)[4] * _history.bar(t)[3]:g}"]
            for t in _history.grid(int(q["start"]), int(q["end"]), 60_000, int(q.get("limit", "200")), newest_first=True)
        ]
        kline: dict[str, object] = {"category": q.get("category", "linear"), "symbol": q.get("symbol", ""), "list": rows}
        return 200, dumps({"retCode": 0, "retMsg": "OK", "result": kline, "retExtInfo": {}, "time": call.ts_ms})
    if call.path == OPEN_INTEREST_PATH and "startTime" in q:
        points = _history.grid(int(q["startTime"]), int(q["endTime"]), 300_000, int(q.get("limit", "50")), newest_first=True)
        points_json = [{"openInterest": f"{_history.open_interest(t):.4f}", "timestamp": str(t)} for t in points]
        result = {"category": q.get("category", "linear"), "symbol": q.get("symbol", ""), "list": points_json, "nextPageCursor": ""}
        return 200, dumps({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": call.ts_ms})
    return None


def rest_error(status: int) -> bytes:
    """Return Bybit's error body for an HTTP status."""
    if status in (403, 429):
        return dumps({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": 0})
    return dumps({"retCode": 10016, "retMsg": "Internal server error.", "result": {}, "retExtInfo": {}, "time": 0})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the symbols of a recorded instruments-info body."""
    obj = loads(body)
    if not isinstance(obj, dict):
        return []
    return [s["symbol"] for s in obj.get("result", {}).get("list", [])]
