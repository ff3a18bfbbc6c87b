"""Deribit public/get_instruments: the futures and perpetuals liqwatch tracks (used by `venues.deribit`)."""

from __future__ import annotations

from liqwatch.model import ContractType, Instrument
from liqwatch.model.instruments import USD_LIKE
from liqwatch.model.time import ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._deribit_wire import _INSTRUMENTS, _InstrumentInfo
from liqwatch.venues._spec import RestRequest

VENUE = "deribit"
_PERPETUAL = "perpetual"


def instrument_requests() -> list[RestRequest]:
    """Return get_instruments requests for the futures of each settlement currency."""
    return [
        RestRequest(
            tag="instruments",
            path="/api/v2/public/get_instruments",
            params=(("currency", c), ("kind", "future"), ("expired", "false")),
        )
        for c in ("BTC", "ETH", "USDC")
    ]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse public/get_instruments: futures and perps (inverse in USD, linear USDC in base); options dropped."""
    return _wire.each_entry(VENUE, _wire.decode(_INSTRUMENTS, payload, "Deribit get_instruments").result, _instrument)


def _instrument(i: _InstrumentInfo) -> Instrument | None:
    if i.kind != "future" or i.contract_size <= 0:
        return None  # options, combos
    linear = "linear" in (i.instrument_type, i.future_type) or (i.settlement_currency or "") in USD_LIKE
    if not linear and i.quote_currency not in USD_LIKE:
        return None
    return _wire.make_instrument(
        venue=VENUE,
        symbol=i.instrument_name,
        base=i.base_currency,
        quote=i.quote_currency,
        settle=i.settlement_currency or (i.quote_currency if linear else i.base_currency),
        contract_type=ContractType.LINEAR if linear else ContractType.INVERSE,
        contract_size=i.contract_size,  # base per contract (linear), USD per contract (inverse)
        ts_expiry=None if i.settlement_period == _PERPETUAL else ms_to_ns(i.expiration_timestamp or 0) or None,
        category="linear" if linear else "inverse",
        active=i.is_active,
    )
