"""Model: the canonical data — instruments, typed frozen events and their enumerations, time, the range checks every
event passes (bounds) and event identity (identity).

The bottom room: imports nothing of liqwatch but errors.
"""

from liqwatch.model.enums import (
    Channel,
    ContractType,
    FeedState,
    InstrumentKind,
    OpenInterestUnit,
    OrderSide,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.model.events import (
    EVENT_TYPES,
    Candle,
    Event,
    FeedStatus,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Signal,
)
from liqwatch.model.instruments import Instrument, InstrumentIndex, market_name

__all__ = [
    "EVENT_TYPES",
    "Candle",
    "Channel",
    "ContractType",
    "Event",
    "FeedState",
    "FeedStatus",
    "Instrument",
    "InstrumentIndex",
    "InstrumentKind",
    "Liquidation",
    "MarkPrice",
    "OpenInterest",
    "OpenInterestUnit",
    "OrderSide",
    "Origin",
    "PositionSide",
    "PriceKind",
    "Signal",
    "market_name",
]
