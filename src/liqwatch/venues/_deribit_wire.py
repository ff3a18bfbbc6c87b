"""deribit wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.deribit`)."""

from __future__ import annotations

from typing import Literal

import msgspec


class _Trade(msgspec.Struct, frozen=True, gc=False):
    trade_id: str
    instrument_name: str
    timestamp: int
    price: float
    amount: float  # USD for inverse futures and perps, base coin for linear ones
    direction: str  # the taker's side
    liquidation: str | None = None


class _Ticker(msgspec.Struct, frozen=True):
    """A ticker push, or one book summary of a `get_book_summary_by_*` REST response."""

    instrument_name: str
    open_interest: float | None = None  # USD for inverse, base coin for linear and options
    mark_price: float | None = None
    index_price: float | None = None
    funding_8h: float | None = None
    timestamp: int | None = None
    creation_timestamp: int | None = None


class _Chart(msgspec.Struct, frozen=True):
    tick: int  # bar open time, ms
    open: float
    high: float
    low: float
    close: float
    volume: float  # base coin
    cost: float | None = None  # quote currency (USD for inverse)


class _Params(msgspec.Struct, frozen=True):
    channel: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    type: str | None = None  # heartbeat notices: "heartbeat" or "test_request"


class _Envelope(msgspec.Struct, frozen=True):
    """A JSON-RPC notification (`method`, `params`) or a response (`id`, `result` / `error`)."""

    method: str | None = None
    params: _Params | None = None
    id: int | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: msgspec.Raw = msgspec.Raw(b"")


class _RpcError(msgspec.Struct, frozen=True):
    """A JSON-RPC error object: {"code": 11050, "message": "bad_request", "data": {"reason": …, "param": …}}."""

    code: int | None = None
    message: str = ""
    data: object = None


class _TradesParams(msgspec.Struct, frozen=True, gc=False):
    """`_Params` of a subscription push whose data is a list of trades."""

    channel: str
    data: list[_Trade]
    type: str | None = None


class _TradesEnvelope(msgspec.Struct, frozen=True, gc=False):
    """The hot shape, a subscription push of trades, in one decode (`deribit.parse_frame`'s fast path).

    Every field `_Envelope` decodes is typed here the same way or stricter, and the trades are `_Trade`, so a
    frame decodes here only if `_Envelope` + `_TRADES` would decode it too, to the same values.
    """

    method: Literal["subscription"]
    params: _TradesParams
    id: int | None = None
    result: msgspec.Raw = msgspec.Raw(b"")
    error: msgspec.Raw = msgspec.Raw(b"")


class _InstrumentInfo(msgspec.Struct, frozen=True):
    instrument_name: str
    kind: str
    base_currency: str
    quote_currency: str
    contract_size: float
    settlement_period: str = ""
    expiration_timestamp: int | None = None
    settlement_currency: str | None = None
    instrument_type: str | None = None  # "linear" / "reversed" on current instruments
    future_type: str | None = None  # the older name of instrument_type
    is_active: bool = True


class _Instruments(msgspec.Struct, frozen=True):
    """public/get_instruments."""

    result: list[_InstrumentInfo]


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_RPC_ERROR = msgspec.json.Decoder(_RpcError)
_TRADES = msgspec.json.Decoder(list[_Trade])
_TRADES_ENVELOPE = msgspec.json.Decoder(_TradesEnvelope)
_TICKER = msgspec.json.Decoder(_Ticker)
_SUMMARIES = msgspec.json.Decoder(list[_Ticker])
_CHART = msgspec.json.Decoder(_Chart)
_INSTRUMENTS = msgspec.json.Decoder(_Instruments)
