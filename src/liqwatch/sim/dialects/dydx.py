"""dYdX v4 indexer: `connected` on accept, {"type":"subscribe"} → `subscribed`; the server pings at protocol level.

No `/v4/perpetualMarkets` body is recorded, so the endpoint serves a small body built from
tests/fixtures/instruments/dydx.json (BTC-USD, ETH-USD, AVAX-USD; see its README): `ticker`, `status`,
`marketType`, plus documented `oraclePrice`/`openInterest` placeholders.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from liqwatch.sim.dialects import _history
from liqwatch.sim.dialects._base import Reply, RestCall, dumps, loads
from liqwatch.venues.dydx import SPEC

VENUE = SPEC.name
RECORDED_PREFIX = "DYDX_V4"
WS_PATHS = (urlsplit(SPEC.ws_url).path,)
SERVER_PING_S: float | None = 30.0  # the indexer pings every 30 s at protocol level
INSTRUMENTS_PATH = "/v4/perpetualMarkets"
INSTRUMENTS_KEYS: tuple[str, ...] = ()
OPEN_INTEREST_PATH = "/v4/perpetualMarkets/oi"  # OI streams on v4_markets; nothing polls

_CONN_ID = str(uuid.uuid4())
_MARKETS = ("BTC-USD", "ETH-USD", "AVAX-USD")  # tests/fixtures/instruments/dydx.json


def _market(ticker: str) -> dict[str, Any]:
    return {"ticker": ticker, "status": "ACTIVE", "marketType": "CROSS", "oraclePrice": "1", "openInterest": "0", "stepSize": "0.0001", "atomicResolution": -10}


def on_connect(path: str) -> list[bytes]:
    """Return the `connected` frame."""
    return [dumps({"type": "connected", "connection_id": _CONN_ID, "message_id": 0})]


def on_message(message: bytes, reject: bool) -> Reply:
    """Answer subscribe / unsubscribe."""
    request = loads(message)
    if not isinstance(request, dict) or "type" not in request:
        return Reply(frames=[dumps({"type": "error", "message": "Invalid message: could not parse", "connection_id": _CONN_ID, "message_id": 0})])
    kind, channel, ident = request["type"], str(request.get("channel", "")), request.get("id")
    if kind == "subscribe":
        if reject:
            msg = f"Invalid subscribe message: channel {channel} with id {ident} is not valid"
            return Reply(frames=[dumps({"type": "error", "message": msg, "connection_id": _CONN_ID, "message_id": 1})], subscribe=True)
        ack: dict[str, Any] = {"type": "subscribed", "connection_id": _CONN_ID, "message_id": 1, "channel": channel, "contents": {}}
        if ident is not None:
            ack["id"] = ident
        return Reply(frames=[dumps(ack)], topics=[f"{channel}|{ident}" if ident else channel], subscribe=True)
    if kind == "unsubscribe":
        return Reply(frames=[dumps({"type": "unsubscribed", "connection_id": _CONN_ID, "message_id": 1, "channel": channel, "id": ident})])
    return Reply(frames=[dumps({"type": "error", "message": f"Invalid message type {kind}", "connection_id": _CONN_ID, "message_id": 1})])


def topic_of(frame: bytes) -> str | None:
    """Return `channel|id` of channel_data / channel_batch_data (bare channel without an id)."""
    obj = loads(frame)
    if not isinstance(obj, dict) or obj.get("type") not in ("channel_data", "channel_batch_data"):
        return None
    channel, ident = obj.get("channel"), obj.get("id")
    return f"{channel}|{ident}" if ident else str(channel)


def subscribed_to(topics: Collection[str], topic: str) -> bool:
    """Return whether the topic was subscribed."""
    return topic in topics


def empty_instruments(query: Mapping[str, str]) -> bytes:
    """Return the fixture markets (see the module docstring)."""
    return dumps({"markets": {t: _market(t) for t in _MARKETS}})


def open_interest(query: Mapping[str, str], value: float, ts_ms: int, symbols: list[str]) -> tuple[int, bytes]:
    """Answer with the markets and `openInterest` = value (base units)."""
    return 200, dumps({"markets": {t: {**_market(t), "openInterest": f"{value:g}"} for t in _MARKETS}})


def rest(call: RestCall) -> tuple[int, bytes] | None:
    """Answer GET /v4/trades/perpetualMarket/{ticker} from the synthetic history (`_history.dydx_trades`)."""
    prefix = "/v4/trades/perpetualMarket/"
    if not call.path.startswith(prefix):
        return None
    ticker = call.path[len(prefix) :]
    if ticker not in _MARKETS:
        return 404, dumps({"errors": [{"msg": f"{ticker} not found"}]})
    height = call.query.get("createdBeforeOrAtHeight")
    limit = min(int(call.query.get("limit", "100")), 100)
    return 200, dumps({"trades": _history.dydx_trades(ticker, int(height) if height else None, limit)})


def rest_error(status: int) -> bytes:
    """Return the indexer's error body for an HTTP status."""
    return dumps({"errors": [{"msg": "Too many requests" if status == 429 else "Internal Server Error"}]})


def recorded_symbols(body: bytes) -> list[str]:
    """Return the tickers of a perpetualMarkets body."""
    obj = loads(body)
    markets = obj.get("markets") if isinstance(obj, dict) else None
    return list(markets) if isinstance(markets, dict) else []
