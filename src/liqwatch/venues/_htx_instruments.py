"""HTX contract_info: the linear and inverse swaps and futures liqwatch tracks (used by `venues.htx`)."""

from __future__ import annotations

from liqwatch.model import ContractType, Instrument
from liqwatch.model.time import iso_to_ns, ms_to_ns
from liqwatch.venues import _wire
from liqwatch.venues._htx_wire import _CONTRACT_INFO, _ContractInfo
from liqwatch.venues._spec import RestRequest

VENUE = "htx"
_LINEAR, _SWAP, _FUTURES = "linear", "swap", "futures"  # categories


def instrument_requests() -> list[RestRequest]:
    """Return the contract-info requests of the three product lines."""
    return [
        RestRequest(tag="instruments", path="/linear-swap-api/v1/swap_contract_info", params=(("business_type", "all"),)),
        RestRequest(tag="instruments", path="/swap-api/v1/swap_contract_info"),
        RestRequest(tag="instruments", path="/api/v1/contract_contract_info"),
    ]


def parse_instruments(payload: bytes) -> list[Instrument]:
    """Parse a contract-info body: `BTC-USDT[-YYMMDD]` linear, `BTC-USD` inverse swap, `BTC200925` inverse future."""
    body = _wire.decode(_CONTRACT_INFO, payload, "HTX contract_info")
    return _wire.each_entry(VENUE, body.data, _instrument)


def _instrument(c: _ContractInfo) -> Instrument | None:
    if not c.contract_size > 0:
        return None
    parts = c.contract_code.split("-")
    perpetual = c.contract_type in ("", "swap") and c.business_type != "futures"
    if len(parts) == 1:
        category, quote, kind, perpetual = _FUTURES, "USD", ContractType.INVERSE, False
    elif parts[1] == "USD":
        category, quote, kind = _SWAP, "USD", ContractType.INVERSE
    else:
        category, quote, kind = _LINEAR, parts[1], ContractType.LINEAR
    return _wire.make_instrument(
        venue=VENUE,
        symbol=c.contract_code,
        base=c.symbol,
        quote=quote,
        settle=c.symbol if kind is ContractType.INVERSE else quote,
        contract_type=kind,
        contract_size=c.contract_size,
        ts_expiry=None if perpetual else _expiry(c),
        category=category,
        active=c.contract_status == 1,
    )


def _expiry(c: _ContractInfo) -> int | None:
    if c.delivery_time.isdigit():
        return ms_to_ns(int(c.delivery_time))
    d = c.delivery_date
    if len(d) == 8 and d.isdigit():  # HTX futures deliver at 08:00 UTC
        return iso_to_ns(f"{d[:4]}-{d[4:6]}-{d[6:]}T08:00:00Z")
    return None
