"""Binance COIN-M futures (`dapi`): forceOrder, markPrice and kline streams; open interest by REST poll.

Docs: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
Every contract is inverse: sizes are contracts of `contractSize` USD (BTCUSD 100, others 10, from
/dapi/v1/exchangeInfo), so usd = z × contractSize and base = usd / ap.

URL: reports conflict on whether `dstream` took part in Binance's 2026 `/ws` → `/market` split (ccxt
PR #28091 says no; aggr PR #444 says `/ws` went silent and `/market/ws` works; shared/docs/venues.md §2).
We use `/market/stream`; test both at deploy time, the silent-feed alert catches a wrong choice.

Open interest: /dapi/v1/openInterest gives contracts only, so the event carries the exact USD value
and a base amount only where a price is known (none in a bare REST body: base is NaN there).
Skipped on purpose: 24hrTicker, indexPriceUpdate and aggTrade frames (channels we do not collect).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    Liquidation,
    MarkPrice,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.time import ms_to_ns
from liqwatch.venues import _wire, binance
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection
from liqwatch.venues.binance import _INTERVAL_S, _ForceOrder, _Kline, _OpenInterestData

SPEC = VenueSpec(
    name="binance-coinm",
    title="Binance COIN-M",
    recorded_prefixes=("BINANCE_DELIVERY",),
    ws_url="wss://dstream.binance.com/market/stream",
    rest_url="https://dapi.binance.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=False,
    coverage_note="sampled: at most one liquidation per symbol per second is published (totals are lower bounds)",
    oi_origin=Origin.POLL,
    oi_poll_interval_s=60.0,
    heartbeat_interval_s=None,  # the server pings; aiohttp answers at the protocol level
    stale_after_s=120.0,
    max_streams_per_connection=200,
    docs_url="https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams/Liquidation-Order-Streams",
)
VENUE = SPEC.name


class _MarkPriceUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="markPriceUpdate"):
    """markPrice stream payload; delivery contracts send `"r": ""` and `"T": 0` (Mark-Price-Stream)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: float = msgspec.field(name="p")
    index_price: float | None = msgspec.field(name="i", default=None)
    funding_rate: str = msgspec.field(name="r", default="")
    next_funding_time: int = msgspec.field(name="T", default=0)


_Payload = _ForceOrder | _MarkPriceUpdate | _Kline


class _Combined(msgspec.Struct, frozen=True):
    """The `/stream` wrapper: {"stream": name, "data": payload}."""

    stream: str
    data: _Payload | list[_MarkPriceUpdate]


_EMPTY = msgspec.Raw(b"")


class _Control(msgspec.Struct, frozen=True):
    """Subscribe acks, errors, unhandled streams and REST open-interest bodies."""

    result: msgspec.Raw = _EMPTY
    id: int | None = None
    error: msgspec.Raw = _EMPTY
    e: str | None = None
    stream: str | None = None
    data: msgspec.Raw = _EMPTY
    symbol: str | None = None
    open_interest: float | None = msgspec.field(name="openInterest", default=None)


_COMBINED = msgspec.json.Decoder(_Combined, strict=False)
_PAYLOAD = msgspec.json.Decoder(_Payload, strict=False)
_CONTROL = msgspec.json.Decoder(_Control, strict=False)
_OI_DATA = msgspec.json.Decoder(_OpenInterestData, strict=False)


class _SymbolInfo(msgspec.Struct, frozen=True):
    symbol: str
    base_asset: str = msgspec.field(name="baseAsset")
    quote_asset: str = msgspec.field(name="quoteAsset")
    margin_asset: str = msgspec.field(name="marginAsset")
    contract_size: float = msgspec.field(name="contractSize")
    contract_type: str = msgspec.field(name="contractType", default="")
    delivery_date: int = msgspec.field(name="deliveryDate", default=0)
    status: str = msgspec.field(name="contractStatus", default="TRADING")


