"""Helpers every venue module shares: decoding with the error contract, instrument lookup, unit conversion."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec

from liqwatch.errors import ParseError, UnknownInstrument, UnknownInstruments
from liqwatch.model import (
    Candle,
    ContractType,
    Event,
    Instrument,
    InstrumentIndex,
    InstrumentKind,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
    bounds,
    market_name,
)

T = TypeVar("T")


def decode(decoder: msgspec.json.Decoder[T], frame: bytes | str, what: str) -> T:
    """Decode a frame, mapping msgspec's errors to `ParseError` naming `what` was expected."""
    try:
        return decoder.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ParseError(f"malformed {what}: {exc}") from None


def instrument(instruments: InstrumentIndex, venue: str, symbol: str) -> Instrument:
    """Return the instrument or raise `UnknownInstrument` (never guess a contract size)."""
    found = instruments.get(venue, symbol)
    if found is None:
        raise UnknownInstrument(venue, symbol)
    return found


def keep_known(venue: str, items: Iterable[T], build: Callable[[T], Iterable[Event]]) -> list[Event]:
    """Build the events of every item of a multi-symbol frame, keeping those of known symbols.

    An item whose `build` raises `UnknownInstrument` is left out; if any was, this raises `UnknownInstruments`
    carrying the other items' events (`feeds.parse.safe_parse` keeps them and counts the unknown symbols).
    Any other error still rejects the whole frame.
    """
    out: list[Event] = []
    unknown: list[str] = []
    for item in items:
        try:
            out.extend(build(item))
        except UnknownInstruments as exc:
            out.extend(exc.events)
            unknown.extend(exc.symbols)
        except UnknownInstrument as exc:
            unknown.append(exc.symbol)
    if unknown:
        raise UnknownInstruments(venue, unknown, out)
    return out


