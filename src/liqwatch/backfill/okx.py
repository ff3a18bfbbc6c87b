"""OKX liquidation history: GET /api/v5/public/liquidation-orders (SWAP, by instFamily, state=filled).

Docs: https://www.okx.com/docs-v5/en/#public-data-rest-api-get-liquidation-orders — "the last day" only;
`after` pages to records older than a ts, `limit` ≤ 100. Details are parsed by `liqwatch.venues.okx`
(same semantics and event ids as the stream, so stream and backfill deduplicate).
"""

from __future__ import annotations

import msgspec

from liqwatch.backfill._common import Tag, ms, tag
from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.model.time import NS_PER_S
from liqwatch.venues import RestRequest, okx

VENUE = okx.VENUE
KINDS = frozenset({"liquidations"})
HISTORY_NS = {"liquidations": 86_400 * NS_PER_S}  # "liquidation orders in the last day"
PAGE_LIMIT = 100  # docs: limit, maximum 100
PATH = "/api/v5/public/liquidation-orders"


class _Detail(msgspec.Struct, frozen=True):
    ts: int


class _Group(msgspec.Struct, frozen=True):
    details: list[_Detail]


class _Body(msgspec.Struct, frozen=True):
    code: str
    data: list[_Group] = msgspec.field(default_factory=list)
    msg: str = ""


_BODY = msgspec.json.Decoder(_Body, strict=False)


def backfill_requests(kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None) -> list[RestRequest]:
    """Return the next page (newest first, older than `cursor` ms), or `[]` once past `since`."""
    if kind not in KINDS:
        raise UnknownMessage(f"OKX has no {kind} backfill")
    if instrument.category != "SWAP":
        return []  # FUTURES pages by alias, not by instrument: not backfilled
    before_ms = int(cursor) if cursor else ms(until_ns) + 1
    if before_ms <= ms(since_ns):
        return []
    family = f"{instrument.base}-{instrument.quote}"
    params = (
        ("instType", "SWAP"),
        ("instFamily", family),
        ("state", "filled"),
        ("after", str(before_ms)),
        ("limit", str(PAGE_LIMIT)),
    )
    return [RestRequest(tag=tag(kind, instrument.symbol, 0, before_ms), path=PATH, params=params)]


def parse_backfill(tag_text: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> tuple[list[Event], str | None]:
    """Parse one page; the cursor is the oldest detail's ts (None when the page is empty)."""
    t = Tag(tag_text)
    try:
        body = _BODY.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ParseError(f"malformed OKX liquidation-orders page: {exc}") from None
    if body.code != "0":
        raise ParseError(f"OKX liquidation-orders failed: code {body.code}, {body.msg!r}")
    stamps = [d.ts for g in body.data for d in g.details]
    if not stamps:
        return [], None
    events = okx.parse_poll("liquidations", payload, instruments, ts_recv)
    oldest = min(stamps)
    if oldest >= t.end_ms:  # no progress: stop rather than loop
        return events, None
    return events, str(oldest)
