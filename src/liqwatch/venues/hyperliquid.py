"""Hyperliquid perpetuals (`api.hyperliquid.xyz`): open interest, mark/oracle price and funding only.

Docs: https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api (docs/venues.md §11).
There is NO public market-wide liquidation feed: liquidations appear only in per-wallet fills, and the public
`trades` channel has no liquidation flag, so trades frames yield nothing.
OI comes from `activeAssetCtx` (websocket, per coin) and `metaAndAssetCtxs` (REST POST /info), in coin units.
It is taken as ONE-sided (`raw_two_sided=False`): Hyperliquid's API reports a single `openInterest` per asset
and documents no two-sided convention; the "two-sided" claim in §11 comes from a third party (Hydromancer)
and is unverified, so halving on its word could halve every figure. Revisit if Hyperliquid documents it.
Funding is hourly (`funding` is the 1-hour rate). Asset contexts carry no timestamp: `ts_event` = `ts_recv`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownMessage
from liqwatch.model import (
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    OpenInterestUnit,
    Origin,
)
from liqwatch.venues import _wire
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="hyperliquid",
    title="Hyperliquid",
    recorded_prefixes=("HYPERLIQUID",),
    ws_url="wss://api.hyperliquid.xyz/ws",
    rest_url="https://api.hyperliquid.xyz",
    channels=frozenset({Channel.OPEN_INTEREST, Channel.MARK_PRICE}),
    liquidations_complete=False,
    coverage_note="no liquidations: Hyperliquid has no public market-wide liquidation feed (per-wallet fills only)",
    oi_origin=Origin.STREAM,
    oi_poll_interval_s=60.0,
    heartbeat_interval_s=40.0,  # the server closes a connection silent for 60 s; send {"method":"ping"}
    stale_after_s=90.0,
    max_streams_per_connection=1000,  # 1000 websocket subscriptions per IP
    docs_url="https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket",
)
VENUE = SPEC.name
FUNDING_INTERVAL_S = 3600


class _Envelope(msgspec.Struct, frozen=True):
    """Every websocket frame: {"channel": name, "data": payload}."""

    channel: str
    data: msgspec.Raw = msgspec.Raw(b"")


class _AssetCtx(msgspec.Struct, frozen=True):
    """A perpetual's context: openInterest in coin, funding per hour, markPx, oraclePx."""

    open_interest: float = msgspec.field(name="openInterest")
    funding: float | None = None
    mark_px: float | None = msgspec.field(name="markPx", default=None)
    oracle_px: float | None = msgspec.field(name="oraclePx", default=None)


class _ActiveAssetCtx(msgspec.Struct, frozen=True):
    coin: str
    ctx: _AssetCtx


class _Asset(msgspec.Struct, frozen=True):
    """One `universe` entry of `meta`."""

    name: str
    sz_decimals: int = msgspec.field(name="szDecimals", default=0)
    is_delisted: bool = msgspec.field(name="isDelisted", default=False)


class _Meta(msgspec.Struct, frozen=True):
    universe: list[_Asset]


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_ACTIVE_ASSET_CTX = msgspec.json.Decoder(_ActiveAssetCtx, strict=False)
_META = msgspec.json.Decoder(_Meta, strict=False)
_META_AND_CTXS = msgspec.json.Decoder(tuple[_Meta, list[_AssetCtx]], strict=False)
_INFO = "/info"


