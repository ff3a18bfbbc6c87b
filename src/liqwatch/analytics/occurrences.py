"""Signal occurrences and the price series for the event study, read from the store.

Occurrences come from the `signals` table (by kind and coin) when it has any; otherwise they are detected from
stored liquidations and OI with these rules (docs/analytics.md §1.1), evaluated on closed UTC hours:

- `long-cluster`: the hour's long-liquidation USD is above the 95th percentile of the previous 30 days of hours
  (hours without liquidations count as 0; at least 48 hours of history) and longs are ≥ 85% of the hour's USD;
- `short-cluster`: the mirror image;
- `oi-flush` (also `leverage-flush`): the hour's coin-terms OI change, summed over the symbols present at both
  hour ends, is ≤ −2% and below the 5th percentile of the previous 30 days of hours.

The price series is the 1m (else shortest) candle closes of the coin's symbol with the most candles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from liqwatch.heatmap.series import SqlStore
from liqwatch.model.time import NS_PER_S
from liqwatch.storage.dialect import dialect_of

HOUR_NS = 3_600 * NS_PER_S
WINDOW_H = 720
MIN_HISTORY_H = 48
CLUSTER_PCT = 95.0
CLUSTER_SHARE = 0.85
FLUSH_PCT = 5.0
FLUSH_MIN = -0.02
KINDS = ("long-cluster", "short-cluster", "oi-flush")
ALIASES = {"leverage-flush": "oi-flush", "oi-flush": "leverage-flush"}

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _rolling_exceed(values: F64, pct: float, above: bool) -> npt.NDArray[np.bool_]:
    out = np.zeros(values.shape[0], dtype=bool)
    for i in range(MIN_HISTORY_H, values.shape[0]):
        past = values[max(0, i - WINDOW_H) : i]
        past = past[np.isfinite(past)]
        if past.shape[0] < MIN_HISTORY_H or not np.isfinite(values[i]):
            continue
        q = float(np.percentile(past, pct))
        out[i] = values[i] > q if above else values[i] < q
    return out


def detect_clusters(hour_end: I64, long_usd: F64, short_usd: F64, side: str) -> I64:
    """Return the hour ends where one side's liquidations form a cluster (rule in the module doc)."""
    mine, other = (long_usd, short_usd) if side == "long" else (short_usd, long_usd)
    total = mine + other
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, mine / total, 0.0)
    hit = _rolling_exceed(mine, CLUSTER_PCT, above=True) & (share >= CLUSTER_SHARE) & (mine > 0)
    return hour_end[hit]


def detect_flushes(hour_end: I64, oi_change: F64) -> I64:
    """Return the hour ends where coin-terms OI fell ≤ −2% and below its rolling 5th percentile."""
    hit = _rolling_exceed(oi_change, FLUSH_PCT, above=False) & (oi_change <= FLUSH_MIN)
    return hour_end[hit]


