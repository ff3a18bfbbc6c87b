"""okx wire structs and their decoders: the venue's JSON, mirrored exactly (private to `venues.okx`)."""

from __future__ import annotations

import msgspec


class _Arg(msgspec.Struct, frozen=True):
    channel: str = ""
    inst_id: str = msgspec.field(name="instId", default="")
    inst_type: str = msgspec.field(name="instType", default="")


class _Envelope(msgspec.Struct, frozen=True):
    """Any OKX JSON frame: a push {arg, data}, an event {event, code, msg}, or a REST body {code, msg, data}."""

    arg: _Arg | None = None
    event: str | None = None
    code: str | None = None
    msg: str = ""
    data: msgspec.Raw = msgspec.Raw(b"")
    table: str | None = None  # OKX v3
    message: msgspec.Raw = msgspec.Raw(b"")  # tardis export wrapper {"localTimestamp", "message"}


class _Detail(msgspec.Struct, frozen=True, gc=False):
    """One liquidation: `side` is the ORDER side, `posSide` the position (long/short/net)."""

    side: str
    size: float = msgspec.field(name="sz")
    bankruptcy_price: float = msgspec.field(name="bkPx")
    ts: int
    pos_side: str = msgspec.field(name="posSide", default="")


class _LiquidationGroup(msgspec.Struct, frozen=True, gc=False):
    inst_id: str = msgspec.field(name="instId")
    details: list[_Detail]


class _LiquidationOrdersPush(msgspec.Struct, frozen=True, gc=False):
    """The hot frame, decoded in one pass: `_Envelope` with `arg` required and `data` typed as liquidation groups.

    Every other field has `_Envelope`'s type, so this accepts no frame `_Envelope` + `_LIQ_GROUPS` reject.
    """

    arg: _Arg
    data: list[_LiquidationGroup]
    event: str | None = None
    code: str | None = None
    msg: str = ""
    table: str | None = None
    message: msgspec.Raw = msgspec.Raw(b"")


class _OpenInterestRow(msgspec.Struct, frozen=True):
    inst_id: str = msgspec.field(name="instId")
    oi: float  # contracts
    oi_ccy: float = msgspec.field(name="oiCcy")  # base coin
    ts: int
    oi_usd: float | None = msgspec.field(name="oiUsd", default=None)


class _MarkPriceRow(msgspec.Struct, frozen=True):
    inst_id: str = msgspec.field(name="instId")
    mark_price: float = msgspec.field(name="markPx")
    ts: int


class _FundingRow(msgspec.Struct, frozen=True):
    inst_id: str = msgspec.field(name="instId")
    funding_time: int = msgspec.field(name="fundingTime")  # the next settlement, ms
    funding_rate: float | None = msgspec.field(name="fundingRate", default=None)
    next_funding_time: int | None = msgspec.field(name="nextFundingTime", default=None)
    ts: int | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope, strict=False)
_LIQ_GROUPS = msgspec.json.Decoder(list[_LiquidationGroup], strict=False)
_LIQ_PUSH = msgspec.json.Decoder(_LiquidationOrdersPush, strict=False)
_DETAILS = msgspec.json.Decoder(list[_Detail], strict=False)
_OI_ROWS = msgspec.json.Decoder(list[_OpenInterestRow], strict=False)
_MARK_ROWS = msgspec.json.Decoder(list[_MarkPriceRow], strict=False)
_FUNDING_ROWS = msgspec.json.Decoder(list[_FundingRow], strict=False)
_REST_ROWS = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])  # REST rows: {oi, oiCcy, ...} or {details, ...}
_CANDLE_ROWS = msgspec.json.Decoder(list[list[str]], strict=False)


class _InstrumentInfo(msgspec.Struct, frozen=True):
    inst_id: str = msgspec.field(name="instId")
    inst_type: str = msgspec.field(name="instType")
    ct_type: str = msgspec.field(name="ctType", default="")
    ct_val: str = msgspec.field(name="ctVal", default="")
    ct_mult: str = msgspec.field(name="ctMult", default="1")
    settle: str = msgspec.field(name="settleCcy", default="")
    family: str = msgspec.field(name="instFamily", default="")
    underlying: str = msgspec.field(name="uly", default="")
    expiry: str = msgspec.field(name="expTime", default="")
    state: str = "live"


class _Instruments(msgspec.Struct, frozen=True):
    """GET /api/v5/public/instruments?instType=SWAP|FUTURES."""

    code: str
    data: list[_InstrumentInfo]
    msg: str = ""


_INSTRUMENTS = msgspec.json.Decoder(_Instruments, strict=False)