class _ExchangeInfo(msgspec.Struct, frozen=True):
    """GET /dapi/v1/exchangeInfo."""

    symbols: list[_SymbolInfo]


_EXCHANGE_INFO = msgspec.json.Decoder(_ExchangeInfo, strict=False)
_PERPETUAL_DELIVERY_MS = 4_000_000_000_000  # perpetuals carry deliveryDate 2100-12-25


def instrument_requests() -> list[RestRequest]:
    """Return the exchangeInfo request."""
    return [RestRequest(tag="instruments", path="/dapi/v1/exchangeInfo")]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /dapi/v1/exchangeInfo: every COIN-M contract is inverse, `contractSize` USD per contract."""
    info = _wire.decode(_EXCHANGE_INFO, payload, "Binance COIN-M exchangeInfo")
    out = []
    for s in info.symbols:
        if s.contract_type not in ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER") or s.contract_size <= 0:
            continue  # settling or delisted contracts have an empty contractType
        expiry = None if s.contract_type == "PERPETUAL" or s.delivery_date >= _PERPETUAL_DELIVERY_MS else ms_to_ns(s.delivery_date)
        out.append(
            _wire.make_instrument(
                venue=VENUE,
                symbol=s.symbol,
                base=s.base_asset,
                quote=s.quote_asset,
                settle=s.margin_asset,
                contract_type=ContractType.INVERSE,
                contract_size=s.contract_size,
                ts_expiry=expiry,
                category="coinm",
                active=s.status == "TRADING",
            )
        )
    return out


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return combined-stream connections: all-market liquidation and mark streams, klines per symbol."""
    return binance.combined_stream_connections(SPEC, instruments, channels, ws_url)