def _hourly_liquidations(store: SqlStore, coin: str, since: int, until: int) -> tuple[I64, F64, F64]:
    rows = store.execute(  # portable SQL (DuckDB and PostgreSQL): the hour's start, not DuckDB's `//`
        f"SELECT ts_event - ts_event % {HOUR_NS} AS h, "
        "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'long'), 0), "
        "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'short'), 0) "
        "FROM liquidations WHERE coin = ? AND ts_event >= ? AND ts_event < ? GROUP BY h ORDER BY h",
        [coin, since, until],
    )
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    rows = [(int(h) // HOUR_NS, lu, su) for h, lu, su in rows]
    first, last = int(rows[0][0]), int(rows[-1][0])
    n = last - first + 1
    longs, shorts = np.zeros(n), np.zeros(n)
    for h, lu, su in rows:
        longs[int(h) - first], shorts[int(h) - first] = float(lu), float(su)
    return (np.arange(first, last + 1, dtype=np.int64) + 1) * HOUR_NS, longs, shorts


def _hourly_oi_change(store: SqlStore, coin: str, since: int, until: int) -> tuple[I64, F64]:
    last_oi = dialect_of(store).last("open_interest", "ts_event")
    rows = store.execute(
        f"WITH last AS (SELECT venue, symbol, ts_event - ts_event % {HOUR_NS} AS h, {last_oi} AS oi "
        "FROM open_interest WHERE coin = ? AND ts_event >= ? AND ts_event < ? AND origin <> 'import' "
        "GROUP BY venue, symbol, h), "
        "d AS (SELECT h, oi, lag(oi) OVER w AS prev, h - lag(h) OVER w AS gap FROM last "
        "WINDOW w AS (PARTITION BY venue, symbol ORDER BY h)) "
        f"SELECT h, sum(oi - prev), sum(prev) FROM d WHERE gap = {HOUR_NS} AND prev > 0 GROUP BY h ORDER BY h",
        [coin, since, until],
    )
    hours = np.array([int(r[0]) + HOUR_NS for r in rows], dtype=np.int64)
    change = np.array([float(r[1]) / float(r[2]) for r in rows], dtype=np.float64)
    return hours, change


def from_signals(store: SqlStore, *, kind: str, coin: str, since: int, until: int) -> list[int]:
    """Return the stored signal times of a kind (or its alias) for a coin."""
    kinds = [kind, *([ALIASES[kind]] if kind in ALIASES else [])]
    rows = store.execute(
        f"SELECT DISTINCT ts_event FROM signals WHERE coin = ? AND kind IN ({', '.join('?' * len(kinds))}) "
        "AND ts_event >= ? AND ts_event <= ? ORDER BY ts_event",
        [coin, *kinds, since, until],
    )
    return [int(r[0]) for r in rows]


def detect(store: SqlStore, *, kind: str, coin: str, since: int, until: int) -> list[int]:
    """Return occurrence times detected from stored liquidations or OI (rules in the module doc)."""
    if kind in ("long-cluster", "short-cluster"):
        hours, longs, shorts = _hourly_liquidations(store, coin, since, until)
        return [int(t) for t in detect_clusters(hours, longs, shorts, kind.split("-")[0])]
    hours, change = _hourly_oi_change(store, coin, since, until)
    return [int(t) for t in detect_flushes(hours, change)]


def occurrences(store: SqlStore, *, kind: str, coin: str, since: int, until: int, source: str = "auto") -> tuple[list[int], str]:
    """Return (times, source): from the signals table, or detected when it has none (`source` auto|signals|detect)."""
    coin = coin.upper()
    if source in ("auto", "signals"):
        stored = from_signals(store, kind=kind, coin=coin, since=since, until=until)
        if stored or source == "signals":
            return stored, "signals"
    return detect(store, kind=kind, coin=coin, since=since, until=until), "detected"


def candle_span(store: SqlStore, *, coin: str) -> tuple[int, int] | None:
    """Return the first and last stored candle times of a coin (any venue, interval), or None when there are none."""
    rows = store.execute("SELECT min(ts_event), max(ts_event) FROM candles WHERE coin = ?", [coin.upper()])
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0]), int(rows[0][1])


def price_series(store: SqlStore, *, coin: str, since: int, until: int) -> tuple[I64, F64, dict[str, Any]]:
    """Return (close times, closes, where from) of the coin's best-covered symbol."""
    best = store.execute(
        "SELECT venue, symbol, interval_s, count(*) AS n FROM candles WHERE coin = ? AND ts_event >= ? AND ts_event <= ? "
        "GROUP BY venue, symbol, interval_s ORDER BY interval_s = 60 DESC, n DESC, interval_s LIMIT 1",
        [coin.upper(), since, until],
    )
    if not best:
        return np.zeros(0, dtype=np.int64), np.zeros(0), {}
    venue, symbol, interval_s, _ = best[0]
    sql = (
        "SELECT ts_event + interval_s * 1000000000 AS t, close FROM candles WHERE venue = ? AND symbol = ? "
        "AND interval_s = ? AND ts_event >= ? AND ts_event <= ? ORDER BY ts_event"
    )
    params = [venue, symbol, interval_s, since, until]
    fetch = getattr(store, "fetch_columns", None)
    if fetch is not None:
        cols = fetch(sql, params)
        times = np.asarray(cols["t"], dtype=np.int64)
        closes = np.asarray(np.ma.filled(np.ma.asarray(cols["close"]).astype(np.float64), np.nan), dtype=np.float64)
    else:
        rows = store.execute(sql, params)
        times = np.array([int(r[0]) for r in rows], dtype=np.int64)
        closes = np.array([np.nan if r[1] is None else float(r[1]) for r in rows], dtype=np.float64)
    return times, closes, {"venue": venue, "symbol": symbol, "interval_s": int(interval_s), "bars": int(times.shape[0])}
