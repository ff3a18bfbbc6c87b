"""Binance USD-M futures (`fapi`): forceOrder, markPrice and kline streams; open interest by REST poll.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
Since 2026-04-23 market streams live under `/market`: the legacy `/ws` path acks subscriptions and then
sends nothing (shared/docs/venues.md §1), so the URL below is `/market/stream`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
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
from liqwatch.model.time import NS_PER_MS, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="binance-usdm",
    title="Binance USD-M",
    recorded_prefixes=("BINANCE_FUTURES",),
    ws_url="wss://fstream.binance.com/market/stream",
    rest_url="https://fapi.binance.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=False,
    coverage_note="sampled: at most one liquidation per symbol per second is published (totals are lower bounds)",
    oi_origin=Origin.POLL,
    oi_poll_interval_s=60.0,
    heartbeat_interval_s=None,  # the server pings; aiohttp answers at the protocol level
    stale_after_s=120.0,
    max_streams_per_connection=200,
    docs_url="https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Liquidation-Order-Streams",
)
VENUE = SPEC.name


class _Order(msgspec.Struct, frozen=True, gc=False):
    """`o` of a forceOrder event (Liquidation-Order-Streams)."""

    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    quantity: float = msgspec.field(name="q")
    price: float = msgspec.field(name="p")
    average_price: float = msgspec.field(name="ap", default=0.0)
    filled_quantity: float = msgspec.field(name="z", default=0.0)
    trade_time: int = msgspec.field(name="T", default=0)


class _ForceOrder(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="forceOrder"):
    """forceOrder stream payload."""

    event_time: int = msgspec.field(name="E")
    order: _Order = msgspec.field(name="o")


class _MarkPriceUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="markPriceUpdate"):
    """markPrice stream payload (Mark-Price-Stream)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: float = msgspec.field(name="p")
    index_price: float | None = msgspec.field(name="i", default=None)
    funding_rate: float | None = msgspec.field(name="r", default=None)
    next_funding_time: int = msgspec.field(name="T", default=0)


class _KlineBar(msgspec.Struct, frozen=True, gc=False):
    open_time: int = msgspec.field(name="t")
    symbol: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    open: float = msgspec.field(name="o")
    close: float = msgspec.field(name="c")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    volume: float = msgspec.field(name="v")
    quote_volume: float = msgspec.field(name="q")
    closed: bool = msgspec.field(name="x")


class _Kline(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="kline"):
    """kline stream payload (Kline-Candlestick-Streams)."""

    event_time: int = msgspec.field(name="E")
    bar: _KlineBar = msgspec.field(name="k")


_Payload = _ForceOrder | _MarkPriceUpdate | _Kline


class _Combined(msgspec.Struct, frozen=True, gc=False):
    """The `/stream` wrapper: {"stream": name, "data": payload}; `stream` is not decoded (the payload is tagged)."""

    data: _Payload | list[_MarkPriceUpdate]


_EMPTY = msgspec.Raw(b"")


class _Control(msgspec.Struct, frozen=True, gc=False):
    """Subscribe acks {"result": null, "id": 1}, errors, and REST open-interest bodies."""

    result: msgspec.Raw = _EMPTY
    id: int | None = None
    error: msgspec.Raw = _EMPTY
    e: str | None = None
    stream: str | None = None
    data: msgspec.Raw = _EMPTY
    symbol: str | None = None
    open_interest: float | None = msgspec.field(name="openInterest", default=None)
    time: int | None = None