heartbeat = binance.heartbeat  # no client ping: the server pings at the protocol level
reply_to = binance.reply_to


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame (combined-stream wrapper, bare payload, control, or a REST openInterest body)."""
    try:
        combined = _COMBINED.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_other(frame, instruments, ts_recv)
    data = combined.data
    if isinstance(data, list):
        return [e for item in data for e in _event(item, instruments, ts_recv)]
    return _event(data, instruments, ts_recv)


def _parse_other(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    control = _wire.decode(_CONTROL, frame, "Binance COIN-M frame")
    if control.e is not None:
        if control.e not in ("forceOrder", "markPriceUpdate", "kline"):
            raise UnknownMessage(f"Binance COIN-M event {control.e!r} is not handled")
        return _event(_wire.decode(_PAYLOAD, frame, f"Binance {control.e} event"), instruments, ts_recv)
    if control.stream is not None and control.data:
        if control.stream.endswith("@openInterest"):  # a REST poll result wrapped by a recorder
            return _open_interest(_wire.decode(_OI_DATA, control.data, "Binance openInterest"), instruments, ts_recv)
        if any(k in control.stream for k in ("forceOrder", "markPrice", "@kline_")):
            raise ParseError(f"malformed Binance COIN-M {control.stream} frame: {bytes(control.data)[:200]!r}")
        raise UnknownMessage(f"Binance COIN-M stream {control.stream!r} is not handled")
    if control.open_interest is not None and control.symbol is not None:
        return _open_interest(_wire.decode(_OI_DATA, frame, "Binance openInterest"), instruments, ts_recv)
    if control.error:
        raise ParseError(f"Binance returned an error: {bytes(control.error).decode(errors='replace')[:200]}")
    if control.id is not None:
        return []  # subscribe ack
    raise UnknownMessage(f"unknown Binance COIN-M frame: {frame[:120]!r}")


def _event(payload: _Payload, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    if isinstance(payload, _ForceOrder):
        return [_liquidation(payload, instruments, ts_recv)]
    if isinstance(payload, _MarkPriceUpdate):
        return [_mark_price(payload, instruments, ts_recv)]
    return [_candle(payload, instruments, ts_recv)]


def _liquidation(msg: _ForceOrder, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    o = msg.order
    inst = _wire.instrument(instruments, VENUE, o.symbol)
    # `S` is the liquidation ORDER side: SELL closes a long (Liquidation-Order-Streams; venues.md §2).
    if o.side == "SELL":
        side = PositionSide.LONG
    elif o.side == "BUY":
        side = PositionSide.SHORT
    else:
        raise ParseError(f"malformed Binance forceOrder: side S must be BUY or SELL, was {o.side!r}")
    # Filled contracts at the average fill price; fall back to the order's q at p.
    if o.filled_quantity > 0 and o.average_price > 0:
        contracts, price, kind = o.filled_quantity, o.average_price, PriceKind.FILL
    else:
        contracts, price, kind = o.quantity, o.price, PriceKind.ORDER
    _wire.positive(contracts, "quantity", "Binance forceOrder")
    _wire.positive(price, "price", "Binance forceOrder")
    base, usd = _wire.base_and_usd(inst, contracts, price)  # inverse: usd = z × contractSize, base = usd / ap
    return Liquidation(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ms_to_ns(o.trade_time or msg.event_time),
        ts_recv=ts_recv,
        position_side=side,
        venue_side=o.side,
        price=price,
        price_kind=kind,
        quantity=base,
        contracts=contracts,
        notional_usd=usd,
        contract_type=inst.contract_type,
    )


def _mark_price(msg: _MarkPriceUpdate, instruments: InstrumentIndex, ts_recv: int) -> MarkPrice:
    inst = _wire.instrument(instruments, VENUE, msg.symbol)
    try:
        funding = float(msg.funding_rate) if msg.funding_rate else None
    except ValueError:
        raise ParseError(f"malformed Binance markPriceUpdate: funding rate r={msg.funding_rate!r}") from None
    return MarkPrice(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ms_to_ns(msg.event_time),
        ts_recv=ts_recv,
        mark_price=_wire.positive(msg.mark_price, "mark price", "Binance markPriceUpdate"),
        index_price=msg.index_price or None,
        funding_rate=funding,
        ts_next_funding=ms_to_ns(msg.next_funding_time) if msg.next_funding_time else None,
    )


def _candle(msg: _Kline, instruments: InstrumentIndex, ts_recv: int) -> Candle:
    k = msg.bar
    inst = _wire.instrument(instruments, VENUE, k.symbol)
    if k.interval not in _INTERVAL_S:
        raise UnknownMessage(f"Binance kline interval {k.interval!r} is not handled")
    # COIN-M `v` counts contracts and `q` is base-asset volume (kline docs), so convert.
    return Candle(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ms_to_ns(k.open_time),
        ts_recv=ts_recv,
        interval_s=_INTERVAL_S[k.interval],
        open=k.open,
        high=k.high,
        low=k.low,
        close=k.close,
        volume=k.quote_volume,
        volume_usd=k.volume * inst.contract_size,
        closed=k.closed,
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return one openInterest request per instrument."""
    return [
        RestRequest(tag="open_interest", path="/dapi/v1/openInterest", params=(("symbol", i.symbol),)) for i in instruments
    ]


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse GET /dapi/v1/openInterest ({"openInterest": contracts, "symbol", "pair", "time"})."""
    if tag != "open_interest":
        raise UnknownMessage(f"Binance COIN-M poll tag {tag!r} is not handled")
    return _open_interest(_wire.decode(_OI_DATA, payload, "Binance openInterest"), instruments, ts_recv, Origin.POLL)


def _open_interest(
    msg: _OpenInterestData, instruments: InstrumentIndex, ts_recv: int, origin: Origin = Origin.POLL
) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, msg.symbol)
    return [
        _wire.open_interest(
            inst,
            raw_value=msg.open_interest,
            raw_unit=OpenInterestUnit.CONTRACTS,  # one-sided, in contracts of contractSize USD (docs)
            two_sided=False,
            ts_event=ms_to_ns(msg.time) if msg.time else ts_recv,
            ts_recv=ts_recv,
            origin=origin,
        )
    ]
