"""BitMEX instrument/active: the USD-valued contracts liqwatch tracks, and the venue's timestamps (used by `venues.bitmex`)."""

from __future__ import annotations

from liqwatch.errors import ParseError
from liqwatch.model import ContractType, Instrument
from liqwatch.model.instruments import USD_LIKE
from liqwatch.model.time import iso_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._bitmex_wire import _INSTRUMENTS, _InstrumentRow
from liqwatch.venues._spec import RestRequest

VENUE = "bitmex"
_SETTLE = {"XBt": ("XBT", 1e8), "XBT": ("XBT", 1e8), "USDt": ("USDT", 1e6), "USDT": ("USDT", 1e6)}
_COIN = {"XBT": "BTC"}


def _ts(text: str) -> int:
    """Parse a BitMEX ISO timestamp, mapping a bad one to `ParseError`."""
    try:
        return iso_to_ns(text)
    except ValueError:
        raise ParseError(f"malformed BitMEX timestamp {text[:40]!r}") from None


def instrument_requests() -> list[RestRequest]:
    """Return the active-instruments request."""
    return [RestRequest(tag="instruments", path="/api/v1/instrument/active")]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse GET /api/v1/instrument/active: USD-quoted perpetuals (FFWCSX) and futures (FFCCSX)."""
    rows = _wire.decode(_INSTRUMENTS, payload, "BitMEX instrument/active")
    return _wire.each_entry(VENUE, rows, _instrument)


def _instrument(row: _InstrumentRow) -> Instrument | None:
    if row.typ not in ("FFWCSX", "FFCCSX") or not row.underlying or not row.quote_currency:
        return None  # indices, spot, options, or an update row without the spec
    quote = row.quote_currency.upper()
    settle = _SETTLE.get(row.settle_currency or "")
    if quote not in USD_LIKE or settle is None or not row.multiplier:
        return None  # XBT- or EUR-quoted: no USD notional without another price
    if row.is_inverse:
        if not row.underlying_to_settle:
            return None
        kind, size = ContractType.INVERSE, row.multiplier / row.underlying_to_settle  # XBTUSD: 1 USD
    elif row.is_quanto:
        kind, size = ContractType.QUANTO, row.multiplier / settle[1]  # settle coin per price point
    elif row.underlying_to_position:
        kind, size = ContractType.LINEAR, 1.0 / row.underlying_to_position  # XBTUSDT: 1e-6 XBT
    else:
        return None
    if size <= 0:
        return None
    expiry = _ts(row.expiry) if row.typ == "FFCCSX" and row.expiry else None
    return _wire.make_instrument(
        venue=VENUE,
        symbol=row.symbol,
        base=_COIN.get(row.underlying, row.underlying),
        quote=quote,
        settle=settle[0],
        contract_type=kind,
        contract_size=size,
        ts_expiry=expiry,
        category=kind.value,
        active=row.state in (None, "Open"),
    )