def instrument_requests() -> list[RestRequest]:
    """Return the `meta` request (POST /info)."""
    return [RestRequest(tag="instruments", path=_INFO, method="POST", body=_wire.json_bytes({"type": "meta"}))]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse `meta`: every perpetual is linear, USDC-margined and quoted, one unit = one coin."""
    meta = _wire.decode(_META, payload, "Hyperliquid meta")
    return _wire.each_entry(VENUE, meta.universe, _instrument)


def _instrument(a: _Asset) -> Instrument:
    return _wire.make_instrument(
        venue=VENUE,
        symbol=a.name,
        base=a.name,
        quote="USDC",
        settle="USDC",
        contract_type=ContractType.LINEAR,
        contract_size=1.0,
        category="perp",
        active=not a.is_delisted,
    )


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return connections subscribing `activeAssetCtx` for every coin."""
    if not channels & {Channel.OPEN_INTEREST, Channel.MARK_PRICE}:
        return []
    messages = [
        _wire.json_bytes({"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": i.symbol}})
        for i in instruments
    ]
    per = SPEC.max_streams_per_connection
    return [
        WsConnection(name=f"{VENUE}-{n}", url=ws_url, subscribe=tuple(messages[k : k + per]))
        for n, k in enumerate(range(0, len(messages), per))
    ]


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the client ping; the server answers {"channel":"pong"}."""
    return b'{"method":"ping"}'


def reply_to(frame: bytes) -> bytes | None:
    """Hyperliquid never pings the client."""
    return None


def _error_text(data: msgspec.Raw) -> str:
    """Return the error's text: `data` is a JSON string (decoded), else its raw JSON."""
    try:
        return msgspec.json.decode(data, type=str)
    except msgspec.DecodeError:
        return bytes(data).decode(errors="replace")[:300]


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: `activeAssetCtx`; `[]` for pong, subscription acks and trades."""
    env = _wire.decode(_ENVELOPE, frame, "Hyperliquid frame")
    if env.channel in ("pong", "subscriptionResponse", "trades"):
        return []  # trades carry no liquidation flag
    if env.channel == "error":  # {"channel":"error","data":"Invalid subscription {…}"}
        raise SubscribeRejected(VENUE, _error_text(env.data))
    if env.channel == "activeAssetCtx":
        if not env.data:
            raise ParseError("malformed Hyperliquid activeAssetCtx: no data")
        msg = _wire.decode(_ACTIVE_ASSET_CTX, env.data, "Hyperliquid activeAssetCtx")
        return _context(_wire.instrument(instruments, VENUE, msg.coin), msg.ctx, ts_recv, Origin.STREAM)
    raise UnknownMessage(f"Hyperliquid channel {env.channel!r} is not handled")


def _context(inst: Instrument, ctx: _AssetCtx, ts_recv: int, origin: Origin) -> list[Event]:
    if ctx.open_interest < 0:
        raise ParseError(f"malformed Hyperliquid asset context: openInterest {ctx.open_interest!r} < 0")
    mark = ctx.mark_px if ctx.mark_px and ctx.mark_px > 0 else None
    oi = _wire.open_interest(
        inst,
        raw_value=ctx.open_interest,
        raw_unit=OpenInterestUnit.BASE,
        two_sided=False,  # see the module docstring
        ts_event=ts_recv,
        ts_recv=ts_recv,
        origin=origin,
        price=mark,
    )
    price = _wire.mark_price(
        inst,
        ts_event=ts_recv,
        ts_recv=ts_recv,
        mark_price=mark,
        index_price=ctx.oracle_px if ctx.oracle_px and ctx.oracle_px > 0 else None,
        funding_rate=ctx.funding,
        funding_interval_s=FUNDING_INTERVAL_S,
    )
    return [oi, price]


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return the `metaAndAssetCtxs` request (every perpetual in one POST)."""
    return [RestRequest(tag="asset_ctxs", path=_INFO, method="POST", body=_wire.json_bytes({"type": "metaAndAssetCtxs"}))]


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse `metaAndAssetCtxs` ([meta, ctxs], aligned by position); coins without a loaded spec are skipped."""
    if tag != "asset_ctxs":
        raise UnknownMessage(f"Hyperliquid poll tag {tag!r} is not handled")
    meta, ctxs = _wire.decode(_META_AND_CTXS, payload, "Hyperliquid metaAndAssetCtxs")
    if len(meta.universe) != len(ctxs):
        raise ParseError(f"malformed Hyperliquid metaAndAssetCtxs: {len(meta.universe)} assets, {len(ctxs)} contexts")
    pairs = zip(meta.universe, ctxs, strict=True)
    return _wire.keep_known(VENUE, pairs, lambda p: _context(_wire.instrument(instruments, VENUE, p[0].name), p[1], ts_recv, Origin.POLL))
