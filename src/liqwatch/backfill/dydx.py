"""dYdX v4 liquidation history: GET /v4/trades/perpetualMarket/{ticker} (indexer), `type == "LIQUIDATED"`.

Docs: https://docs.dydx.xyz/indexer-client/http#get-trades — newest first, `limit` (≤ 100 used here),
`createdBeforeOrAtHeight` pages back by block height. The full history is kept, so no age limit.
Trades are parsed by `liqwatch.venues.dydx` (event id = trade id, same as the stream).
"""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from liqwatch.backfill._common import Tag, ms, tag
from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import Event, Instrument, InstrumentIndex
from liqwatch.model.time import iso_to_ns
from liqwatch.venues import RestRequest, dydx

VENUE = dydx.VENUE
KINDS = frozenset({"liquidations"})
HISTORY_NS: dict[str, int] = {}
PAGE_LIMIT = 100


class _Trade(msgspec.Struct, frozen=True):
    created_at: str = msgspec.field(name="createdAt")
    height: int = msgspec.field(name="createdAtHeight", default=0)


class _Page(msgspec.Struct, frozen=True):
    trades: list[_Trade]


_PAGE = msgspec.json.Decoder(_Page, strict=False)
_TRADES = msgspec.json.Decoder(dydx._Trades, strict=False)


def backfill_requests(kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None) -> list[RestRequest]:
    """Return the next page; cursor `height:oldest_ms` (`:` = the newest page)."""
    if kind not in KINDS:
        raise UnknownMessage(f"dYdX has no {kind} backfill")
    height, _, oldest = (cursor or ":").partition(":")
    if oldest and int(oldest) <= ms(since_ns):
        return []
    params: list[tuple[str, str]] = [("limit", str(PAGE_LIMIT))]
    if height:
        params.append(("createdBeforeOrAtHeight", height))
    path = f"/v4/trades/perpetualMarket/{quote(instrument.symbol, safe='')}"
    return [RestRequest(tag=tag(kind, instrument.symbol, 0, 0, height), path=path, params=tuple(params))]


def parse_backfill(tag_text: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> tuple[list[Event], str | None]:
    """Parse one page of trades; keep the liquidations; page back from the oldest height."""
    t = Tag(tag_text)
    try:
        page = _PAGE.decode(payload)
        trades = _TRADES.decode(payload).trades
        oldest_ms = min(ms(iso_to_ns(x.created_at)) for x in page.trades) if page.trades else 0
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
        raise ParseError(f"malformed dYdX trades page: {exc}") from None
    inst = instruments.get(VENUE, t.symbol)
    if inst is None:
        raise ParseError(f"dYdX backfill for unknown market {t.symbol}")
    events: list[Event] = [dydx._liquidation(x, inst, ts_recv) for x in trades if x.type == "LIQUIDATED"]
    if len(page.trades) < PAGE_LIMIT:
        return events, None  # the start of the market's history
    low = min(x.height for x in page.trades)
    if t.extra and low >= int(t.extra):
        low = int(t.extra) - 1  # a full page within one block: step past it
    return events, f"{low}:{oldest_ms}"