class _OpenInterestData(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    open_interest: float = msgspec.field(name="openInterest")
    time: int | None = None


_COMBINED = msgspec.json.Decoder(_Combined, strict=False)
_PAYLOAD = msgspec.json.Decoder(_Payload, strict=False)
_CONTROL = msgspec.json.Decoder(_Control, strict=False)
_OI_DATA = msgspec.json.Decoder(_OpenInterestData, strict=False)


class _SymbolInfo(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    base_asset: str = msgspec.field(name="baseAsset")
    quote_asset: str = msgspec.field(name="quoteAsset")
    margin_asset: str = msgspec.field(name="marginAsset")
    contract_type: str = msgspec.field(name="contractType", default="")
    delivery_date: int = msgspec.field(name="deliveryDate", default=0)
    status: str = "TRADING"


class _ExchangeInfo(msgspec.Struct, frozen=True, gc=False):
    """GET /fapi/v1/exchangeInfo."""

    symbols: list[_SymbolInfo]


_EXCHANGE_INFO = msgspec.json.Decoder(_ExchangeInfo, strict=False)
_PERPETUAL_DELIVERY_MS = 4_000_000_000_000  # Binance marks perpetuals with deliveryDate 2100-12-25


def instrument_requests() -> list[RestRequest]:
    """Return the exchangeInfo request."""
    return [RestRequest(tag="instruments", path="/fapi/v1/exchangeInfo")]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /fapi/v1/exchangeInfo: every USD-M contract is linear, one contract = one base unit."""
    info = _wire.decode(_EXCHANGE_INFO, payload, "Binance USD-M exchangeInfo")
    out = []
    for s in info.symbols:
        if s.contract_type not in ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER"):
            continue  # settling or delisted contracts have an empty contractType
        expiry = None if s.contract_type == "PERPETUAL" or s.delivery_date >= _PERPETUAL_DELIVERY_MS else ms_to_ns(s.delivery_date)
        out.append(
            _wire.make_instrument(
                venue=VENUE,
                symbol=s.symbol,
                base=s.base_asset,
                quote=s.quote_asset,
                settle=s.margin_asset,
                contract_type=ContractType.LINEAR,
                contract_size=1.0,
                ts_expiry=expiry,
                category="usdm",
                active=s.status == "TRADING",
            )
        )
    return out


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return combined-stream connections: all-market liquidation and mark streams, klines per symbol."""
    return combined_stream_connections(SPEC, instruments, channels, ws_url)


def combined_stream_connections(
    spec: VenueSpec, instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str
) -> list[WsConnection]:
    """Return SUBSCRIBE connections for a Binance futures venue (USD-M and COIN-M share the stream names)."""
    streams: list[str] = []
    if Channel.LIQUIDATIONS in channels:
        streams.append("!forceOrder@arr")
    if Channel.MARK_PRICE in channels:
        streams.append("!markPrice@arr@1s")
    if Channel.CANDLES in channels:
        streams.extend(f"{i.symbol.lower()}@kline_1m" for i in instruments)
    per = spec.max_streams_per_connection
    return [
        WsConnection(
            name=f"{spec.name}-{n}",
            url=ws_url,
            subscribe=(_wire.json_bytes({"method": "SUBSCRIBE", "params": streams[k : k + per], "id": n + 1}),),
        )
        for n, k in enumerate(range(0, len(streams), per))
    ]


def heartbeat(ts_ns: int) -> bytes | None:
    """Binance needs no client ping."""
    return None


def reply_to(frame: bytes) -> bytes | None:
    """Binance pings at the websocket protocol level only."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame (combined-stream wrapper, bare payload, control, or a REST openInterest body)."""
    try:
        combined = _COMBINED.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_other(frame, instruments, ts_recv)
    data = combined.data
    if type(data) is _ForceOrder:  # the hot path: one liquidation per frame
        return [_liquidation(data, instruments, ts_recv)]
    if isinstance(data, list):
        return [e for item in data for e in _event(item, instruments, ts_recv)]
    return _event(data, instruments, ts_recv)


def _parse_other(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    control = _wire.decode(_CONTROL, frame, "Binance USD-M frame")
    if control.e is not None:
        return _event(_wire.decode(_PAYLOAD, frame, f"Binance {control.e} event"), instruments, ts_recv)
    if control.stream is not None and control.data:
        if control.stream.endswith("@openInterest"):  # a REST poll result wrapped by a recorder
            return _open_interest(_wire.decode(_OI_DATA, control.data, "Binance openInterest"), instruments, ts_recv)
        if control.stream.endswith(("@forceOrder", "@forceOrder@arr", "@markPrice", "@kline_1m")):
            raise ParseError(f"malformed Binance {control.stream} frame: {bytes(control.data)[:200]!r}")
        raise UnknownMessage(f"Binance stream {control.stream!r} is not handled")
    if control.open_interest is not None and control.symbol is not None:
        return _open_interest(_wire.decode(_OI_DATA, frame, "Binance openInterest"), instruments, ts_recv)
    if control.error:
        raise ParseError(f"Binance returned an error: {bytes(control.error).decode(errors='replace')[:200]}")
    if control.id is not None:
        return []  # subscribe ack
    raise UnknownMessage(f"unknown Binance USD-M frame: {frame[:120]!r}")


def _event(payload: _Payload, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    if isinstance(payload, _ForceOrder):
        return [_liquidation(payload, instruments, ts_recv)]
    if isinstance(payload, _MarkPriceUpdate):
        return [_mark_price(payload, instruments, ts_recv)]
    return [_candle(payload, instruments, ts_recv)]


# `S` is the liquidation ORDER side: SELL closes a long (docs; shared/docs/venues.md §1).
_POSITION_SIDE = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}
_FILL, _ORDER, _LINEAR = PriceKind.FILL, PriceKind.ORDER, ContractType.LINEAR
_INF = float("inf")


def _liquidation(msg: _ForceOrder, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    # Kept flat on purpose: this is the per-frame hot path measured in bench/parse.py.
    o = msg.order
    inst = instruments.get(VENUE, o.symbol)
    if inst is None:
        raise UnknownInstrument(VENUE, o.symbol)
    side = _POSITION_SIDE.get(o.side)
    if side is None:
        raise ParseError(f"malformed Binance forceOrder: side S must be BUY or SELL, was {o.side!r}")
    # Use the filled quantity at the average fill price; fall back to the order's q × p.
    if o.filled_quantity > 0 and o.average_price > 0:
        qty, price, kind = o.filled_quantity, o.average_price, _FILL
    else:
        qty, price, kind = o.quantity, o.price, _ORDER
    if not (0.0 < qty < _INF and 0.0 < price < _INF):
        raise ParseError(f"malformed Binance forceOrder: quantity and price must be positive and finite, were {qty!r}, {price!r}")
    if inst.contract_type is _LINEAR:
        base = qty * inst.contract_size
        usd = base * price
    else:
        base, usd = _wire.base_and_usd(inst, qty, price)
    return Liquidation(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.base,
        ts_event=(o.trade_time or msg.event_time) * NS_PER_MS,
        ts_recv=ts_recv,
        position_side=side,
        venue_side=o.side,
        price=price,
        price_kind=kind,
        quantity=base,
        contracts=qty,
        notional_usd=usd,
        contract_type=inst.contract_type,
    )


def _mark_price(msg: _MarkPriceUpdate, instruments: InstrumentIndex, ts_recv: int) -> MarkPrice:
    inst = _wire.instrument(instruments, VENUE, msg.symbol)
    return MarkPrice(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ms_to_ns(msg.event_time),
        ts_recv=ts_recv,
        mark_price=_wire.positive(msg.mark_price, "mark price", "Binance markPriceUpdate"),
        index_price=msg.index_price or None,
        funding_rate=msg.funding_rate,
        ts_next_funding=ms_to_ns(msg.next_funding_time) if msg.next_funding_time else None,
    )


_INTERVAL_S = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400}


def _candle(msg: _Kline, instruments: InstrumentIndex, ts_recv: int) -> Candle:
    k = msg.bar
    inst = _wire.instrument(instruments, VENUE, k.symbol)
    if k.interval not in _INTERVAL_S:
        raise UnknownMessage(f"Binance kline interval {k.interval!r} is not handled")
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
        volume=k.volume,
        volume_usd=k.quote_volume if inst.quote_is_usd else None,
        closed=k.closed,
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return one openInterest request per instrument."""
    return [
        RestRequest(tag="open_interest", path="/fapi/v1/openInterest", params=(("symbol", i.symbol),)) for i in instruments
    ]


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse GET /fapi/v1/openInterest ({"openInterest": base units, "symbol", "time"})."""
    if tag != "open_interest":
        raise UnknownMessage(f"Binance USD-M poll tag {tag!r} is not handled")
    return _open_interest(_wire.decode(_OI_DATA, payload, "Binance openInterest"), instruments, ts_recv, Origin.POLL)


def _open_interest(
    msg: _OpenInterestData, instruments: InstrumentIndex, ts_recv: int, origin: Origin = Origin.POLL
) -> list[Event]:
    inst = _wire.instrument(instruments, VENUE, msg.symbol)
    return [
        _wire.open_interest(
            inst,
            raw_value=msg.open_interest,
            raw_unit=OpenInterestUnit.BASE,  # one-sided, base coin (docs)
            two_sided=False,
            ts_event=ms_to_ns(msg.time) if msg.time else ts_recv,
            ts_recv=ts_recv,
            origin=origin,
        )
    ]
