"""Binance USD-M history: open interest (GET /futures/data/openInterestHist) and 1m klines (GET /fapi/v1/klines).

openInterestHist (https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Open-Interest-Statistics):
`period` 5m…1d, `limit` ≤ 500, "only the data of the latest 1 month is available"; `sumOpenInterest` is base
coin and `sumOpenInterestValue` USD. klines (…/rest-api/Kline-Candlestick-Data): `limit` ≤ 1500, rows
[openTime, o, h, l, c, volume (base), closeTime, quoteVolume, …]. Liquidations: none (see `NO_HISTORY`).
"""

from __future__ import annotations

import msgspec

from liqwatch.backfill._common import Tag, forward_window, next_window
from liqwatch.errors import ParseError, UnknownMessage
from liqwatch.model import Candle, Event, Instrument, InstrumentIndex, OpenInterestUnit, Origin
from liqwatch.model.time import NS_PER_S, ms_to_ns
from liqwatch.venues import RestRequest, _wire, binance

VENUE = binance.VENUE
KINDS = frozenset({"open_interest", "candles"})
HISTORY_NS = {"open_interest": 30 * 86_400 * NS_PER_S}  # docs: latest 1 month
OI_PERIOD, OI_PERIOD_MS, OI_LIMIT = "5m", 300_000, 500
KLINE_LIMIT = 1500


class _OiRow(msgspec.Struct, frozen=True):
    symbol: str
    base: float = msgspec.field(name="sumOpenInterest")
    usd: float = msgspec.field(name="sumOpenInterestValue")
    timestamp: int


_OI_ROWS = msgspec.json.Decoder(list[_OiRow], strict=False)
_KLINE_ROWS = msgspec.json.Decoder(list[list[int | float | str]], strict=False)


def backfill_requests(kind: str, instrument: Instrument, since_ns: int, until_ns: int, cursor: str | None) -> list[RestRequest]:
    """Return the next forward window (500 × 5 min of OI, or 1500 × 1 min of klines), or `[]`."""
    sym = instrument.symbol
    if kind == "open_interest":
        return forward_window(
            kind, instrument, since_ns, until_ns, cursor, OI_PERIOD_MS * OI_LIMIT,
            lambda a, b: ("/futures/data/openInterestHist", (
                ("symbol", sym), ("period", OI_PERIOD), ("limit", str(OI_LIMIT)), ("startTime", str(a)), ("endTime", str(b)),
            )),
        )
    if kind == "candles":
        return forward_window(
            kind, instrument, since_ns, until_ns, cursor, 60_000 * KLINE_LIMIT,
            lambda a, b: ("/fapi/v1/klines", (
                ("symbol", sym), ("interval", "1m"), ("limit", str(KLINE_LIMIT)), ("startTime", str(a)), ("endTime", str(b)),
            )),
        )
    raise UnknownMessage(f"Binance USD-M has no {kind} backfill")


def parse_backfill(tag_text: str, payload: bytes, instruments: InstrumentIndex, ts_recv: int) -> tuple[list[Event], str | None]:
    """Parse one window's rows; the cursor is the next window's start."""
    t = Tag(tag_text)
    inst = _wire.instrument(instruments, VENUE, t.symbol)
    events: list[Event] = []
    if t.kind == "open_interest":
        for r in _wire.decode(_OI_ROWS, payload, "Binance openInterestHist"):
            events.append(
                _wire.open_interest(
                    inst, raw_value=r.base, raw_unit=OpenInterestUnit.BASE, two_sided=False,
                    ts_event=ms_to_ns(r.timestamp), ts_recv=ts_recv, origin=Origin.IMPORT,
                    price=r.usd / r.base if r.base > 0 else None, usd=r.usd,
                )
            )
    elif t.kind == "candles":
        for row in _wire.decode(_KLINE_ROWS, payload, "Binance klines"):
            try:
                open_ms, close_ms = int(row[0]), int(row[6])
                o, h, low, c, volume, quote_volume = (float(row[i]) for i in (1, 2, 3, 4, 5, 7))
            except (ValueError, IndexError):
                raise ParseError(f"malformed Binance kline row {row!r}") from None
            events.append(
                Candle(
                    venue=VENUE, symbol=inst.symbol, market=inst.market, coin=inst.coin,
                    ts_event=ms_to_ns(open_ms), ts_recv=ts_recv, interval_s=60,
                    open=o, high=h, low=low, close=c, volume=volume,
                    volume_usd=quote_volume if inst.quote_is_usd else None,
                    closed=ms_to_ns(close_ms) < ts_recv,
                )
            )
    else:
        raise UnknownMessage(f"Binance USD-M backfill tag {tag_text!r} is not handled")
    return events, next_window(t)
