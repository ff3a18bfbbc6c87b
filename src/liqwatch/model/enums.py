"""Enumerations shared by every layer: venues' vocabulary normalised to one set of names."""

from __future__ import annotations

from enum import StrEnum


class PositionSide(StrEnum):
    """The side of the position that was force-closed."""

    LONG = "long"
    SHORT = "short"

    @property
    def order_side(self) -> OrderSide:
        """Return the side of the liquidation order (a long is closed by a sell)."""
        return OrderSide.SELL if self is PositionSide.LONG else OrderSide.BUY


class OrderSide(StrEnum):
    """The side of an order or of a trade's taker."""

    BUY = "buy"
    SELL = "sell"


class ContractType(StrEnum):
    """How a contract's size converts to base units and USD."""

    LINEAR = "linear"  # contract_size is in base units; notional = base × price
    INVERSE = "inverse"  # contract_size is in USD; base = usd / price
    QUANTO = "quanto"  # contract_size is settle-currency per point of price


class InstrumentKind(StrEnum):
    """Perpetual swap or dated future."""

    PERPETUAL = "perpetual"
    FUTURE = "future"


class PriceKind(StrEnum):
    """Which price a liquidation's notional was computed with."""

    FILL = "fill"  # average fill price (Binance `ap`, trade prints)
    BANKRUPTCY = "bankruptcy"  # bankruptcy price (Bybit `p`, OKX `bkPx`, HTX `price`)
    ORDER = "order"  # the liquidation order's limit price (BitMEX)


class Origin(StrEnum):
    """How a value reached us: pushed on a stream or polled over REST."""

    STREAM = "stream"
    POLL = "poll"
    IMPORT = "import"


class OpenInterestUnit(StrEnum):
    """The unit of a venue's raw open-interest value."""

    CONTRACTS = "contracts"
    BASE = "base"
    USD = "usd"


class FeedState(StrEnum):
    """A connection's state, stored as `FeedStatus` events so gaps are visible."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    STALE = "stale"
    DISCONNECTED = "disconnected"


class Channel(StrEnum):
    """Data channels a venue can provide."""

    LIQUIDATIONS = "liquidations"
    OPEN_INTEREST = "open_interest"
    MARK_PRICE = "mark_price"
    CANDLES = "candles"
