"""Heatmap benchmark: the 30-day, 1-minute heatmap (and the map) of one coin from a real DuckDB file.

Target (issue 7): `heatmap_grid` over 30 days of 1m bars for one coin in under 1 s, end to end (SQL load, the
model, the grid). The scenario is synthetic and deterministic: a random-walk price and OI per venue.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from bench._harness import Case, Row
from liqwatch.heatmap import current_map, heatmap_grid
from liqwatch.model import Candle, OpenInterest, OpenInterestUnit, Origin
from liqwatch.storage.duckdb_store import DuckDBStore

MIN = 60 * 10**9
DAY = 1440 * MIN
END = 1_762_214_400 * 10**9  # 2025-11-04T00:00:00Z
VENUES = (("bybit", "BTCUSDT"), ("binance-usdm", "BTCUSDT"))


def scenario(days: int, seed: int = 7, venues: tuple[tuple[str, str], ...] = VENUES) -> list[Candle | OpenInterest]:
    """Return `days` (+1 warm-up day) of 1m candles and OI per venue for BTC: a random walk of price and OI."""
    rng = np.random.default_rng(seed)
    n = (days + 1) * 1440
    start = END - n * MIN
    close = 100_000 * np.exp(np.cumsum(rng.normal(0, 0.0006, n)))
    open_ = np.concatenate([[100_000.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0004, (2, n)))
    high, low = np.maximum(open_, close) * (1 + wick[0]), np.minimum(open_, close) * (1 - wick[1])
    out: list[Candle | OpenInterest] = []
    for k, (venue, symbol) in enumerate(venues):
        oi = 50_000 * (1 + k) * np.exp(np.cumsum(rng.normal(0, 0.001, n) - 0.001 * rng.normal(0, 0.01, n)))
        common = {"venue": venue, "symbol": symbol, "market": "BTC-USDT-PERP", "coin": "BTC"}
        for i in range(n):
            ts = start + i * MIN
            out.append(Candle(**common, ts_event=ts, ts_recv=ts + MIN, interval_s=60, open=float(open_[i]),
                              high=float(high[i]), low=float(low[i]), close=float(close[i]), volume=10.0,
                              volume_usd=10.0 * float(close[i]), closed=True))
            out.append(OpenInterest(**common, ts_event=ts + MIN - 10**9, ts_recv=ts + MIN, open_interest=float(oi[i]),
                                    open_interest_usd=float(oi[i] * close[i]), reference_price=float(close[i]),
                                    raw_value=float(oi[i]), raw_unit=OpenInterestUnit.BASE, raw_two_sided=False,
                                    origin=Origin.POLL))
    return out


def _best(fn: object, reps: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return best, result


def run_heatmap(quick: bool) -> Row:
    days = 30
    reps = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        store.write(scenario(days))
        bars = days * 1440 * len(VENUES)
        t_grid, grid = _best(lambda: heatmap_grid(store, coin="BTC", since=END - days * DAY, until=END), reps)
        t_map, m = _best(lambda: current_map(store, coin="BTC", at=END, lookback_ns=days * DAY), reps)
        store.close()
    assert isinstance(grid, dict) and isinstance(m, dict)
    row = Row(case=f"heatmap 30d×1m, 1 coin, {len(VENUES)} venues", n=bars, unit="bars/s", liqwatch=bars / t_grid)
    row.checks.append(("30-day 1m heatmap < 1 s", t_grid < 1.0, f"{t_grid * 1000:.0f} ms, {len(grid['cells']):,} cells, "
                                                                f"{len(grid['x_axis'])} columns × {len(grid['y_axis'])} rows"))
    row.checks.append(("map has levels", not m["empty"], f"{len(m['buckets'])} buckets, {t_map * 1000:.0f} ms for the 30-day map"))
    row.notes.append(f"grid {t_grid * 1000:.0f} ms, 30-day map {t_map * 1000:.0f} ms (best of {reps}); "
                     f"{sum(s['levels'] for s in grid['symbols']):,} levels")
    return row


CASES = [Case("heatmap 30d 1m", run_heatmap, "heatmap")]
