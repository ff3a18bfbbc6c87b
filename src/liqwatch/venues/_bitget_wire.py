"""bitget wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.bitget`)."""

from __future__ import annotations

import msgspec


class _Contract(msgspec.Struct, frozen=True):
    """One contract of /api/v2/mix/market/contracts (or the recorded v1 /api/mix/v1/market/contracts)."""

    symbol: str
    base: str = msgspec.field(name="baseCoin")
    quote: str = msgspec.field(name="quoteCoin")
    symbol_type: str = msgspec.field(name="symbolType", default="perpetual")
    delivery_time: str = msgspec.field(name="deliveryTime", default="")
    status: str = msgspec.field(name="symbolStatus", default="normal")


class _Contracts(msgspec.Struct, frozen=True):
    data: list[_Contract]


class _Arg(msgspec.Struct, frozen=True):
    inst_type: str = msgspec.field(name="instType", default="")
    channel: str = ""  # v1/v2
    topic: str = ""  # v3 (UTA)
    inst_id: str = msgspec.field(name="instId", default="")
    symbol: str = ""


_EMPTY = msgspec.Raw(b"")


class _Envelope(msgspec.Struct, frozen=True):
    """Every Bitget frame: pushes ({arg, action, data, ts}), acks ({event, arg}) and REST bodies ({code, data})."""

    event: str | None = None
    arg: _Arg | None = None
    action: str = ""
    data: msgspec.Raw = _EMPTY
    ts: int = 0
    code: str | int | None = None
    msg: str = ""
    table: str | None = None


class _LiquidationItem(msgspec.Struct, frozen=True, gc=False):
    symbol: str
    side: str
    price: float
    amount: float  # quote-currency notional
    ts: int


class _LiquidationPush(msgspec.Struct, frozen=True, gc=False):
    """The hot shape, a push with its liquidation items, in one decode (`bitget.parse_frame`'s fast path).

    Every field `_Envelope` decodes is typed here the same way or stricter, and the items are `_LiquidationItem`,
    so a frame decodes here only if `_Envelope` + `_LIQUIDATIONS` would decode it too, to the same values.
    """

    arg: _Arg
    data: list[_LiquidationItem]
    event: str | None = None
    action: str = ""
    ts: int = 0
    code: str | int | None = None
    msg: str = ""
    table: str | None = None


class _Ticker(msgspec.Struct, frozen=True):
    """v1 mix (`holding`, `capitalRate`, `systemTime`), v2 (`holdingAmount`, `fundingRate`) and v3 (`openInterest`)."""

    inst_id: str = msgspec.field(name="instId", default="")
    symbol: str = ""
    mark_price: float = msgspec.field(name="markPrice", default=0.0)
    index_price: float = msgspec.field(name="indexPrice", default=0.0)
    holding_v1: float | None = msgspec.field(name="holding", default=None)
    holding_v2: float | None = msgspec.field(name="holdingAmount", default=None)
    open_interest_v3: float | None = msgspec.field(name="openInterest", default=None)
    funding_v1: float | None = msgspec.field(name="capitalRate", default=None)
    funding: float | None = msgspec.field(name="fundingRate", default=None)
    next_funding_v1: int = msgspec.field(name="nextSettleTime", default=0)
    next_funding: int = msgspec.field(name="nextFundingTime", default=0)
    time_v1: int = msgspec.field(name="systemTime", default=0)
    ts: int = 0


class _OpenInterestEntry(msgspec.Struct, frozen=True):
    symbol: str
    size: float


class _RestOpenInterest(msgspec.Struct, frozen=True):
    """v1 open-interest data {"symbol", "amount", "timestamp"} or v2 {"openInterestList": [{"symbol", "size"}], "ts"}."""

    symbol: str = ""
    amount: float | None = None
    timestamp: int = 0
    entries: list[_OpenInterestEntry] = msgspec.field(name="openInterestList", default_factory=list)
    ts: int = 0


_CONTRACTS = msgspec.json.Decoder(_Contracts, strict=False)
_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_LIQUIDATIONS = msgspec.json.Decoder(list[_LiquidationItem], strict=False)
_LIQUIDATION_PUSH = msgspec.json.Decoder(_LiquidationPush, strict=False)
_TICKERS = msgspec.json.Decoder(list[_Ticker], strict=False)
_CANDLES = msgspec.json.Decoder(list[list[float]], strict=False)
_REST_OI = msgspec.json.Decoder(_RestOpenInterest, strict=False)
