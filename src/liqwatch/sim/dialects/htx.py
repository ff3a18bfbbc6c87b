"""HTX (Huobi DM): every server frame gzip-compressed; notification sockets {"op":"sub"} / {"op":"ping"}, market {"sub"} / {"ping"}.

The client keeps only the host of the websocket URL and appends each product line's path, so the paths are served
at the root (`WS_AT_ROOT`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.htx import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "HTX"
FRAME_ENCODING = "gzip"
WS_AT_ROOT = True
_NOTIFY = ("/linear-swap-notification", "/swap-notification", "/notification")
_MARKET = ("/linear-swap-ws", "/swap-ws", "/ws")
WS_PATHS = (*_NOTIFY, *_MARKET)
SERVER_PING_S: float | None = None  # HTX pings in JSON (see app_ping)
INSTRUMENTS_PATH = "/linear-swap-api/v1/swap_contract_info"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/linear-swap-api/v1/swap_open_interest"
_INSTRUMENTS = (INSTRUMENTS_PATH, "/swap-api/v1/swap_contract_info", "/api/v1/contract_contract_info")
_OPEN_INTEREST = (OPEN_INTEREST_PATH, "/swap-api/v1/swap_open_interest", "/api/v1/contract_open_interest")
REST_PATHS = (*_INSTRUMENTS, *_OPEN_INTEREST)


def app_ping(path: str, ts_ms: int) -> bytes | None:
    """Return the server ping of the socket kind: {"op":"ping","ts":"…"} (notification) or {"ping":ts} (market)."""
    return dumps({"op": "ping", "ts": str(ts_ms)}) if path in _NOTIFY else dumps({"ping": ts_ms})


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer sub/unsub and the client's pongs."""
    request = loads(message)
    if not isinstance(request, dict):
        return Reply(frames=[dumps({"op": "error", "err-code": 4000, "err-msg": "invalid request"})])
    if request.get("op") == "pong" or "pong" in request:
        return Reply(pong=True)
    if request.get("op") == "sub":
        topic, cid = str(request.get("topic", "")), request.get("cid")
        if reject:
            return Reply(frames=[dumps({"op": "sub", "cid": cid, "topic": topic, "ts": 0, "err-code": 4001, "err-msg": "invalid topic"})], subscribe=True)
        return Reply(frames=[dumps({"op": "sub", "cid": cid, "topic": topic, "ts": 0, "err-code": 0})], topics=[topic], subscribe=True)
    if "sub" in request:
        topic, req_id = str(request["sub"]), request.get("id")
        if reject:
            return Reply(frames=[dumps({"id": req_id, "status": "error", "err-code": "bad-request", "err-msg": f"invalid topic {topic}", "ts": 0})], subscribe=True)
        return Reply(frames=[dumps({"id": req_id, "status": "ok", "subbed": topic, "ts": 0})], topics=[topic], subscribe=True)
    if request.get("op") == "unsub" or "unsub" in request:
        return Reply(frames=[dumps({"op": "unsub", "cid": request.get("cid"), "topic": request.get("topic"), "err-code": 0})])
    return Reply(frames=[dumps({"op": "error", "err-code": 4000, "err-msg": "unknown op"})])


def topic_of(frame: bytes) -> str | None:
    """Return a notify push's `topic` or a market push's `ch`."""
    obj = loads(frame)
    if not isinstance(obj, dict):
        return None
    if obj.get("op") == "notify" and isinstance(obj.get("topic"), str):
        return str(obj["topic"])
    ch = obj.get("ch")
    return ch if isinstance(ch, str) and ("tick" in obj or "data" in obj) else None


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `topic` was subscribed (`*` matches any code)."""
    if topic in topics:
        return True
    parts = topic.split(".")
    return len(parts) > 2 and ".".join([parts[0], "*", *parts[2:]]) in topics


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Serve the three contract_info paths (recorded bodies) and the three open-interest paths."""
    if call.path in _INSTRUMENTS:
        return 200, call.recorded_body(call.path) or empty_instruments(call.query)
    if call.path in _OPEN_INTEREST:
        linear = call.path == OPEN_INTEREST_PATH
        futures = call.path == "/api/v1/contract_open_interest"
        data = []
        for s in call.symbols:
            is_linear, is_swap = s.endswith("-USDT"), s.endswith("-USD")
            if (linear and is_linear) or (not linear and not futures and is_swap) or (futures and not is_linear and not is_swap):
                value = call.oi(s)
                data.append({
                    "symbol": s.split("-")[0].rstrip("0123456789"), "contract_code": s, "volume": value, "amount": value / 100,
                    "value": value * 10, "trade_amount": 0, "trade_volume": 0, "trade_turnover": 0,
                    "business_type": "swap", "pair": s, "contract_type": "swap",
                })
        return 200, dumps({"status": "ok", "data": data, "ts": call.ts_ms})
    return None


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return a contract_info body listing nothing."""
    return dumps({"status": "ok", "data": [], "ts": 0})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer open interest with no rows (the `rest` hook serves the real answer)."""
    return 200, dumps({"status": "ok", "data": [], "ts": ts_ms})


def rest_error(status: int) -> bytes:
    """Return HTX's error body for an HTTP status."""
    if status == 429:
        return dumps({"status": "error", "err_code": 1032, "err_msg": "Request frequency exceeds limit", "ts": 0})
    return dumps({"status": "error", "err_code": 1000, "err_msg": "System error", "ts": 0})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the contract codes of a recorded contract_info body."""
    obj = loads(body)
    rows = obj.get("data") if isinstance(obj, dict) else None
    return [str(r["contract_code"]) for r in rows if isinstance(r, dict) and "contract_code" in r] if isinstance(rows, list) else []
