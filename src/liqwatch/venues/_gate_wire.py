"""gate wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.gate`)."""

from __future__ import annotations

import msgspec

_NULL = msgspec.Raw(b"null")


class _Envelope(msgspec.Struct, frozen=True):
    """Every Gate futures WS frame: {"time", "time_ms", "channel", "event", "error", "result"}."""

    channel: str | None = None
    event: str | None = None
    time: int | None = None
    time_ms: int | None = None
    error: msgspec.Raw = _NULL
    result: msgspec.Raw = _NULL


class _Liquidate(msgspec.Struct, frozen=True):
    """One `futures.public_liquidates` result: `size` is the signed ORDER size in contracts; `time_ms` or `time`."""

    contract: str
    price: float
    size: str | float  # a string with X-Gate-Size-Decimal, an integer otherwise
    time: int | None = None  # ms since 2026-08-20, seconds before
    time_ms: int | None = None


class _Ticker(msgspec.Struct, frozen=True):
    contract: str
    total_size: float  # contracts, one side
    mark_price: float | None = None
    index_price: float | None = None
    funding_rate: float | None = None


class _Bar(msgspec.Struct, frozen=True):
    """A candlestick: `n` is `<interval>_<contract>`, `t` the open time in seconds, `v` contracts."""

    name: str = msgspec.field(name="n")
    open_s: int = msgspec.field(name="t")
    open: float = msgspec.field(name="o")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    close: float = msgspec.field(name="c")
    contracts: float = msgspec.field(name="v", default=0.0)
    base_amount: float | None = msgspec.field(name="a", default=None)
    closed: bool = msgspec.field(name="w", default=False)


class _ContractStat(msgspec.Struct, frozen=True):
    """GET /futures/{settle}/contract_stats row."""

    time: int
    open_interest: float  # contracts
    open_interest_usd: float | None = None
    mark_price: float | None = None


class _Contract(msgspec.Struct, frozen=True):
    """GET /futures/{settle}/contracts item."""

    name: str
    type: str
    quanto_multiplier: float = 0.0
    in_delisting: bool = False


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_LIQUIDATE = msgspec.json.Decoder(_Liquidate, strict=False)
_TICKER = msgspec.json.Decoder(_Ticker, strict=False)
_BAR = msgspec.json.Decoder(_Bar, strict=False)
_STATS = msgspec.json.Decoder(list[_ContractStat], strict=False)
_CONTRACTS = msgspec.json.Decoder(list[_Contract], strict=False)
_TICKERS = msgspec.json.Decoder(list[_Ticker], strict=False)


class _Error(msgspec.Struct, frozen=True):
    code: int | None = None
    message: str = ""
