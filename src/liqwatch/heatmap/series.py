"""Read the heatmap model's inputs from the store: per (venue, symbol) bars with the OI at each bar's close.

Bars are the stored candles of one interval (1m where there are any, else the shortest stored); the OI at a bar
is the newest stored one-sided OI (base units) at or before the bar's close (an ASOF join: polled OI is stored
only on change, so an old row is still current). End-of-day imports (CME) have no candles and never join.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from liqwatch.heatmap.engine import Bars
from liqwatch.model.time import NS_PER_S


class SqlStore(Protocol):
    """A store that runs SQL (DuckDBStore)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


def bar_interval_s(store: SqlStore, *, coin: str, since: int, until: int) -> int | None:
    """Return the candle interval to use for a coin in (since, until]: 60 s if stored, else the shortest."""
    rows = store.execute(
        "SELECT interval_s FROM candles WHERE coin = ? AND ts_event >= ? AND ts_event < ? GROUP BY interval_s "
        "ORDER BY interval_s",
        [coin.upper(), since - 86_400 * NS_PER_S, until],
    )
    intervals = [int(r[0]) for r in rows if r[0] and int(r[0]) > 0]
    if not intervals:
        return None
    return 60 if 60 in intervals else intervals[0]


def load_bars(
    store: SqlStore, *, coin: str, since: int, until: int, venue: str | None = None, interval_s: int | None = None
) -> list[Bars]:
    """Return per (venue, symbol) the bars closed in (since, until] with their OI, ascending."""
    coin = coin.upper()
    interval = interval_s or bar_interval_s(store, coin=coin, since=since, until=until)
    if interval is None:
        return []
    step = interval * NS_PER_S
    venue_clause = " AND venue = ?" if venue else ""
    params: list[Any] = [coin, *([venue] if venue else []), until, coin, interval, since - step, until - step]
    params += [venue] if venue else []
    sql = (
        "WITH o AS (SELECT venue, symbol, ts_event, open_interest FROM open_interest "
        "WHERE coin = ?" + venue_clause + " AND ts_event <= ? AND origin <> 'import'), "
        "c AS (SELECT venue, symbol, ts_event, open, high, low, close, volume, volume_usd FROM candles "
        "WHERE coin = ? AND interval_s = ? AND ts_event > ? AND ts_event <= ?" + venue_clause + ") "
        f"SELECT c.venue, c.symbol, c.ts_event, c.open, c.high, c.low, c.close, c.volume, c.volume_usd, "
        f"o.open_interest FROM c ASOF LEFT JOIN o ON c.venue = o.venue AND c.symbol = o.symbol "
        f"AND c.ts_event + {step} >= o.ts_event ORDER BY c.venue, c.symbol, c.ts_event"
    )
    if getattr(store, "dialect", "duckdb") == "postgres":  # no ASOF JOIN: one indexed LATERAL probe per bar
        sql = (
            "SELECT c.venue, c.symbol, c.ts_event, c.open, c.high, c.low, c.close, c.volume, c.volume_usd, "
            "o.open_interest FROM candles c LEFT JOIN LATERAL (SELECT open_interest FROM open_interest x "
            f"WHERE x.venue = c.venue AND x.symbol = c.symbol AND x.ts_event <= c.ts_event + {step} AND x.coin = ? "
            "AND x.ts_event <= ? AND x.origin <> 'import' ORDER BY x.ts_event DESC LIMIT 1) o ON true "
            "WHERE c.coin = ? AND c.interval_s = ? AND c.ts_event > ? AND c.ts_event <= ?"
            + venue_clause.replace("venue", "c.venue") + " ORDER BY c.venue, c.symbol, c.ts_event"
        )
        params = [coin, until, coin, interval, since - step, until - step, *([venue] if venue else [])]
    fetch = getattr(store, "fetch_columns", None)
    if fetch is not None:
        return _split_columns(fetch(sql, params), step)
    return _split(store.execute(sql, params), step)


def _floats(col: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(np.ma.filled(np.ma.asarray(col).astype(np.float64), np.nan), dtype=np.float64)


def _split_columns(cols: dict[str, Any], step: int) -> list[Bars]:
    venue = np.asarray(np.ma.filled(np.ma.asarray(cols["venue"]), ""), dtype=object)
    symbol = np.asarray(np.ma.filled(np.ma.asarray(cols["symbol"]), ""), dtype=object)
    n = venue.shape[0]
    if n == 0:
        return []
    ts = np.asarray(cols["ts_event"], dtype=np.int64)
    data = {k: _floats(cols[k]) for k in ("open", "high", "low", "close", "volume", "volume_usd", "open_interest")}
    change = np.flatnonzero((venue[1:] != venue[:-1]) | (symbol[1:] != symbol[:-1])) + 1
    bounds = [0, *change.tolist(), n]
    out = []
    for a, b in itertools.pairwise(bounds):
        out.append(Bars(venue=str(venue[a]), symbol=str(symbol[a]), ts_open=ts[a:b], interval_ns=step,
                        **{k: v[a:b] for k, v in data.items()}))
    return out


def _split(rows: list[tuple[Any, ...]], step: int) -> list[Bars]:
    out: list[Bars] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][:2] != rows[start][:2]:
            chunk = rows[start:i]
            cols = list(zip(*chunk, strict=True))

            def f(j: int, cols: list[tuple[Any, ...]] = cols) -> np.ndarray[Any, np.dtype[np.float64]]:
                return np.array([np.nan if v is None else float(v) for v in cols[j]], dtype=np.float64)

            out.append(
                Bars(
                    venue=str(chunk[0][0]), symbol=str(chunk[0][1]),
                    ts_open=np.array(cols[2], dtype=np.int64), interval_ns=step,
                    open=f(3), high=f(4), low=f(5), close=f(6), volume=f(7), volume_usd=f(8), open_interest=f(9),
                )
            )
            start = i
    return out
