"""Binance COIN-M futures (`dapi`): forceOrder, markPrice and kline streams; open interest by REST poll.

Docs: https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
Every contract is inverse: sizes are contracts of `contractSize` USD (BTCUSD 100, others 10, from
/dapi/v1/exchangeInfo), so usd = z × contractSize and base = usd / ap.

URL: reports conflict on whether `dstream` took part in Binance's 2026 `/ws` → `/market` split (ccxt
PR #28091 says no; aggr PR #444 says `/ws` went silent and `/market/ws` works; docs/venues.md §2).
We use `/market/stream`; test both at deploy time, the silent-feed alert catches a wrong choice.

Open interest: /dapi/v1/openInterest gives contracts only, so the event carries the exact USD value
and a base amount only where a price is known (none in a bare REST body: base is NaN there).
Mark price: `!markPrice@arr@1s` is documented for USD-M only; `subscription_fallbacks` tells the Feed to swap it for
the documented `<pair>@markPrice@1s` streams when dstream refuses it or leaves it silent (docs/venues-verification.md).
Skipped on purpose: 24hrTicker, indexPriceUpdate and aggTrade frames (channels we do not collect).
"""

from __future__ import annotations

from collections.abc import Sequence

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
from liqwatch.venues._spec import SubscriptionFallback, VenueSpec

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


def _volumes(k: KlineBar, inst: Instrument) -> tuple[float, float | None]:
    """COIN-M `v` counts contracts and `q` is base-asset volume (kline docs)."""
    return k.quote_volume, k.volume * inst.contract_size


FAMILY = _binance.Family(
    SPEC,
    label="Binance COIN-M",
    rest_prefix="/dapi/v1",
    contract_type=ContractType.INVERSE,  # `contractSize` USD per contract
    category="coinm",
    oi_unit=OpenInterestUnit.CONTRACTS,  # one-sided, in contracts of contractSize USD (docs)
    volumes=_volumes,
)
instrument_requests = FAMILY.instrument_requests
parse_instruments = FAMILY.parse_instruments
ws_connections = FAMILY.ws_connections
heartbeat = FAMILY.heartbeat
reply_to = FAMILY.reply_to
poll_requests = FAMILY.poll_requests
parse_poll = FAMILY.parse_poll
_PAIRS_PER_REQUEST = 50


def subscription_fallbacks(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[SubscriptionFallback]:
    """`!markPrice@arr@1s` is documented for USD-M only: if dstream refuses it or leaves it silent, subscribe the
    documented `<pair>@markPrice@1s` (every symbol of a pair, perpetual and quarterlies, each second) instead."""
    if Channel.MARK_PRICE not in channels or not instruments:
        return []
    streams = [f"{p}@markPrice@1s" for p in sorted({i.symbol.partition("_")[0].lower() for i in instruments})]
    per = _PAIRS_PER_REQUEST
    instead = tuple(_binance.subscribe(streams[k : k + per], 100 + n) for n, k in enumerate(range(0, len(streams), per)))
    mark = _binance.MARK_PRICE_REQUEST_ID
    return [
        SubscriptionFallback(
            connection=f"{VENUE}-0", message=_binance.subscribe([_binance.MARK_PRICE_STREAM], mark), request=str(mark),
            channel=Channel.MARK_PRICE, silent_after_s=30.0, instead=instead,
            undo=_binance.subscribe([_binance.MARK_PRICE_STREAM], 99, "UNSUBSCRIBE"),
            detail=f"{_binance.MARK_PRICE_STREAM} → {len(streams)} per-pair <pair>@markPrice@1s streams",
        )
    ]


class _MarkPriceUpdate(msgspec.Struct, frozen=True, gc=False, tag_field="e", tag="markPriceUpdate"):
    """markPrice stream payload; delivery contracts send `"r": ""` and `"T": 0` (Mark-Price-Stream)."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: float = msgspec.field(name="p")
    index_price: float | None = msgspec.field(name="i", default=None)
    funding_rate: str = msgspec.field(name="r", default="")
    next_funding_time: int = msgspec.field(name="T", default=0)


_Payload = ForceOrder | _MarkPriceUpdate | Kline


class _Combined(msgspec.Struct, frozen=True, gc=False):
    """The `/stream` wrapper: {"stream": name, "data": payload}; `stream` is required (a frame without it is control)."""

    stream: str
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
    return _event(_wire.decode(_PAYLOAD, frame, "Binance COIN-M event"), instruments, ts_recv)


def _event(payload: _Payload, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    if isinstance(payload, ForceOrder):
        return [_liquidation(payload, instruments, ts_recv)]
    if isinstance(payload, _MarkPriceUpdate):
        return [_mark_price(payload, instruments, ts_recv)]
    return [FAMILY.candle(payload, instruments, ts_recv)]


_POSITION_SIDE = _binance.POSITION_SIDE
_FILL, _ORDER, _INVERSE = PriceKind.FILL, PriceKind.ORDER, ContractType.INVERSE
_INF = float("inf")


def _liquidation(msg: ForceOrder, instruments: InstrumentIndex, ts_recv: int) -> Liquidation:
    """One forceOrder → Liquidation, kept flat: it is the per-frame hot path (bench/instructions.py).

    `S` is the ORDER side: SELL closes a long (venues.md §2). Filled contracts at the average fill price, else the
    order's q at p. Inverse: usd = contracts × contractSize, base = usd / price.
    """
    o = msg.order
    inst = instruments.symbols(VENUE).get(o.symbol)
    if inst is None:
        raise UnknownInstrument(VENUE, o.symbol)
    side = _POSITION_SIDE[o.side]
    if o.filled_quantity > 0 and o.average_price > 0:
        contracts, price, kind = o.filled_quantity, o.average_price, _FILL
    else:
        contracts, price, kind = o.quantity, o.price, _ORDER
    if not 0.0 < contracts < _INF:
        raise ParseError(f"malformed Binance forceOrder: quantity must be a positive finite number, was {contracts!r}")
    if not 0.0 < price < _INF:
        raise ParseError(f"malformed Binance forceOrder: price must be a positive finite number, was {price!r}")
    if inst.contract_type is _INVERSE:
        usd = contracts * inst.contract_size
        base = usd / price
    else:
        base, usd = _wire.base_and_usd(inst, contracts, price)
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
