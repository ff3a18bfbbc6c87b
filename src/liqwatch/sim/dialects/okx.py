"""OKX v5: {"op":"subscribe","args":[{...}]} acked per arg with {"event":"subscribe","arg":…}; text ping → pong."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, dumps, loads
from liqwatch.venues.okx import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "OKX"
WS_PATHS = (urlsplit(SPEC.ws_url).path, "/ws/v5/business")
SERVER_PING_S: float | None = None  # the client sends text `ping`
INSTRUMENTS_PATH = "/api/v5/public/instruments"
INSTRUMENTS_KEYS: tuple[str, ...] = ("instType",)
OPEN_INTEREST_PATH = "/api/v5/public/open-interest"

_CONN_ID = "a4d3ae55"


def _key(arg: Mapping[str, object]) -> str:
    return json.dumps({k: v for k, v in arg.items() if k != "generated"}, sort_keys=True, separators=(",", ":"))


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer text `ping`, subscribe and unsubscribe."""
    if message.strip() == b"ping":
        return Reply(frames=[b"pong"])
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {message[:100]!r}", "connId": _CONN_ID})])
    op = request.get("op")
    args = [a for a in request.get("args", []) if isinstance(a, dict)]
    if op == "subscribe":
        if reject:
            arg = args[0] if args else {}
            msg = f"Wrong URL or channel:{arg.get('channel')},instId or instType:{arg.get('instId') or arg.get('instType')} doesn't exist."
            return Reply(frames=[dumps({"event": "error", "code": "60018", "msg": msg, "connId": _CONN_ID})], subscribe=True)
        frames = [dumps({"event": "subscribe", "arg": a, "connId": _CONN_ID}) for a in args]
        return Reply(frames=frames, topics=[_key(a) for a in args], subscribe=True)
    if op == "unsubscribe":
        return Reply(frames=[dumps({"event": "unsubscribe", "arg": a, "connId": _CONN_ID}) for a in args])
    return Reply(frames=[dumps({"event": "error", "code": "60012", "msg": f"Invalid request: unknown op {op!r}", "connId": _CONN_ID})])


def topic_of(frame: bytes) -> str | None:
    """Return a push's `arg` as a canonical key."""
    obj = loads(frame)
    if not isinstance(obj, dict) or "data" not in obj or not isinstance(obj.get("arg"), dict):
        return None
    return _key(obj["arg"])


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether some subscribed arg is contained in the push's arg."""
    pushed = json.loads(topic)
    return any(all(pushed.get(k) == v for k, v in json.loads(t).items()) for t in topics)


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an instruments body listing nothing."""
    return dumps({"code": "0", "data": [], "msg": ""})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /api/v5/public/open-interest?instType[&instId]: `oi` in contracts."""
    inst_type = query.get("instType", "")
    wanted = [query["instId"]] if "instId" in query else [s for s in symbols if s.endswith("-SWAP") == (inst_type == "SWAP")]
    data = [
        {"instId": s, "instType": inst_type, "oi": f"{value:.0f}", "oiCcy": f"{value / 100:.4f}", "oiUsd": f"{value * 10:.2f}", "ts": str(ts_ms)}
        for s in wanted
    ]
    return 200, dumps({"code": "0", "data": data, "msg": ""})


def rest_error(status: int) -> bytes:
    """Return OKX's error body for an HTTP status."""
    if status == 429:
        return dumps({"code": "50011", "data": [], "msg": "Too Many Requests"})
    return dumps({"code": "50001", "data": [], "msg": "Service temporarily unavailable. Please try again later."})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the instIds of a recorded instruments body."""
    obj = loads(body)
    return [s["instId"] for s in obj.get("data", [])] if isinstance(obj, dict) else []
