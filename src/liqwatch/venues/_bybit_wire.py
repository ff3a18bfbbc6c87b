"""bybit wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.bybit`)."""

from __future__ import annotations

import msgspec

_EMPTY = msgspec.Raw(b"")


class _Envelope(msgspec.Struct, frozen=True):
    """Every websocket frame: data pushes, op acks/pongs, and REST bodies."""

    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    data: msgspec.Raw = _EMPTY
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None
    generated: bool = False
    ret_code: int | None = msgspec.field(name="retCode", default=None)
    legacy_ret_code: int | None = msgspec.field(name="ret_code", default=None)
    result: msgspec.Raw = _EMPTY
    req_id: str | None = None  # echoed from our subscribe request


class _AllLiquidation(msgspec.Struct, frozen=True, gc=False):
    """One item of `allLiquidation.{symbol}` data."""

    time: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    side: str = msgspec.field(name="S")
    size: float = msgspec.field(name="v")
    price: float = msgspec.field(name="p")


class _AllLiquidationFrame(msgspec.Struct, frozen=True, gc=False):
    """The hot frame, decoded in one pass: `_Envelope` with `topic` required and `data` typed as allLiquidation items.

    Every other field has `_Envelope`'s type, so this accepts no frame `_Envelope` + `_ALL_LIQUIDATION` reject.
    """

    topic: str
    data: list[_AllLiquidation]
    type: str | None = None
    ts: int | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None
    generated: bool = False
    ret_code: int | None = msgspec.field(name="retCode", default=None)
    legacy_ret_code: int | None = msgspec.field(name="ret_code", default=None)
    result: msgspec.Raw = _EMPTY


class _LegacyLiquidation(msgspec.Struct, frozen=True):
    """`liquidation.{symbol}` data: v5 (size, updatedTime) or pre-v5 (qty, time, REST id)."""

    symbol: str
    side: str
    price: float
    size: float | None = None
    qty: float | None = None
    updated_time: int | None = msgspec.field(name="updatedTime", default=None)
    time: int | None = None
    id: int | None = None


_Num = str | float | None


class _Ticker(msgspec.Struct, frozen=True):
    """`tickers.{symbol}` data; a delta carries only the fields that changed, futures send "" for funding."""

    symbol: str
    mark_price: _Num = msgspec.field(name="markPrice", default=None)
    index_price: _Num = msgspec.field(name="indexPrice", default=None)
    last_price: _Num = msgspec.field(name="lastPrice", default=None)
    bid: _Num = msgspec.field(name="bid1Price", default=None)
    ask: _Num = msgspec.field(name="ask1Price", default=None)
    funding_rate: _Num = msgspec.field(name="fundingRate", default=None)
    next_funding_time: _Num = msgspec.field(name="nextFundingTime", default=None)
    funding_interval_hour: _Num = msgspec.field(name="fundingIntervalHour", default=None)
    open_interest: _Num = msgspec.field(name="openInterest", default=None)
    open_interest_value: _Num = msgspec.field(name="openInterestValue", default=None)
    single_open_interest: _Num = msgspec.field(name="singleOpenInterest", default=None)
    single_open_interest_value: _Num = msgspec.field(name="singleOpenInterestValue", default=None)
    usd_index_price: _Num = msgspec.field(name="usdIndexPrice", default=None)


class _KlineBar(msgspec.Struct, frozen=True):
    start: int
    interval: str
    open: float
    close: float
    high: float
    low: float
    volume: float
    turnover: float
    confirm: bool


class _OpenInterestPoint(msgspec.Struct, frozen=True):
    open_interest: float = msgspec.field(name="openInterest")
    timestamp: int


class _OpenInterestResult(msgspec.Struct, frozen=True):
    """`result` of GET /v5/market/open-interest."""

    symbol: str
    points: list[_OpenInterestPoint] = msgspec.field(name="list")


class _InstrumentInfo(msgspec.Struct, frozen=True):
    symbol: str
    contract_type: str = msgspec.field(name="contractType")
    base_coin: str = msgspec.field(name="baseCoin")
    quote_coin: str = msgspec.field(name="quoteCoin")
    settle_coin: str = msgspec.field(name="settleCoin", default="")
    delivery_time: int = msgspec.field(name="deliveryTime", default=0)
    status: str = "Trading"


class _InstrumentsResult(msgspec.Struct, frozen=True):
    """`result` of GET /v5/market/instruments-info."""

    instruments: list[_InstrumentInfo] = msgspec.field(name="list")


class _Body(msgspec.Struct, frozen=True):
    """A v5 REST body: {"retCode", "retMsg", "result"}."""

    result: msgspec.Raw


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_ALL_LIQUIDATION = msgspec.json.Decoder(list[_AllLiquidation], strict=False)
_ALL_LIQUIDATION_FRAME = msgspec.json.Decoder(_AllLiquidationFrame, strict=False)
_LEGACY_LIQUIDATION = msgspec.json.Decoder(_LegacyLiquidation | list[_LegacyLiquidation], strict=False)
_TICKER = msgspec.json.Decoder(_Ticker, strict=False)
_KLINE = msgspec.json.Decoder(list[_KlineBar], strict=False)
_BODY = msgspec.json.Decoder(_Body, strict=False)
_OPEN_INTEREST = msgspec.json.Decoder(_OpenInterestResult, strict=False)
_INSTRUMENTS = msgspec.json.Decoder(_InstrumentsResult, strict=False)
