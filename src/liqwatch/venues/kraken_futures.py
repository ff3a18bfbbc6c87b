"""Kraken Futures (`futures.kraken.com/ws/v1`): liquidations from the `trade` feed, OI/mark/funding from `ticker`.

Docs: https://docs.kraken.com/exchange/api-reference/futures-websocket/trade.md and …/ticker.md
(docs/venues.md §10). Liquidations are trade prints with `"type":"liquidation"`; every other trade
type (`fill`, `block`, `termination`) yields nothing, and so does `ticker_lite` (no OI, no mark price).
The public trade feed carries every print, so liquidation coverage is complete for subscribed products.
`funding_interval_s` is left unset: the recorded 2019 frames show 4-hour periods, and the docs pages read
do not state the current period.
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
    Liquidation,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import iso_to_ns, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="kraken-futures",
    title="Kraken Futures",
    recorded_prefixes=("KRAKEN_FUTURES",),
    ws_url="wss://futures.kraken.com/ws/v1",
    rest_url="https://futures.kraken.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE}),
    liquidations_complete=True,
    coverage_note="complete: every liquidation fill is a public trade print (type 'liquidation') on subscribed products",
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=30.0,  # the server drops a connection with no client message for 60 s
    stale_after_s=60.0,
    max_streams_per_connection=100,
    docs_url="https://docs.kraken.com/exchange/api-reference/futures-websocket/trade.md",
)
VENUE = SPEC.name


class _Trade(msgspec.Struct, frozen=True):
    """One `trade` feed entry (also the items of `trade_snapshot`)."""

    product_id: str
    side: str
    type: str
    time: int
    qty: float
    price: float
    uid: str | None = None
    seq: int | None = None


class _Frame(msgspec.Struct, frozen=True):
    """Every Kraken Futures frame: a feed push (`feed`) or an event (`event`: subscribed, info, error…)."""

    feed: str | None = None
    event: str | None = None
    message: str | None = None
    product_id: str | None = None
    product_ids: list[str] | None = None
    trades: list[_Trade] | None = None


class _Ticker(msgspec.Struct, frozen=True):
    """`ticker` feed payload (openInterest in contracts: USD for inverse, base for linear)."""

    product_id: str
    time: int | None = None
    open_interest: float | None = msgspec.field(name="openInterest", default=None)
    mark_price: float | None = msgspec.field(name="markPrice", default=None)
    index: float | None = None
    relative_funding_rate: float | None = None
    next_funding_rate_time: int | None = None


_FRAME = msgspec.json.Decoder(_Frame, strict=False)
_TRADE = msgspec.json.Decoder(_Trade, strict=False)
_TICKER = msgspec.json.Decoder(_Ticker, strict=False)


class _InstrumentInfo(msgspec.Struct, frozen=True):
    symbol: str
    type: str
    contract_size: float = msgspec.field(name="contractSize", default=0.0)
    tradeable: bool = True
    last_trading_time: str | None = msgspec.field(name="lastTradingTime", default=None)
    base: str | None = None
    quote: str | None = None


class _Instruments(msgspec.Struct, frozen=True):
    """GET /derivatives/api/v3/instruments."""

    instruments: list[_InstrumentInfo]


_INSTRUMENTS = msgspec.json.Decoder(_Instruments, strict=False)
_CONTRACT_TYPES = {"futures_inverse": ContractType.INVERSE, "flexible_futures": ContractType.LINEAR}
_COINS = {"XBT": "BTC"}


def instrument_requests() -> list[RestRequest]:
    """Return the instruments request."""
    return [RestRequest(tag="instruments", path="/derivatives/api/v3/instruments")]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /derivatives/api/v3/instruments: `futures_inverse` (1 USD contracts) and `flexible_futures` (linear)."""
    body = _wire.decode(_INSTRUMENTS, payload, "Kraken Futures instruments")
    return _wire.each_entry(VENUE, body.instruments, _instrument)


def _instrument(info: _InstrumentInfo) -> Instrument | None:
    contract_type = _CONTRACT_TYPES.get(info.type)
    if contract_type is None or info.contract_size <= 0:
        return None  # spot indices (`in_`, `rr_`) and types we do not handle
    symbol = info.symbol.upper()  # the websocket spells product ids in upper case
    pair = symbol.split("_")[1] if "_" in symbol else symbol
    base = (info.base or pair.removesuffix("USD")).upper()
    base = _COINS.get(base, base)
    quote = (info.quote or "USD").upper()
    dated = symbol.startswith(("FI_", "FF_")) and info.last_trading_time
    return _wire.make_instrument(
        venue=VENUE,
        symbol=symbol,
        base=base,
        quote=quote,
        settle=base if contract_type is ContractType.INVERSE else "USD",
        contract_type=contract_type,
        contract_size=info.contract_size,
        ts_expiry=iso_to_ns(info.last_trading_time) if dated and info.last_trading_time else None,
        category=info.type,
        active=info.tradeable,
    )


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return one connection: `trade` and/or `ticker` feeds for every product, plus the `heartbeat` feed."""
    feeds: list[str] = []
    if Channel.LIQUIDATIONS in channels:
        feeds.append("trade")
    if Channel.OPEN_INTEREST in channels or Channel.MARK_PRICE in channels:
        feeds.append("ticker")
    products = [i.symbol for i in instruments]
    per = SPEC.max_streams_per_connection
    messages = [_wire.json_bytes({"event": "subscribe", "feed": "heartbeat"})]
    for feed in feeds:
        messages.extend(
            _wire.json_bytes({"event": "subscribe", "feed": feed, "product_ids": products[k : k + per]})
            for k in range(0, len(products), per)
        )
    if not feeds or not products:
        return []
    return [WsConnection(name=f"{VENUE}-0", url=ws_url, subscribe=tuple(messages))]


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the client keepalive: a (re)subscription to the `heartbeat` feed (acked, never duplicated)."""
    return _wire.json_bytes({"event": "subscribe", "feed": "heartbeat"})