class InstrumentList(list[Instrument]):
    """`parse_instruments`' result: the instruments, plus how many entries were skipped as bad and why (the first)."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0
        self.first_error = ""


_ENTRY_ERRORS = (
    ParseError, ValueError, TypeError, ArithmeticError, KeyError, IndexError, AttributeError, msgspec.MsgspecError,
    RecursionError, OSError,  # OSError: datetime.fromtimestamp of a 20-digit time (EOVERFLOW)
)


def each_entry(venue: str, entries: Iterable[T], build: Callable[[T], Instrument | None]) -> InstrumentList:
    """Build one `Instrument` per entry of an instruments list; a bad entry is skipped and counted, the rest loads.

    `build` returns None for an entry liqwatch does not track (options, spot). An entry is bad when `build` raises
    (a delivery date of 5,000 digits, an overflow, a wrong type) or its instrument is out of range
    (`liqwatch.model.bounds`: an expiry outside 2009..now+10y, a size that is not positive, control characters in a name).
    """
    out = InstrumentList()
    for n, entry in enumerate(entries):
        try:
            inst = build(entry)
            if inst is None:
                continue
            bad = bounds.problem(inst)
            if bad is not None:
                raise ParseError(bad)
        except _ENTRY_ERRORS as exc:
            out.skipped += 1
            if not out.first_error:
                out.first_error = f"{venue} instrument entry {n}: {type(exc).__name__}: {str(exc)[:200]}"
            continue
        out.append(inst)
    return out


def positive(value: float, field: str, what: str) -> float:
    """Return a finite, strictly positive value or raise `ParseError`."""
    if not (value > 0.0 and value < float("inf")):
        raise ParseError(f"malformed {what}: {field} must be a positive finite number, was {value!r}")
    return value


def base_and_usd(inst: Instrument, contracts: float, price: float, settle_usd: float | None = None) -> tuple[float, float]:
    """Convert a size in contracts at a price to (base units, USD notional).

    LINEAR: base = contracts × size, usd = base × price. INVERSE: usd = contracts × size,
    base = usd / price. QUANTO: settle = contracts × size × price; usd = settle × settle_usd
    (the settle currency's USD price, required), base = usd / price.

    Raises:
        ParseError: a QUANTO conversion without `settle_usd`.
    """
    if inst.contract_type is ContractType.LINEAR:
        base = contracts * inst.contract_size
        return base, base * price
    if inst.contract_type is ContractType.INVERSE:
        usd = contracts * inst.contract_size
        return usd / price, usd
    if settle_usd is None:
        raise ParseError(f"{inst.venue} {inst.symbol} is a quanto contract: its USD value needs the settle currency's price")
    usd = contracts * inst.contract_size * price * settle_usd
    return usd / price, usd


def open_interest(
    inst: Instrument,
    *,
    raw_value: float,
    raw_unit: OpenInterestUnit,
    two_sided: bool,
    ts_event: int,
    ts_recv: int,
    origin: Origin,
    price: float | None = None,
    usd: float | None = None,
) -> OpenInterest:
    """Build a one-sided `OpenInterest` in base units (and USD where a price or USD value is known)."""
    side_factor = 0.5 if two_sided else 1.0
    if raw_unit is OpenInterestUnit.BASE:
        base = raw_value * side_factor
    elif raw_unit is OpenInterestUnit.CONTRACTS:
        if inst.contract_type is ContractType.LINEAR:
            base = raw_value * inst.contract_size * side_factor
        elif price:
            base, _ = base_and_usd(inst, raw_value * side_factor, price)
        else:
            base = float("nan")
    else:  # USD
        base = raw_value * side_factor / price if price else float("nan")
    if usd is not None:
        usd_value: float | None = usd * side_factor
    elif raw_unit is OpenInterestUnit.USD:
        usd_value = raw_value * side_factor
    elif raw_unit is OpenInterestUnit.CONTRACTS and inst.contract_type is ContractType.INVERSE:
        usd_value = raw_value * inst.contract_size * side_factor
    elif price and base == base:
        usd_value = base * price
    else:
        usd_value = None
    if base != base and usd_value is not None and price:
        base = usd_value / price
    return OpenInterest(
        venue=inst.venue,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ts_event,
        ts_recv=ts_recv,
        open_interest=base,
        open_interest_usd=usd_value,
        reference_price=price,
        raw_value=raw_value,
        raw_unit=raw_unit,
        raw_two_sided=two_sided,
        origin=origin,
    )


def make_instrument(
    *,
    venue: str,
    symbol: str,
    base: str,
    quote: str,
    settle: str,
    contract_type: ContractType,
    contract_size: float,
    ts_expiry: int | None = None,
    category: str = "",
    active: bool = True,
) -> Instrument:
    """Build an `Instrument`, deriving its kind and normalised market name."""
    kind = InstrumentKind.FUTURE if ts_expiry else InstrumentKind.PERPETUAL
    return Instrument(
        venue=venue,
        symbol=symbol,
        market=market_name(base, quote, kind, ts_expiry),
        kind=kind,
        base=base,
        quote=quote,
        settle=settle,
        contract_type=contract_type,
        contract_size=contract_size,
        ts_expiry=ts_expiry,
        category=category,
        active=active,
    )


def json_bytes(obj: Any) -> bytes:
    """Encode a subscribe message (or any JSON value) to bytes."""
    return msgspec.json.encode(obj)


def liquidation(
    inst: Instrument,
    *,
    ts_event: int,
    ts_recv: int,
    position_side: PositionSide,
    venue_side: str,
    price: float,
    price_kind: PriceKind,
    quantity: float,
    contracts: float,
    notional_usd: float,
    venue_event_id: str | None = None,
) -> Liquidation:
    """Build a `Liquidation` of `inst` (venue, symbol, market, coin and contract type come from it)."""
    return Liquidation(
        venue=inst.venue,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ts_event,
        ts_recv=ts_recv,
        position_side=position_side,
        venue_side=venue_side,
        price=price,
        price_kind=price_kind,
        quantity=quantity,
        contracts=contracts,
        notional_usd=notional_usd,
        contract_type=inst.contract_type,
        venue_event_id=venue_event_id,
    )


def mark_price(
    inst: Instrument,
    *,
    ts_event: int,
    ts_recv: int,
    mark_price: float | None = None,
    index_price: float | None = None,
    funding_rate: float | None = None,
    funding_interval_s: int | None = None,
    ts_next_funding: int | None = None,
) -> MarkPrice:
    """Build a `MarkPrice` of `inst`."""
    return MarkPrice(
        venue=inst.venue,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ts_event,
        ts_recv=ts_recv,
        mark_price=mark_price,
        index_price=index_price,
        funding_rate=funding_rate,
        funding_interval_s=funding_interval_s,
        ts_next_funding=ts_next_funding,
    )


def candle(
    inst: Instrument,
    *,
    ts_event: int,
    ts_recv: int,
    interval_s: int,
    open: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    volume_usd: float | None,
    closed: bool,
) -> Candle:
    """Build a `Candle` of `inst` (`volume` in base units, `ts_event` the bar's open time)."""
    return Candle(
        venue=inst.venue,
        symbol=inst.symbol,
        market=inst.market,
        coin=inst.coin,
        ts_event=ts_event,
        ts_recv=ts_recv,
        interval_s=interval_s,
        open=open,
        high=high,
        low=low,
        close=close,
        volume=volume,
        volume_usd=volume_usd,
        closed=closed,
    )
