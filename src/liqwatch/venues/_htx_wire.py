"""htx wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.htx`)."""

from __future__ import annotations

from typing import Literal

import msgspec


class _LiquidationOrder(msgspec.Struct, frozen=True, gc=False):
    """One item of `public.{code}.liquidation_orders` data."""

    contract_code: str
    direction: str
    volume: float
    price: float
    created_at: int
    amount: float | None = None  # coin; USDT-M only
    trade_turnover: float | None = None  # quote; USDT-M only


class _Funding(msgspec.Struct, frozen=True):
    """One item of `public.{code}.funding_rate` data."""

    contract_code: str
    funding_rate: float
    settlement_time: int = 0


class _OpenInterestItem(msgspec.Struct, frozen=True):
    """One item of swap_open_interest / contract_open_interest data."""

    contract_code: str
    volume: float  # contracts, both sides
    amount: float  # coin, both sides
    value: float | None = None  # USDT, USDT-M only


class _Tick(msgspec.Struct, frozen=True):
    """A kline tick: `id` is the bar's open time in seconds, `vol` contracts, `amount` coin."""

    bar_open_s: int = msgspec.field(name="id")
    open: float
    close: float
    high: float
    low: float
    amount: float
    contracts: float = msgspec.field(name="vol")
    trade_turnover: float | None = None


_EMPTY = msgspec.Raw(b"")


class _Envelope(msgspec.Struct, frozen=True):
    """Any HTX frame: notify/ping/sub (`op`), market (`ch`, `ping`, `subbed`) or a REST body (`status`)."""

    op: str | None = None
    topic: str | None = None
    ch: str | None = None
    ts: int | None = None
    ping: msgspec.Raw = _EMPTY
    subbed: str | None = None
    status: str | None = None
    err_code: int | str = msgspec.field(name="err-code", default=0)  # notify: 4001; market: "bad-request"
    err_msg: str | None = msgspec.field(name="err-msg", default=None)
    id: str | int | None = None  # market: echoed from our {"sub", "id"}
    cid: str | None = None  # notify: echoed from our {"op": "sub", "cid"}
    data: msgspec.Raw = _EMPTY
    tick: msgspec.Raw = _EMPTY


class _LiquidationNotify(msgspec.Struct, frozen=True, gc=False):
    """The hot shape, a notify push with its liquidation orders, in one decode (`htx.parse_frame`'s fast path).

    Every field `_Envelope` decodes is typed here the same way or stricter, and the items are `_LiquidationOrder`,
    so a frame decodes here only if `_Envelope` + `_LIQUIDATIONS` would decode it too, to the same values.
    """

    op: Literal["notify"]
    topic: str
    data: list[_LiquidationOrder]
    ch: str | None = None
    ts: int | None = None
    ping: msgspec.Raw = _EMPTY
    subbed: str | None = None
    status: str | None = None
    err_code: int | str = msgspec.field(name="err-code", default=0)  # notify: 4001; market: "bad-request"
    err_msg: str | None = msgspec.field(name="err-msg", default=None)
    tick: msgspec.Raw = _EMPTY


class _Ping(msgspec.Struct, frozen=True):
    """A server ping, its timestamp kept verbatim so the pong echoes it exactly."""

    op: str | None = None
    ts: msgspec.Raw = _EMPTY
    ping: msgspec.Raw = _EMPTY


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_PING = msgspec.json.Decoder(_Ping, strict=False)
_LIQUIDATIONS = msgspec.json.Decoder(list[_LiquidationOrder], strict=False)
_LIQUIDATION_NOTIFY = msgspec.json.Decoder(_LiquidationNotify, strict=False)
_FUNDINGS = msgspec.json.Decoder(list[_Funding], strict=False)
_OPEN_INTEREST = msgspec.json.Decoder(list[_OpenInterestItem], strict=False)
_TICK = msgspec.json.Decoder(_Tick, strict=False)


class _ContractInfo(msgspec.Struct, frozen=True):
    symbol: str
    contract_code: str
    contract_size: float
    contract_status: int = 1
    contract_type: str = ""
    business_type: str = ""
    delivery_time: str = ""  # ms, as a string
    delivery_date: str = ""  # YYYYMMDD


class _ContractInfoBody(msgspec.Struct, frozen=True):
    """swap_contract_info / contract_contract_info REST bodies and `public.{sym}.contract_info` pushes."""

    data: list[_ContractInfo]


_CONTRACT_INFO = msgspec.json.Decoder(_ContractInfoBody, strict=False)