def reply_to(frame: bytes) -> bytes | None:
    """Kraken Futures sends no application-level ping."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame: `trade`, `trade_snapshot`, `ticker`, or control (events, heartbeat, ticker_lite)."""
    env = _wire.decode(_FRAME, frame, "Kraken Futures frame")
    if env.event is not None:
        if env.event in ("error", "alert", "subscribed_failed"):  # {"event":"error","message":"Invalid product id"}
            request = "/".join(x for x in (env.feed, ",".join(env.product_ids or ())) if x)
            raise SubscribeRejected(VENUE, env.message or env.event, request or None)
        if env.event == "unsubscribed_failed":
            raise ParseError(f"Kraken Futures returned {env.event}: {env.message or frame[:200]!r}")
        return []  # info, subscribed, unsubscribed
    if env.feed == "trade":
        trade = _wire.decode(_TRADE, frame, "Kraken Futures trade")
        return [_liquidation(trade, instruments, ts_recv)] if trade.type == "liquidation" else []
    if env.feed == "trade_snapshot":
        if env.trades is None:
            raise ParseError("malformed Kraken Futures trade_snapshot: no trades")
        return [_liquidation(t, instruments, ts_recv) for t in env.trades if t.type == "liquidation"]
    if env.feed == "ticker":
        return _ticker(_wire.decode(_TICKER, frame, "Kraken Futures ticker"), instruments, ts_recv)
    if env.feed in ("heartbeat", "ticker_lite"):
        return []
    raise UnknownMessage(f"unknown Kraken Futures frame: {frame[:120]!r}")


def _liquidation(t: _Trade, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    inst = _wire.instrument(instruments, VENUE, t.product_id)
    # `side` is the taker side, and the liquidation order is the taker: sell closes a long (§10, §13).
    if t.side == "sell":
        side = PositionSide.LONG
    elif t.side == "buy":
        side = PositionSide.SHORT
    else:
        raise ParseError(f"malformed Kraken Futures trade: side must be buy or sell, was {t.side!r}")
    _wire.positive(t.qty, "qty", "Kraken Futures trade")
    _wire.positive(t.price, "price", "Kraken Futures trade")
    base, usd = _wire.base_and_usd(inst, t.qty, t.price)  # inverse: qty = USD; linear: qty = base
    return _wire.liquidation(
        inst,
        ts_event=ms_to_ns(t.time),
        ts_recv=ts_recv,
        position_side=side,
        venue_side=t.side,
        price=t.price,
        price_kind=PriceKind.FILL,
        quantity=base,
        contracts=t.qty,
        notional_usd=usd,
        venue_event_id=t.uid,
    )


def _ticker(msg: _Ticker, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, msg.product_id)
    ts = ms_to_ns(msg.time) if msg.time else ts_recv
    mark = msg.mark_price if msg.mark_price and msg.mark_price > 0 else None
    out: list[Event] = []
    if msg.open_interest is not None and msg.open_interest >= 0 and (mark or inst.contract_type is ContractType.LINEAR):
        out.append(
            _wire.open_interest(
                inst,
                raw_value=msg.open_interest,
                raw_unit=OpenInterestUnit.CONTRACTS,  # one-sided; USD for inverse, base for linear
                two_sided=False,
                ts_event=ts,
                ts_recv=ts_recv,
                origin=Origin.STREAM,
                price=mark,
            )
        )
    out.append(
        _wire.mark_price(
            inst,
            ts_event=ts,
            ts_recv=ts_recv,
            mark_price=mark,
            index_price=msg.index if msg.index and msg.index > 0 else None,
            funding_rate=msg.relative_funding_rate,  # a fraction; `funding_rate` is absolute (coin per contract)
            ts_next_funding=ms_to_ns(msg.next_funding_rate_time) if msg.next_funding_rate_time else None,
        )
    )
    return out


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return nothing: open interest streams on the `ticker` feed."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Kraken Futures polls nothing."""
    raise UnknownMessage(f"Kraken Futures poll tag {tag!r} is not handled")
