"""Kraken Futures v1: info frame on connect, {"event":"subscribe","feed",…} → {"event":"subscribed",…}; heartbeat feed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from liqwatch.sim.dialects._base import Reply, dumps, loads
from liqwatch.venues.kraken_futures import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "KRAKEN_FUTURES"
WS_PATHS = (urlsplit(SPEC.ws_url).path,)
SERVER_PING_S: float | None = None  # the client keeps the connection alive with the heartbeat feed
INSTRUMENTS_PATH = "/derivatives/api/v3/instruments"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/derivatives/api/v3/tickers"


def on_connect(path: str) -> list[bytes]:
    """Return the version info frame Kraken sends on connect."""
    return [dumps({"event": "info", "version": 1})]


def app_ping(path: str, ts_ms: int) -> bytes | None:
    """Return one heartbeat-feed frame (sent to heartbeat subscribers)."""
    return dumps({"feed": "heartbeat", "time": ts_ms})


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer subscribe / unsubscribe; a heartbeat subscribe is the client's keep-alive."""
    request = loads(message)
    if not isinstance(request, dict) or "event" not in request:
        return Reply(frames=[dumps({"event": "error", "message": "Json Error"})])
    event, feed = request["event"], str(request.get("feed", ""))
    products = [str(p) for p in request.get("product_ids", [])]
    if event == "subscribe":
        if reject and feed != "heartbeat":  # the keep-alive feed names no product: nothing to refuse
            return Reply(frames=[dumps({"event": "error", "message": "Invalid product id"})], subscribe=True)
        ack: dict[str, object] = {"event": "subscribed", "feed": feed}
        if products:
            ack["product_ids"] = products
        topics = [f"{feed}|{p}" for p in products] or [feed]
        # The heartbeat feed's subscribe doubles as the client's ping: count it as such, not as a subscription.
        return Reply(frames=[dumps(ack)], topics=topics, subscribe=feed != "heartbeat", pong=feed == "heartbeat")
    if event == "unsubscribe":
        return Reply(frames=[dumps({"event": "unsubscribed", "feed": feed, "product_ids": products})])
    return Reply(frames=[dumps({"event": "error", "message": "Unknown event"})])


def topic_of(frame: bytes) -> str | None:
    """Return `feed|product_id` of a data frame, or the bare feed (heartbeat)."""
    obj = loads(frame)
    if not isinstance(obj, dict) or "event" in obj or not isinstance(obj.get("feed"), str):
        return None
    feed = str(obj["feed"]).removesuffix("_snapshot")
    product = obj.get("product_id")
    return f"{feed}|{product}" if product else feed


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether `feed|product` (or the bare feed) was subscribed."""
    return topic in topics


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return an instruments body listing nothing."""
    return dumps({"result": "success", "instruments": [], "serverTime": "2024-01-01T00:00:00.000Z"})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer GET /derivatives/api/v3/tickers: openInterest per recorded symbol."""
    rows = [{"symbol": s, "openInterest": value, "markPrice": 1.0, "tag": "perpetual", "pair": s} for s in symbols]
    return 200, dumps({"result": "success", "tickers": rows, "serverTime": "2024-01-01T00:00:00.000Z"})


def rest_error(status: int) -> bytes:
    """Return Kraken Futures' error body for an HTTP status."""
    if status == 429:
        return dumps({"result": "error", "error": "apiLimitExceeded", "serverTime": "2024-01-01T00:00:00.000Z"})
    return dumps({"result": "error", "error": "Unavailable", "serverTime": "2024-01-01T00:00:00.000Z"})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the symbols of a recorded instruments body."""
    obj = loads(body)
    rows = obj.get("instruments") if isinstance(obj, dict) else None
    return [str(r["symbol"]) for r in rows if isinstance(r, dict) and "symbol" in r] if isinstance(rows, list) else []
