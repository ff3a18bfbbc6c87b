"""Binance USD-M futures (`fapi`): forceOrder, markPrice and kline streams; open interest by REST poll.

Docs: https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams
Since 2026-04-23 market streams live under `/market`: the legacy `/ws` path acks subscriptions and then
sends nothing (docs/venues.md §1), so the URL below is `/market/stream`.
"""

from __future__ import annotations

import msgspec

from liqwatch.errors import ParseError, UnknownInstrument
from liqwatch.model import (
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    Liquidation,
    MarkPrice,
    OpenInterestUnit,
    Origin,
    PriceKind,
)
from liqwatch.model.time import NS_PER_MS, ms_to_ns
from liqwatch.venues import _binance, _wire
from liqwatch.venues._binance import ForceOrder, Kline, KlineBar
from liqwatch.venues._spec import VenueSpec

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




def _volumes(k: KlineBar, inst: Instrument) -> tuple[float, float | None]:
    """USD-M `v` is base-asset volume and `q` quote-asset volume (kline docs)."""
    return k.volume, k.quote_volume if inst.quote_is_usd else None


FAMILY = _binance.Family(
    SPEC,
    label="Binance USD-M",
    rest_prefix="/fapi/v1",
    contract_type=ContractType.LINEAR,
    category="usdm",
    oi_unit=OpenInterestUnit.BASE,  # one-sided, base coin (docs)
    volumes=_volumes,
)
instrument_requests = FAMILY.instrument_requests
parse_instruments = FAMILY.parse_instruments  # every USD-M contract is linear, one contract = one base unit
ws_connections = FAMILY.ws_connections
heartbeat = FAMILY.heartbeat
reply_to = FAMILY.reply_to
poll_requests = FAMILY.poll_requests
parse_poll = FAMILY.parse_poll


class _MarkPriceUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="markPriceUpdate"):
    """markPrice stream payload (Mark-Price-Stream)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: float = msgspec.field(name="p")
    index_price: float | None = msgspec.field(name="i", default=None)
    funding_rate: float | None = msgspec.field(name="r", default=None)
    next_funding_time: int = msgspec.field(name="T", default=0)


_Payload = ForceOrder | _MarkPriceUpdate | Kline


class _Combined(msgspec.Struct, frozen=True, gc=False):
    """The `/stream` wrapper: {"stream": name, "data": payload}; `stream` is not decoded (the payload is tagged)."""

    data: _Payload | list[_MarkPriceUpdate]


_COMBINED = msgspec.json.Decoder(_Combined, strict=False)
_PAYLOAD = msgspec.json.Decoder(_Payload, strict=False)


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one frame (combined-stream wrapper, bare payload, control, or a REST openInterest body)."""
    try:
        combined = _COMBINED.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return FAMILY.parse_control(frame, instruments, ts_recv, lambda f: _payload(f, instruments, ts_recv))
    data = combined.data
    if type(data) is ForceOrder:  # the hot path: one liquidation per frame
        return [_liquidation(data, instruments, ts_recv)]
    if isinstance(data, list):
        return _wire.keep_known(VENUE, data, lambda item: _event(item, instruments, ts_recv))  # !markPrice@arr
    return _event(data, instruments, ts_recv)


def _payload(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    return _event(_wire.decode(_PAYLOAD, frame, "Binance USD-M event"), instruments, ts_recv)


def _event(payload: _Payload, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    if isinstance(payload, ForceOrder):
        return [_liquidation(payload, instruments, ts_recv)]
    if isinstance(payload, _MarkPriceUpdate):
        return [_mark_price(payload, instruments, ts_recv)]
    return [FAMILY.candle(payload, instruments, ts_recv)]


_POSITION_SIDE = _binance.POSITION_SIDE
_FILL, _ORDER, _LINEAR = PriceKind.FILL, PriceKind.ORDER, ContractType.LINEAR
_INF = float("inf")


def _liquidation(msg: ForceOrder, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    # Kept flat on purpose: this is the per-frame hot path measured in bench/parse.py.
    o = msg.order
    inst = instruments.symbols(VENUE).get(o.symbol)
    if inst is None:
        raise UnknownInstrument(VENUE, o.symbol)
    side = _POSITION_SIDE[o.side]  # `S` is decoded as Literal["SELL", "BUY"]: anything else fails to decode
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
