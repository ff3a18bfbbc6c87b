"""BitMEX: `liquidation`, `instrument` (OI, mark, funding) and `tradeBin1m` tables on one websocket.

Docs: https://www.bitmex.com/app/wsAPI (docs/venues.md §5).
The `liquidation` table lists RESTING liquidation orders, not fills, and has no timestamp
(ts_event = ts_recv). A pure parser cannot diff, so each orderID is counted once, at its `insert`
size (as cryptofeed); a `partial` (orders resting when a subscription starts, re-sent on reconnect)
is [] like `update`/`delete` (docs/venues-verification.md, issue 16).
Skipped on purpose, with a counted reason:
* quanto liquidations settled in XBT (ETHUSD…): their USD value needs the XBT/USD price, which
  a liquidation frame never carries, and a price is never guessed;
* contracts quoted in neither USD nor a USD stablecoin (XBT-quoted futures, XBTEUR): not loaded
  as instruments, so their frames raise UnknownInstrument.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstruments, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.instruments import USD_LIKE
from liqwatch.model.time import NS_PER_S, iso_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._bitmex_instruments import _SETTLE, _ts
from liqwatch.venues._bitmex_instruments import instrument_requests as instrument_requests
from liqwatch.venues._bitmex_instruments import parse_instruments as parse_instruments
from liqwatch.venues._bitmex_wire import (
    _BINS,
    _FRAME,
    _INSTRUMENTS,
    _LIQUIDATION_FRAME,
    _LIQUIDATIONS,
    _BinRow,
    _Frame,
    _InstrumentRow,
    _LiquidationRow,
    _Request,
)
from liqwatch.venues._spec import RestRequest, VenueSpec, WsConnection

SPEC = VenueSpec(
    name="bitmex",
    title="BitMEX",
    recorded_prefixes=("BITMEX",),
    ws_url="wss://ws.bitmex.com/realtime",
    rest_url="https://www.bitmex.com",
    channels=frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE, Channel.CANDLES}),
    liquidations_complete=False,
    coverage_note=(
        "resting liquidation orders counted once at their inserted size and order price (not fills); "
        "XBT-settled quanto contracts (ETHUSD…) are not counted"
    ),
    oi_origin=Origin.STREAM,
    heartbeat_interval_s=5.0,  # client sends text `ping`, server answers `pong`
    stale_after_s=30.0,
    max_streams_per_connection=100,  # topics per subscribe message
    docs_url="https://www.bitmex.com/app/wsAPI",
)
VENUE = SPEC.name

_FUNDING_EPOCH_NS = iso_to_ns("2000-01-01T00:00:00Z")  # fundingInterval "2000-01-01T08:00:00Z" = 8 h


def ws_connections(instruments: Sequence[Instrument], channels: frozenset[Channel], ws_url: str) -> list[WsConnection]:
    """Return one connection subscribing each instrument's liquidation / instrument / tradeBin1m topics."""
    tables: list[str] = []
    if Channel.LIQUIDATIONS in channels:
        tables.append("liquidation")
    if channels & {Channel.OPEN_INTEREST, Channel.MARK_PRICE}:
        tables.append("instrument")
    if Channel.CANDLES in channels:
        tables.append("tradeBin1m")
    topics = [f"{t}:{i.symbol}" for t in tables for i in instruments] if instruments else tables
    per = SPEC.max_streams_per_connection
    messages = tuple(_wire.json_bytes({"op": "subscribe", "args": topics[k : k + per]}) for k in range(0, len(topics), per))
    return [WsConnection(name=f"{VENUE}-0", url=ws_url, subscribe=messages)] if messages else []


def heartbeat(ts_ns: int) -> bytes | None:
    """Return the text `ping` BitMEX expects when the link is quiet."""
    return b"ping"


def reply_to(frame: bytes) -> bytes | None:
    """BitMEX never pings the client."""
    return None


