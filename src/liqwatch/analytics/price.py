"""Price context per coin from stored candles: price, all-time high and drawdown, the UTC day's OHLC, prior day, 24h change.

The price source is one symbol: the coin's USDT perpetual on the first venue of `price_venues` that has 1m candles in
the two days before `at` (docs/analytics.md §4.6: "define the daily candle source"). Only candles closed at or before
`at` are used, so a past `--at` never sees the future. The all-time high is the highest high of that symbol's stored
candles of any interval (backfilled daily history plus live 1m bars); `ath_since` says where the history starts.
The "day" is the UTC day of the last closed minute (at 00:00 that is the day that just ended). Percentages are
in percent (−5.2 means −5.2 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from liqwatch.model.time import ns_to_iso
from liqwatch.storage.base import EventStore

NS_PER_S = 10**9
MINUTE_NS = 60 * NS_PER_S
DAY_NS = 86_400 * NS_PER_S
DEFAULT_VENUES: tuple[str, ...] = ("binance-usdm", "bybit", "okx", "bitget", "gate")


def day_start(at: int) -> int:
    """Return the start of the UTC day holding the last closed minute before `at`."""
    return (at - 1) - (at - 1) % DAY_NS


def price_source(store: EventStore, *, coin: str, at: int, venues: Sequence[str] = DEFAULT_VENUES) -> dict[str, Any] | None:
    """Return the (venue, symbol, market) whose 1m candles price `coin` at `at`, or None when there are none."""
    sources = store.candle_sources(coin=coin, since=at - 2 * DAY_NS, until=at)
    if not sources:
        return None
    usdt = f"{coin.upper()}-USDT-PERP"

    def rank(s: dict[str, Any]) -> tuple[int, int, int]:
        venue_rank = list(venues).index(s["venue"]) if s["venue"] in venues else len(venues)
        return (0 if s["market"] == usdt else 1, venue_rank, -int(s["bars"]))

    return min(sources, key=rank)


def _pct(new: float | None, old: float | None) -> float | None:
    return (new / old - 1.0) * 100.0 if new is not None and old else None


def _ohlc(bars: list[dict[str, Any]]) -> dict[str, float | None]:
    if not bars:
        return {"open": None, "high": None, "low": None, "close": None}
    return {
        "open": float(bars[0]["open"]),
        "high": max(float(b["high"]) for b in bars),
        "low": min(float(b["low"]) for b in bars),
        "close": float(bars[-1]["close"]),
    }


def _prior_day(store: EventStore, venue: str, symbol: str, start: int) -> tuple[dict[str, float | None], str]:
    daily = store.candle_bars(venue=venue, symbol=symbol, since=start - 1, until=start, interval_s=86_400)
    if daily:
        return _ohlc(daily), "1d"
    bars = store.candle_bars(venue=venue, symbol=symbol, since=start - DAY_NS, until=start)
    return _ohlc(bars), "1m"


def price_context(
    store: EventStore, *, coin: str, at: int, venues: Sequence[str] = DEFAULT_VENUES
) -> dict[str, Any]:
    """Return price, ATH, drawdown, the day's OHLC, the prior day's high/low and the 24h change; None where unknown."""
    coin = coin.upper()
    src = price_source(store, coin=coin, at=at, venues=venues)
    out: dict[str, Any] = {
        "coin": coin,
        "at": ns_to_iso(at),
        "at_ns": at,
        "source": None,
        "price": None,
        "price_ts": None,
        "ath": None,
        "ath_ts": None,
        "ath_since": None,
        "drawdown_pct": None,
        "day": ns_to_iso(day_start(at))[:10],
        "day_open": None,
        "day_high": None,
        "day_low": None,
        "day_close": None,
        "prior_day_high": None,
        "prior_day_low": None,
        "prior_day_close": None,
        "change_24h_pct": None,
        "price_24h_ago": None,
    }
    if src is None:
        return out
    venue, symbol = str(src["venue"]), str(src["symbol"])
    out["source"] = {"venue": venue, "symbol": symbol, "market": src["market"]}
    start = day_start(at)
    today = store.candle_bars(venue=venue, symbol=symbol, since=start, until=at)
    day = _ohlc(today)
    last = today[-1] if today else None
    if last is None:
        recent = store.candle_bars(venue=venue, symbol=symbol, since=at - 2 * DAY_NS, until=at)
        last = recent[-1] if recent else None
    price = float(last["close"]) if last else None
    out["price"] = price
    out["price_ts"] = ns_to_iso(int(last["ts_close"])) if last else None
    out.update({f"day_{k}": v for k, v in day.items()})
    prior, prior_src = _prior_day(store, venue, symbol, start)
    out["prior_day_high"], out["prior_day_low"], out["prior_day_close"] = prior["high"], prior["low"], prior["close"]
    out["prior_day_source"] = prior_src
    ago = store.candle_bars(venue=venue, symbol=symbol, since=at - DAY_NS - 10 * MINUTE_NS, until=at - DAY_NS)
    if ago:
        out["price_24h_ago"] = float(ago[-1]["close"])
        out["change_24h_pct"] = _pct(price, out["price_24h_ago"])
    high = store.price_high(venue=venue, symbol=symbol, until=at)
    if high is not None:
        out["ath"] = float(high["high"])
        out["ath_ts"] = ns_to_iso(int(high["high_ts"]))
        out["ath_since"] = ns_to_iso(int(high["first_ts"]))
        out["drawdown_pct"] = _pct(price, out["ath"])
    return out
