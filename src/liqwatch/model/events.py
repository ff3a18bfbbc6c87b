"""Normalised events: frozen, keyword-only, one vocabulary for every venue.

Every event carries `ts_event` (the venue's clock) and `ts_recv` (our receipt clock), both int
epoch nanoseconds. Quantities are in base units; USD values count USD stablecoins 1:1.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from liqwatch.model.enums import (
    ContractType,
    FeedState,
    OpenInterestUnit,
    OrderSide,
    Origin,
    PositionSide,
    PriceKind,
)


class _MarketEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type"):
    venue: str
    symbol: str  # venue-native
    market: str  # normalised, e.g. BTC-USDT-PERP
    coin: str  # base coin, e.g. BTC
    ts_event: int
    ts_recv: int


class Liquidation(_MarketEvent, frozen=True, kw_only=True, tag="liquidation"):
    """A forced close of a leveraged position.

    `position_side` is the side of the position that was liquidated; `venue_side` is the venue's own
    side field, verbatim, so the mapping can always be audited.
    """

    position_side: PositionSide
    venue_side: str
    price: float
    price_kind: PriceKind
    quantity: float  # base units
    contracts: float  # the venue's size, in its own unit
    notional_usd: float
    contract_type: ContractType
    venue_event_id: str | None = None

    @property
    def order_side(self) -> OrderSide:
        """Return the liquidation order's side (aggr's taker-direction view)."""
        return self.position_side.order_side


class OpenInterest(_MarketEvent, frozen=True, kw_only=True, tag="open_interest"):
    """Open interest of one contract, one-sided (longs = shorts), in base units and USD.

    `raw_value`/`raw_unit`/`raw_two_sided` keep what the venue said, so the normalisation can be audited.
    """

    open_interest: float  # base units, one side
    open_interest_usd: float | None  # at `reference_price`
    reference_price: float | None
    raw_value: float
    raw_unit: OpenInterestUnit
    raw_two_sided: bool
    origin: Origin


class MarkPrice(_MarketEvent, frozen=True, kw_only=True, tag="mark_price"):
    """Mark/index price and funding of one contract; any field the frame did not carry is None."""

    mark_price: float | None = None
    index_price: float | None = None
    funding_rate: float | None = None  # per funding interval, as a fraction
    funding_interval_s: int | None = None
    ts_next_funding: int | None = None


class Candle(_MarketEvent, frozen=True, kw_only=True, tag="candle"):
    """An OHLCV bar; `ts_event` is the bar's open time."""

    interval_s: int
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    volume_usd: float | None
    closed: bool


class FeedStatus(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type", tag="feed_status"):
    """A connection's state change, so gaps in the data are stored and shown."""

    venue: str
    connection_id: str
    state: FeedState
    detail: str
    ts_event: int
    ts_recv: int


class Signal(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type", tag="signal"):
    """A rule that fired on closed bars (analytics signals, level rules), stored with the inputs behind it.

    `kind` names the rule (e.g. `long-cluster`, `short-cluster`, `leverage-flush`, `oi-price-divergence`,
    `level-cross`, `zone-reclaim`, `zone-lost`, `close-below-prior-low`, `close-above-prior-high`);
    `venue` is `*` for cross-venue signals; `inputs` is a JSON object of the numbers that made it fire.
    """

    kind: str
    coin: str
    venue: str = "*"
    timeframe: str  # the window or bar the rule looked at, e.g. "1h", "1d"
    direction: str  # "bullish", "bearish" or "neutral"
    message: str
    inputs: str  # JSON object
    ts_event: int  # close time of the bar the rule was evaluated on
    ts_recv: int


Event: TypeAlias = Liquidation | OpenInterest | MarkPrice | Candle | FeedStatus
EVENT_TYPES: tuple[type[Event], ...] = (Liquidation, OpenInterest, MarkPrice, Candle, FeedStatus)
