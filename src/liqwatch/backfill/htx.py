"""HTX USDT-M liquidation history: GET /linear-swap-api/v3/swap_liquidation_orders.

Docs ([General] Query Liquidation Orders (New), coincise `get_general_query_liquidation_orders_new.md`):
end_time within the last 90 days, query window ≤ 48 h, `direct=next` returns ascending data and `from_id`
is the max `query_id` of the previous page. `trade_type=0` asks for all records; 5 ("Liquidate long
positions") and 6 ("short") are the same records split by side, and `direction` already tells the side
(sell closes a long), so rows are parsed by `liqwatch.venues.htx` like the stream.
"""

from __future__ import annotations

import msgspec

from liqwatch.backfill._common import Tag, ms, tag
from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.model.time import NS_PER_S
from liqwatch.venues import RestRequest, _htx_wire, htx

VENUE = htx.VENUE
KINDS = frozenset({"liquidations"})
HISTORY_NS = {"liquidations": 90 * 86_400 * NS_PER_S}  # docs: "within past 90 days"
WINDOW_MS = 48 * 3_600_000  # docs: "maximum query window size is 48 hours"
PATH = "/linear-swap-api/v3/swap_liquidation_orders"


class _Row(msgspec.Struct, frozen=True):
    query_id: int


class _Body(msgspec.Struct, frozen=True):
    code: int
    data: msgspec.Raw = msgspec.Raw(b"[]")
    msg: str = ""


_BODY = msgspec.json.Decoder(_Body, strict=False)
_ROWS = msgspec.json.Decoder(list[_Row], strict=False)


def backfill_requests(kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None) -> list[RestRequest]:
    """Return the next page: cursor `window_start_ms:from_id` (from_id empty at a window's start)."""
    if kind not in KINDS:
        raise UnknownMessage(f"HTX has no {kind} backfill")
    if instrument.contract_type.value != "linear":
        return []  # coin-M lives under /swap-api/v3; not backfilled yet
    start_text, _, from_id = (cursor or f"{ms(since_ns)}:").partition(":")
    start, until = int(start_text), ms(until_ns)
    if start > until:
        return []
    end = min(start + WINDOW_MS, until)
    params = [("contract", instrument.symbol), ("trade_type", "0"), ("start_time", str(start)), ("end_time", str(end)), ("direct", "next")]
    if from_id:
        params.append(("from_id", from_id))
    return [RestRequest(tag=tag(kind, instrument.symbol, start, end, from_id), path=PATH, params=tuple(params))]


def parse_backfill(tag_text: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> tuple[list[Event], str | None]:
    """Parse one page; an empty page moves the cursor to the next 48 h window."""
    t = Tag(tag_text)
    try:
        body = _BODY.decode(payload)
        rows = _ROWS.decode(body.data)
        orders = _htx_wire._LIQUIDATIONS.decode(body.data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ParseError(f"malformed HTX swap_liquidation_orders page: {exc}") from None
    if body.code != 200:
        raise ParseError(f"HTX swap_liquidation_orders failed: code {body.code}, {body.msg!r}")
    if not rows:
        return [], f"{t.end_ms + 1}:"
    events: list[Event] = [htx._liquidation(o, instruments, ts_recv) for o in orders]
    last = max(r.query_id for r in rows)
    if t.extra and last <= int(t.extra):  # no progress: next window
        return events, f"{t.end_ms + 1}:"
    return events, f"{t.start_ms}:{last}"
