"""Bybit v5 instruments-info: the linear and inverse contracts liqwatch tracks (used by `venues.bybit`)."""

from __future__ import annotations

from liqwatch.model import ContractType, Instrument
from liqwatch.model.time import ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._bybit_wire import _BODY, _INSTRUMENTS, _InstrumentInfo
from liqwatch.venues._spec import RestRequest

VENUE = "bybit"

_CONTRACT_TYPES = {
    "LinearPerpetual": ContractType.LINEAR,
    "LinearFutures": ContractType.LINEAR,
    "InversePerpetual": ContractType.INVERSE,
    "InverseFutures": ContractType.INVERSE,
}


def instrument_requests() -> list[RestRequest]:
    """Return the instruments-info requests for the linear and the inverse category."""
    return [
        RestRequest(
            tag=f"instruments:{category}",
            path="/v5/market/instruments-info",
            params=(("category", category), ("limit", "1000")),
        )
        for category in ("linear", "inverse")
    ]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse /v5/market/instruments-info: linear contracts are 1 base unit, inverse contracts 1 USD."""
    body = _wire.decode(_BODY, payload, "Bybit instruments-info")
    return _wire.each_entry(VENUE, _wire.decode(_INSTRUMENTS, body.result, "Bybit instruments-info result").instruments, _instrument)


def _instrument(s: _InstrumentInfo) -> Instrument | None:
    contract_type = _CONTRACT_TYPES.get(s.contract_type)
    if contract_type is None:
        return None  # options and spot are not tracked
    future = s.contract_type.endswith("Futures") and s.delivery_time > 0
    return _wire.make_instrument(
        venue=VENUE,
        symbol=s.symbol,
        base=s.base_coin,
        quote=s.quote_coin,
        settle=s.settle_coin or s.quote_coin,
        contract_type=contract_type,
        contract_size=1.0,  # linear: qty is base coin; inverse: 1 contract = 1 USD (Bybit contract specs)
        ts_expiry=ms_to_ns(s.delivery_time) if future else None,
        category="inverse" if contract_type is ContractType.INVERSE else "linear",
        active=s.status == "Trading",
    )
