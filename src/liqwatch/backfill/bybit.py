"""Bybit v5 history: open interest (GET /v5/market/open-interest) and 1m klines (GET /v5/market/kline).

open-interest (bybit-exchange/docs `docs/v5/market/open-interest.mdx`): intervalTime 5min…1d, `limit` ≤ 200,
newest first; `openInterest` is "the sum of both sides" (venues.md §3) → halved to one side by the
`liqwatch.venues.bybit` parser; linear in base coin, inverse in USD. kline (`docs/v5/market/kline.mdx`):
`limit` ≤ 1000, rows [start, o, h, l, c, volume, turnover], newest first; volume is base for linear and
USD for inverse (turnover the other way round). Liquidations: none (see `NO_HISTORY`).
"""

from __future__ import annotations

import msgspec

from liqwatch.backfill._common import Tag, forward_window, next_window
from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import Candle, Event, Instrument, InstrumentIndex, Origin
from liqwatch.model.time import ms_to_ns
from liqwatch.venues import RestRequest, _wire, bybit

VENUE = bybit.VENUE
KINDS = frozenset({"open_interest", "candles"})
HISTORY_NS: dict[str, int] = {}  # OI history reaches back to the symbol's launch
OI_INTERVAL, OI_INTERVAL_MS, OI_LIMIT = "5min", 300_000, 200
KLINE_LIMIT = 1000


class _Body(msgspec.Struct, frozen=True):
    ret_code: int = msgspec.field(name="retCode")
    ret_msg: str = msgspec.field(name="retMsg", default="")
    result: msgspec.Raw = msgspec.Raw(b"{}")


class _Klines(msgspec.Struct, frozen=True):
    rows: list[list[str]] = msgspec.field(name="list", default_factory=list)


_BODY = msgspec.json.Decoder(_Body, strict=False)
_KLINES = msgspec.json.Decoder(_Klines, strict=False)


def backfill_requests(kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None) -> list[RestRequest]:
    """Return the next forward window (200 × 5 min of OI, or 1000 × 1 min of klines), or `[]`."""
    base = (("category", instrument.category or "linear"), ("symbol", instrument.symbol))
    if kind == "open_interest":
        return forward_window(
            kind, instrument, since_ns, until_ns, cursor, OI_INTERVAL_MS * OI_LIMIT,
            lambda a, b: ("/v5/market/open-interest", (
                *base, ("intervalTime", OI_INTERVAL), ("startTime", str(a)), ("endTime", str(b)), ("limit", str(OI_LIMIT)),
            )),
        )
    if kind == "candles":
        return forward_window(
            kind, instrument, since_ns, until_ns, cursor, 60_000 * KLINE_LIMIT,
            lambda a, b: ("/v5/market/kline", (
                *base, ("interval", "1"), ("start", str(a)), ("end", str(b)), ("limit", str(KLINE_LIMIT)),
            )),
        )
    raise UnknownMessage(f"Bybit has no {kind} backfill")


def parse_backfill(tag_text: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> tuple[list[Event], str | None]:
    """Parse one window; the cursor is the next window's start."""
    t = Tag(tag_text)
    body = _wire.decode(_BODY, payload, "Bybit v5 body")
    if body.ret_code != 0:
        raise ParseError(f"Bybit {t.kind} history failed: retCode {body.ret_code}, {body.ret_msg!r}")
    inst = _wire.instrument(instruments, VENUE, t.symbol)
    if t.kind == "open_interest":
        events: list[Event] = list(bybit._rest_open_interest(payload, instruments, ts_recv, Origin.IMPORT))
    elif t.kind == "candles":
        events = []
        for row in _wire.decode(_KLINES, body.result, "Bybit kline result").rows:
            try:
                start = int(row[0])
                o, h, low, c, volume, turnover = (float(x) for x in row[1:7])
            except (ValueError, IndexError):
                raise ParseError(f"malformed Bybit kline row {row!r}") from None
            base, usd = (turnover, volume) if inst.is_inverse else (volume, turnover if inst.quote_is_usd else None)
            events.append(
                Candle(
                    venue=VENUE, symbol=inst.symbol, market=inst.market, coin=inst.coin,
                    ts_event=ms_to_ns(start), ts_recv=ts_recv, interval_s=60,
                    open=o, high=h, low=low, close=c, volume=base, volume_usd=usd,
                    closed=ms_to_ns(start + 60_000) <= ts_recv,
                )
            )
    else:
        raise UnknownMessage(f"Bybit backfill tag {tag_text!r} is not handled")
    return events, next_window(t)
