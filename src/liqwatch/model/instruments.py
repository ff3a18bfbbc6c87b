"""Reference data: what a venue's symbol is, and how its contracts convert to base units and USD."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import msgspec

from liqwatch.model.enums import ContractType, InstrumentKind

USD_LIKE = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "USDE", "DAI", "TUSD", "USD1"})


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One tradable contract of one venue.

    `contract_size` is base units per contract for LINEAR, USD per contract for INVERSE and
    settle-currency per price point per contract for QUANTO.
    """

    venue: str
    symbol: str  # venue-native, exactly as the venue spells it on the wire
    market: str  # normalised: BTC-USDT-PERP, BTC-USD-PERP, BTC-USDT-250926
    kind: InstrumentKind
    base: str
    quote: str
    settle: str
    contract_type: ContractType
    contract_size: float
    ts_expiry: int | None = None
    category: str = ""  # venue routing class, e.g. Bybit "linear"/"inverse", OKX "SWAP"/"FUTURES"
    active: bool = True

    @property
    def coin(self) -> str:
        """Return the base coin (BTC for every BTC contract)."""
        return self.base

    @property
    def is_inverse(self) -> bool:
        """Return whether the contract is coin-margined and sized in USD."""
        return self.contract_type is ContractType.INVERSE

    @property
    def quote_is_usd(self) -> bool:
        """Return whether the quote currency is USD or a USD stablecoin (counted 1:1)."""
        return self.quote.upper() in USD_LIKE


def market_name(base: str, quote: str, kind: InstrumentKind, ts_expiry: int | None) -> str:
    """Return the normalised market name: BASE-QUOTE-PERP or BASE-QUOTE-YYMMDD for a dated future."""
    if kind is InstrumentKind.PERPETUAL or ts_expiry is None:
        return f"{base}-{quote}-PERP"
    from liqwatch.model.time import ns_to_datetime

    return f"{base}-{quote}-{ns_to_datetime(ts_expiry):%y%m%d}"


class InstrumentIndex:
    """Instruments of one or more venues, looked up by (venue, symbol)."""

    __slots__ = ("_by_venue",)

    def __init__(self, instruments: Iterable[Instrument] = ()) -> None:
        self._by_venue: dict[str, dict[str, Instrument]] = {}
        self.update(instruments)

    def update(self, instruments: Iterable[Instrument]) -> None:
        """Add or replace instruments."""
        for instrument in instruments:
            self._by_venue.setdefault(instrument.venue, {})[instrument.symbol] = instrument

    def get(self, venue: str, symbol: str) -> Instrument | None:
        """Return the instrument, or None when the symbol is unknown."""
        symbols = self._by_venue.get(venue)
        return symbols.get(symbol) if symbols is not None else None

    def symbols(self, venue: str) -> Mapping[str, Instrument]:
        """Return the live symbol → instrument map of a venue (later updates show through; one lookup on hot paths)."""
        return self._by_venue.setdefault(venue, {})

    def for_venue(self, venue: str) -> list[Instrument]:
        """Return every instrument of a venue."""
        return list(self._by_venue.get(venue, {}).values())

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_venue.values())

    def __iter__(self) -> Iterator[Instrument]:
        return (i for symbols in self._by_venue.values() for i in symbols.values())
