"""Gate futures v4: {"channel","event":"subscribe","payload"} acked with result.status=success; futures.ping → futures.pong."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.gate import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "GATEIO_FUTURES"
_ROOT = urlsplit(SPEC.ws_url).path.rsplit("/", 1)[0]
WS_PATHS = (f"{_ROOT}/usdt", f"{_ROOT}/btc")
SERVER_PING_S: float | None = None  # the client sends futures.ping
INSTRUMENTS_PATH = "/api/v4/futures/usdt/contracts"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/api/v4/futures/usdt/contract_stats"
REST_PATHS = ("/api/v4/futures/btc/contracts", "/api/v4/futures/btc/contract_stats")


def _frame(channel: str, event: str, result: Any, time_s: int = 0, req_id: Any = None) -> bytes:
    out: dict[str, Any] = {"time": time_s, "time_ms": time_s * 1000, "channel": channel, "event": event, "result": result}
    if req_id is not None:
        out["id"] = req_id
    return dumps(out)


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer futures.ping, subscribe and unsubscribe."""
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[_frame("", "", None)])
    channel, event, t = str(request.get("channel", "")), request.get("event"), int(request.get("time") or 0)
    if channel == "futures.ping":
        return Reply(frames=[_frame("futures.pong", "", None, t, request.get("id"))])
    payload = [str(p) for p in request.get("payload", [])]
    if event == "subscribe":
        if reject:
            err = {"time": t, "time_ms": t * 1000, "channel": channel, "event": "subscribe",
                   "error": {"code": 2, "message": f"unknown contract {payload[-1] if payload else ''}"}, "result": None}
            return Reply(frames=[dumps(err)], subscribe=True)
        if channel == "futures.candlesticks" and len(payload) == 2:
            topics = [f"{channel}|{payload[0]}_{payload[1]}"]
        else:
            topics = [f"{channel}|{p}" for p in payload]
        return Reply(frames=[_frame(channel, "subscribe", {"status": "success"}, t, request.get("id"))], topics=topics, subscribe=True)
    if event == "unsubscribe":
        return Reply(frames=[_frame(channel, "unsubscribe", {"status": "success"}, t, request.get("id"))])
    return Reply(frames=[dumps({"time": t, "channel": channel, "event": event, "error": {"code": 1, "message": "invalid argument"}, "result": None})])


def topic_of(frame: bytes) -> str | None:
    """Return `channel|contract` of an update (contract of its first row; `n` for candlesticks)."""
    obj = loads(frame)
    if not isinstance(obj, dict) or obj.get("event") not in ("update", "all") or not isinstance(obj.get("channel"), str):
        return None
    result = obj.get("result")
    row = result[0] if isinstance(result, list) and result else result
    name = (row.get("contract") or row.get("n")) if isinstance(row, dict) else None
    return f"{obj['channel']}|{name}" if name else str(obj["channel"])


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `channel|contract` or `channel|!all` was subscribed."""
    return topic in topics or f"{topic.split('|', 1)[0]}|!all" in topics


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Serve both settle currencies' contracts (recorded usdt, empty btc) and contract_stats."""
    if call.path.endswith("/contracts"):
        return 200, call.recorded_body(call.path) or b"[]"
    if call.path.endswith("/contract_stats"):
        return open_interest(call.query, call.oi(call.query.get("contract", "")), call.ts_ms, call.symbols)
    return None


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an empty contract list."""
    return b"[]"


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET contract_stats?contract=…: one row with open_interest (contracts) and open_interest_usd."""
    contract = query.get("contract", "")
    if contract not in symbols:
        return 400, dumps({"label": "CONTRACT_NOT_FOUND", "message": f"contract {contract} not found"})
    row = {"time": ts_ms // 1000, "open_interest": int(value), "open_interest_usd": value * 10, "mark_price": 10.0}
    return 200, dumps([row])


def rest_error(status: int) -> bytes:
    """Return Gate's error body for an HTTP status."""
    if status == 429:
        return dumps({"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"})
    return dumps({"label": "SERVER_ERROR", "message": "Internal server error"})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the contract names of a recorded contracts body."""
    obj = loads(body)
    return [str(r["name"]) for r in obj if isinstance(r, dict) and "name" in r] if isinstance(obj, list) else []