def parse_frame(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse one table push; `pong`, welcome and subscribe acks → []."""
    if not frame.startswith(b'{"table":"liquidation"'):  # as BitMEX writes it (a failed typed decode costs ~10k instructions)
        return _parse_general(frame, instruments, ts_recv)
    try:  # the hot path: a liquidation table push in one decode; any other frame takes the general path
        msg = _LIQUIDATION_FRAME.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        return _parse_general(frame, instruments, ts_recv)
    if (action := msg.action) == "insert":  # the common case first
        return out if (out := _liquidations_flat(msg.data, instruments, ts_recv)) is not None else _parse_general(frame, instruments, ts_recv)
    if action == "update" or action == "delete" or action == "partial":
        return []  # counted once, at insert; a partial lists orders resting before the subscription
    return _parse_general(frame, instruments, ts_recv)


_SIDE: dict[str | None, tuple[PositionSide, str]] = {"Sell": (PositionSide.LONG, "Sell"), "Buy": (PositionSide.SHORT, "Buy")}
_ORDER, _INVERSE, _LINEAR, _INF = PriceKind.ORDER, ContractType.INVERSE, ContractType.LINEAR, float("inf")


def _liquidations_flat(rows: list[_LiquidationRow], instruments: InstrumentIndex, ts_recv: int) -> list[Event] | None:
    """`_liquidations`, flat, for rows that raise or skip nothing there; None sends the frame to the general path."""
    symbols = instruments.symbols(VENUE)
    out: list[Event] = []
    for row in rows:
        inst = symbols.get(row.symbol)
        sided = _SIDE.get(row.side)
        price, contracts = row.price or 0.0, row.leaves_qty or 0.0
        if inst is None or sided is None or not (0.0 < price < _INF and 0.0 < contracts < _INF):
            return None
        kind = inst.contract_type
        if kind is _INVERSE:
            usd = contracts * inst.contract_size
            base = usd / price
        elif kind is _LINEAR:
            base = contracts * inst.contract_size
            usd = base * price
        elif inst.settle in USD_LIKE:  # a USD-settled quanto
            base, usd = _wire.base_and_usd(inst, contracts, price, 1.0)
        else:
            return None  # an XBT-settled quanto: the general path skips it with its reason
        out.append(
            Liquidation(
                venue=inst.venue, symbol=inst.symbol, market=inst.market, coin=inst.base,
                ts_event=ts_recv, ts_recv=ts_recv,  # the table has no timestamp
                position_side=sided[0], venue_side=sided[1], price=price, price_kind=_ORDER,
                quantity=base, contracts=contracts, notional_usd=usd, contract_type=kind, venue_event_id=row.order_id,
            )
        )
    return out


def _parse_general(frame: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse any frame: control messages, every table and action, and every error and skip."""
    if frame.strip() == b"pong":
        return []
    msg = _wire.decode(_FRAME, frame, "BitMEX frame")
    if msg.table is None:
        if msg.error is not None:
            sub = msg.request.args if isinstance(msg.request, _Request) and msg.request.op == "subscribe" else msg.subscribe
            if sub is not None:  # {"status":400,"error":…,"request":{"op":"subscribe","args":…}}
                raise SubscribeRejected(VENUE, f"{msg.status}: {msg.error}" if msg.status else msg.error, ",".join(map(str, sub)) if isinstance(sub, list) else str(sub))
            raise ParseError(f"BitMEX returned an error: {msg.error[:200]}")
        if msg.info is not None or msg.success is not None:
            return []
        raise UnknownMessage(f"unknown BitMEX frame: {frame[:120]!r}")
    if msg.table == "liquidation":
        return _liquidations(msg, instruments, ts_recv)
    if msg.table in ("instrument", "funding"):  # funding rows are instrument-shaped: symbol, fundingRate, …
        rows = _wire.decode(_INSTRUMENTS, msg.data, f"BitMEX {msg.table} table")
        return _instrument_events(rows, instruments, ts_recv, Origin.STREAM)
    if msg.table == "tradeBin1m":
        return _candles(_wire.decode(_BINS, msg.data, "BitMEX tradeBin1m table"), instruments, ts_recv)
    raise UnknownMessage(f"BitMEX table {msg.table!r} is not handled")


def _liquidations(msg: _Frame, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    rows = _wire.decode(_LIQUIDATIONS, msg.data, "BitMEX liquidation table")
    if msg.action in ("update", "delete", "partial"):
        return []  # counted once, at insert; a partial lists orders resting before the subscription
    if msg.action != "insert":
        raise ParseError(f"malformed BitMEX liquidation table: action {msg.action!r}")
    out: list[Event] = []
    skipped, unknown = "", list[str]()
    for row in rows:
        if (inst := instruments.get(VENUE, row.symbol)) is None:
            unknown.append(row.symbol)  # a frame lists several symbols: keep the known ones
            continue
        # `side` is the liquidation ORDER side: Sell closes a long (docs; docs/venues.md §5, §13.1).
        if row.side == "Sell":
            side = PositionSide.LONG
        elif row.side == "Buy":
            side = PositionSide.SHORT
        else:
            raise ParseError(f"malformed BitMEX liquidation: side must be Buy or Sell, was {row.side!r}")
        price = _wire.positive(row.price or 0.0, "price", "BitMEX liquidation")
        contracts = _wire.positive(row.leaves_qty or 0.0, "leavesQty", "BitMEX liquidation")
        settle_usd = 1.0 if inst.settle in USD_LIKE else None
        if inst.contract_type is ContractType.QUANTO and settle_usd is None:
            skipped = f"BitMEX {inst.symbol} is quanto settled in {inst.settle}: no {inst.settle}/USD price in a liquidation frame"
            continue
        base, usd = _wire.base_and_usd(inst, contracts, price, settle_usd)
        out.append(
            _wire.liquidation(
                inst,
                ts_event=ts_recv,  # the table has no timestamp
                ts_recv=ts_recv,
                position_side=side,
                venue_side=row.side,
                price=price,
                price_kind=PriceKind.ORDER,
                quantity=base,
                contracts=contracts,
                notional_usd=usd,
                venue_event_id=row.order_id,
            )
        )
    if unknown:
        raise UnknownInstruments(VENUE, unknown, out)
    if not out and skipped:
        raise UnknownMessage(skipped)
    return out


def _instrument_events(
    rows: Sequence[_InstrumentRow], instruments: InstrumentIndex, ts_recv: int, origin: Origin
) -> list[Event]:
    """Return OI and mark/funding events from instrument rows; rows of unloaded symbols are dropped."""
    xbt_usd = next((r.mark_price for r in rows if r.symbol == "XBTUSD" and r.mark_price), None)
    out: list[Event] = []
    unknown: list[str] = []
    skipped = ""
    for row in rows:
        wants_mark = row.mark_price is not None or row.funding_rate is not None
        if row.symbol.startswith(".") or not (wants_mark or row.open_interest is not None):
            continue  # an index, or an update of fields we do not keep
        if (inst := instruments.get(VENUE, row.symbol)) is None:
            unknown.append(row.symbol)
            continue
        ts_event = _ts(row.timestamp) if row.timestamp else ts_recv
        if wants_mark:
            out.append(_mark(row, inst, ts_event, ts_recv))
        if row.open_interest is not None:
            oi = _open_interest(row, inst, ts_event, ts_recv, origin, xbt_usd)
            if isinstance(oi, str):
                skipped = oi
            else:
                out.append(oi)
    if unknown:
        raise UnknownInstruments(VENUE, unknown, out)
    if not out and skipped:
        raise UnknownMessage(skipped)
    return out


def _mark(row: _InstrumentRow, inst: Instrument, ts_event: int, ts_recv: int) -> MarkPrice:
    interval = row.funding_interval
    return _wire.mark_price(
        inst,
        ts_event=ts_event,
        ts_recv=ts_recv,
        mark_price=row.mark_price,
        index_price=row.settle_price_estimate,  # indicativeSettlePrice: the index a perp settles to
        funding_rate=row.funding_rate,
        funding_interval_s=(_ts(interval) - _FUNDING_EPOCH_NS) // NS_PER_S if interval else None,
        ts_next_funding=_ts(row.funding_timestamp) if row.funding_timestamp else None,
    )


def _open_interest(
    row: _InstrumentRow, inst: Instrument, ts_event: int, ts_recv: int, origin: Origin, xbt_usd: float | None
) -> OpenInterest | str:
    """Return one-sided OI (BitMEX counts one side), or the reason it cannot be converted."""
    oi = row.open_interest or 0.0
    price = row.mark_price
    scale = _SETTLE.get(inst.settle, ("", 0.0))[1]
    settle_value = (
        row.open_value / scale if row.open_value is not None and scale else None
    )  # openValue: minor units
    if inst.contract_type is ContractType.INVERSE:
        usd: float | None = oi * inst.contract_size
        if price:
            base = oi * inst.contract_size / price
        elif settle_value is not None and inst.settle == "XBT":
            base = settle_value  # XBt value of the USD contracts at mark
        else:
            return f"BitMEX {inst.symbol} openInterest without markPrice or openValue"
    elif inst.contract_type is ContractType.LINEAR:
        base = oi * inst.contract_size
        usd = base * price if price else (settle_value if inst.settle in USD_LIKE else None)
    else:
        settle_usd = 1.0 if inst.settle in USD_LIKE else xbt_usd
        if not price or settle_usd is None:
            return f"BitMEX quanto {inst.symbol} openInterest needs its markPrice and the XBTUSD mark in the same frame"
        usd = (settle_value if settle_value is not None else oi * inst.contract_size * price) * settle_usd
        base = usd / price
    reference = price or (usd / base if usd and base else None)
    return OpenInterest(
        venue=VENUE,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ts_event,
        ts_recv=ts_recv,
        open_interest=base,
        open_interest_usd=usd,
        reference_price=reference,
        raw_value=oi,
        raw_unit=OpenInterestUnit.CONTRACTS,
        raw_two_sided=False,
        origin=origin,
    )


def _candles(rows: list[_BinRow], instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Build one candle per row; rows of unloaded symbols are counted (UnknownInstruments), the others kept."""
    return _wire.keep_known(VENUE, rows, lambda r: [_candle(r, _wire.instrument(instruments, VENUE, r.symbol), ts_recv)])


def _candle(row: _BinRow, inst: Instrument, ts_recv: int) -> Candle:
    if row.home_notional is not None:
        volume = row.home_notional
    elif inst.contract_type is ContractType.LINEAR:
        volume = row.volume * inst.contract_size
    else:
        raise ParseError(f"malformed BitMEX tradeBin1m: {inst.symbol} bar without homeNotional")
    return _wire.candle(
        inst,
        ts_event=_ts(row.timestamp) - 60 * NS_PER_S,  # bins are stamped with their close time
        ts_recv=ts_recv,
        interval_s=60,
        open=row.open,
        high=row.high,
        low=row.low,
        close=row.close,
        volume=volume,
        volume_usd=row.foreign_notional if inst.quote_is_usd else None,
        closed=True,
    )


def poll_requests(instruments: Sequence[Instrument]) -> list[RestRequest]:
    """Return nothing: OI streams on the `instrument` table."""
    return []


def parse_poll(tag: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> list[Event]:
    """Parse GET /api/v1/instrument/active (tag `instruments`) into OI and mark/funding events."""
    if tag != "instruments":
        raise UnknownMessage(f"BitMEX poll tag {tag!r} is not handled")
    rows = _wire.decode(_INSTRUMENTS, payload, "BitMEX instrument/active")
    return _instrument_events(rows, instruments, ts_recv, Origin.POLL)
