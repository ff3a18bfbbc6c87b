"""liqwatch: a self-hosted monitor of crypto-derivatives liquidations and open interest."""

from liqwatch.api import Liqwatch, open
from liqwatch.errors import (
    ConfigError,
    ConnectionLost,
    LiqwatchError,
    ParseError,
    RateLimited,
    StorageError,
    UnknownInstrument,
    UnknownMessage,
    VenueError,
)
from liqwatch.model import (
    Candle,
    ContractType,
    Event,
    FeedStatus,
    Instrument,
    InstrumentIndex,
    Liquidation,
    MarkPrice,
    OpenInterest,
    PositionSide,
)
from liqwatch.storage import open_store

__version__ = "0.1.0"

__all__ = [
    "Candle",
    "ConfigError",
    "ConnectionLost",
    "ContractType",
    "Event",
    "FeedStatus",
    "Instrument",
    "InstrumentIndex",
    "Liquidation",
    "Liqwatch",
    "LiqwatchError",
    "MarkPrice",
    "OpenInterest",
    "ParseError",
    "PositionSide",
    "RateLimited",
    "StorageError",
    "UnknownInstrument",
    "UnknownMessage",
    "VenueError",
    "__version__",
    "open",
    "open_store",
]
