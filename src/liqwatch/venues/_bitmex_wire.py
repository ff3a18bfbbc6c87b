"""bitmex wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.bitmex`)."""

from __future__ import annotations

from typing import Literal

import msgspec


class _Request(msgspec.Struct, frozen=True):
    """The echoed request of an error: {"op": "subscribe", "args": [...] or "topic"}."""

    op: str | None = None
    args: object = None


class _Frame(msgspec.Struct, frozen=True):
    """A table push {"table", "action", "data"} or a control message (info, success, error)."""

    table: str | None = None
    action: str = ""
    data: msgspec.Raw = msgspec.Raw(b"[]")
    info: str | None = None
    success: bool | None = None
    error: str | None = None
    status: int | None = None  # an error's HTTP-like status (400, 401, 429, …)
    request: _Request | str | None = None  # the request an error answers, echoed
    subscribe: str | None = None


class _LiquidationRow(msgspec.Struct, frozen=True, gc=False):
    order_id: str = msgspec.field(name="orderID")
    symbol: str = ""
    side: str | None = None
    price: float | None = None
    leaves_qty: float | None = msgspec.field(name="leavesQty", default=None)


class _LiquidationFrame(msgspec.Struct, frozen=True, gc=False):
    """The hot shape, a `liquidation` table push with its rows, in one decode (`bitmex.parse_frame`'s fast path).

    Every field `_Frame` decodes is typed here the same way or stricter, and the rows are `_LiquidationRow`, so a
    frame decodes here only if `_Frame` + `_LIQUIDATIONS` would decode it too, to the same values.
    """

    table: Literal["liquidation"]
    action: str
    data: list[_LiquidationRow]
    info: str | None = None
    success: bool | None = None
    error: str | None = None
    status: int | None = None
    request: _Request | str | None = None
    subscribe: str | None = None


class _InstrumentRow(msgspec.Struct, frozen=True):
    """A row of the `instrument` table / GET /api/v1/instrument/active; updates carry only changed fields."""

    symbol: str
    typ: str | None = None
    state: str | None = None
    underlying: str | None = None
    quote_currency: str | None = msgspec.field(name="quoteCurrency", default=None)
    settle_currency: str | None = msgspec.field(name="settlCurrency", default=None)
    expiry: str | None = None
    multiplier: float | None = None
    underlying_to_position: float | None = msgspec.field(name="underlyingToPositionMultiplier", default=None)
    underlying_to_settle: float | None = msgspec.field(name="underlyingToSettleMultiplier", default=None)
    is_quanto: bool | None = msgspec.field(name="isQuanto", default=None)
    is_inverse: bool | None = msgspec.field(name="isInverse", default=None)
    open_interest: float | None = msgspec.field(name="openInterest", default=None)
    open_value: float | None = msgspec.field(name="openValue", default=None)
    mark_price: float | None = msgspec.field(name="markPrice", default=None)
    settle_price_estimate: float | None = msgspec.field(name="indicativeSettlePrice", default=None)
    funding_rate: float | None = msgspec.field(name="fundingRate", default=None)
    funding_interval: str | None = msgspec.field(name="fundingInterval", default=None)
    funding_timestamp: str | None = msgspec.field(name="fundingTimestamp", default=None)
    timestamp: str | None = None


class _BinRow(msgspec.Struct, frozen=True):
    timestamp: str  # BitMEX labels a bin by its END time
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float  # contracts
    home_notional: float | None = msgspec.field(name="homeNotional", default=None)  # base units
    foreign_notional: float | None = msgspec.field(name="foreignNotional", default=None)  # quote units


_FRAME = msgspec.json.Decoder(_Frame)
_LIQUIDATIONS = msgspec.json.Decoder(list[_LiquidationRow])
_LIQUIDATION_FRAME = msgspec.json.Decoder(_LiquidationFrame)
_INSTRUMENTS = msgspec.json.Decoder(list[_InstrumentRow])
_BINS = msgspec.json.Decoder(list[_BinRow])
