"""Deribit v2 JSON-RPC: replies carry the request id; set_heartbeat arms `test_request` pings answered by public/test."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, dumps, loads
from liqwatch.venues.deribit import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "DERIBIT"
WS_PATHS = (urlsplit(SPEC.ws_url).path,)
SERVER_PING_S: float | None = None  # heartbeats are JSON-RPC test_requests (see app_ping)
INSTRUMENTS_PATH = "/api/v2/public/get_instruments"
INSTRUMENTS_KEYS: tuple[str, ...] = ("currency",)
OPEN_INTEREST_PATH = "/api/v2/public/get_book_summary_by_currency"


def _result(req_id: Any, result: Any) -> bytes:
    return dumps({"jsonrpc": "2.0", "id": req_id, "result": result, "usIn": 0, "usOut": 0, "usDiff": 0, "testnet": False})


def _error(req_id: Any, code: int, message: str, data: dict[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"jsonrpc": "2.0", "id": req_id, "error": error, "testnet": False})


def app_ping(path: str, ts_ms: int) -> bytes | None:
    """Return the heartbeat `test_request` the client must answer with public/test."""
    return dumps({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer public/set_heartbeat, public/subscribe, public/unsubscribe and public/test."""
    request = loads(message)
    if not isinstance(request, dict) or "method" not in request:
        return Reply(frames=[_error(None, -32700, "parse error")])
    req_id, method = request.get("id"), request["method"]
    raw_params = request.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    if method == "public/set_heartbeat":
        return Reply(frames=[_result(req_id, "ok")])
    if method == "public/test":
        return Reply(frames=[_result(req_id, {"version": "1.2.26"})], pong=True)
    if method == "public/subscribe":
        channels = [str(c) for c in params.get("channels", [])]
        if reject:
            # JSON-RPC invalid params, as Deribit answers a subscribe it cannot take
            return Reply(frames=[_error(req_id, -32602, "Invalid params", {"reason": "wrong format", "param": "channels"})], subscribe=True)
        return Reply(frames=[_result(req_id, channels)], topics=channels, subscribe=True)
    if method == "public/unsubscribe":
        return Reply(frames=[_result(req_id, [str(c) for c in params.get("channels", [])])])
    return Reply(frames=[_error(req_id, -32601, "Method not found")])


def topic_of(frame: bytes) -> str | None:
    """Return a subscription push's `params.channel`."""
    obj = loads(frame)
    if not isinstance(obj, dict) or obj.get("method") != "subscription" or not isinstance(obj.get("params"), dict):
        return None
    channel = obj["params"].get("channel")
    return channel if isinstance(channel, str) else None


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `topic` was subscribed; `trades.<kind>.<CUR>.<interval>` covers `trades.<CUR>-….<interval>`."""
    if topic in topics:
        return True
    parts = topic.split(".")
    if len(parts) == 3 and parts[0] == "trades":  # trades.BTC-PERPETUAL.raw: a single instrument's trades
        currency = parts[1].split("-", 1)[0].split("_", 1)[0]
        return any(t.startswith("trades.") and t.split(".")[2:3] == [currency] for t in topics)
    return False


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return a get_instruments reply with no instruments."""
    return _result(None, [])


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer get_book_summary_by_currency: open_interest for every recorded instrument of the currency."""
    currency = query.get("currency", "")
    rows = [{"instrument_name": s, "open_interest": value, "mark_price": 1.0, "creation_timestamp": ts_ms} for s in symbols if s.startswith(currency)]
    return 200, _result(None, rows)


def rest_error(status: int) -> bytes:
    """Return Deribit's error body for an HTTP status."""
    if status == 429:
        return _error(None, 10028, "too_many_requests")
    return _error(None, 11094, "internal_server_error")


def recorded_symbols(body: bytes) -> list[str]:
    """Return the instrument names of a recorded get_instruments body."""
    obj = loads(body)
    rows = obj.get("result") if isinstance(obj, dict) else None
    return [str(r["instrument_name"]) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
