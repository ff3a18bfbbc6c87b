"""The heatmap and the map as JSON-ready dicts: read the store, run the model, shape the result (the I/O edge)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from liqwatch.heatmap.assumptions import Assumptions, bucket_size, nice_step
from liqwatch.heatmap.engine import Bars, Levels, build_levels, grid
from liqwatch.heatmap.series import SqlStore, load_bars
from liqwatch.heatmap.summary import cell_rows, map_cells, summarise
from liqwatch.model.time import NS_PER_S, ns_to_iso

DAY_NS = 86_400 * NS_PER_S
MAP_LOOKBACK_NS = 7 * DAY_NS
GRID_WARMUP_NS = DAY_NS
COLUMN_WIDTHS_S = (60, 300, 900, 1800, 3600, 4 * 3600, 86_400)


def run_model(
    store: SqlStore, *, coin: str, since: int, until: int, venue: str | None, assumptions: Assumptions
) -> list[tuple[Bars, Levels]]:
    """Load every symbol's bars in (since, until] and build its levels."""
    return [(b, build_levels(b, assumptions)) for b in load_bars(store, coin=coin, since=since, until=until, venue=venue)]


def reference(runs: list[tuple[Bars, Levels]]) -> tuple[Bars, Levels] | None:
    """Return the symbol with the largest OI in USD at its last bar (its close is the map's price)."""
    best = None
    for bars, lv in runs:
        if not len(bars) or not math.isfinite(lv.last_close):
            continue
        size = lv.stats.get("oi_last", 0.0) * lv.last_close
        if best is None or size > best[0]:
            best = (size, bars, lv)
    return None if best is None else (best[1], best[2])


def _empty(coin: str, assumptions: Assumptions, **extra: Any) -> dict[str, Any]:
    return {"coin": coin.upper(), "assumptions": assumptions.to_dict(), "empty": True,
            "reason": "no candles with open interest stored for this coin in the window", **extra}


def _symbols(runs: list[tuple[Bars, Levels]]) -> list[dict[str, Any]]:
    return [
        {"venue": b.venue, "symbol": b.symbol, "bars": len(b), "levels": len(lv), "skipped_bars": lv.skipped_bars,
         "bars_with_oi": int(np.count_nonzero(np.isfinite(b.open_interest)))}
        for b, lv in runs
    ]


def current_map(
    store: SqlStore, *, coin: str, at: int, lookback_ns: int = MAP_LOOKBACK_NS, venue: str | None = None,
    assumptions: Assumptions | None = None,
) -> dict[str, Any]:
    """Return the liquidation map of a coin at `at`, built from the last `lookback_ns` of bars and OI."""
    a = (assumptions or Assumptions()).validate()
    runs = run_model(store, coin=coin, since=at - lookback_ns, until=at, venue=venue, assumptions=a)
    return map_from_runs(runs, coin=coin, at=at, lookback_ns=lookback_ns, assumptions=a)


def map_from_runs(
    runs: list[tuple[Bars, Levels]], *, coin: str, at: int, lookback_ns: int, assumptions: Assumptions
) -> dict[str, Any]:
    """Shape the map of already-built levels (see `current_map`)."""
    ref = reference(runs)
    head = {"at": ns_to_iso(at), "lookback_s": lookback_ns // NS_PER_S}
    if ref is None:
        return _empty(coin, assumptions, **head)
    price = ref[1].last_close
    bucket = bucket_size(assumptions, price)
    levels = [lv for _, lv in runs]
    cells = map_cells(levels, at, bucket)
    out = {"coin": coin.upper(), **head, "reference": f"{ref[0].venue}:{ref[0].symbol}",
           **summarise(cells, price=price, bucket=bucket, tiers=len(assumptions.leverages)),
           "cells": cell_rows(cells, bucket), "symbols": _symbols(runs), "assumptions": assumptions.to_dict()}
    out["empty"] = not cells
    return out


def _column_width(span_ns: int, bar_ns: int, max_columns: int) -> int:
    for w in COLUMN_WIDTHS_S:
        if w * NS_PER_S >= bar_ns and span_ns / (w * NS_PER_S) <= max_columns:
            return w * NS_PER_S
    return COLUMN_WIDTHS_S[-1] * NS_PER_S


def _candles(bars: Bars, ends: np.ndarray[Any, Any], width: int) -> list[list[Any]]:
    close_t = bars.ts_close
    col = np.searchsorted(ends, close_t, side="left")  # the column whose end is the first ≥ the bar's close
    ok = (col < len(ends)) & (close_t > ends[0] - width) & np.isfinite(bars.close)
    out: list[list[Any]] = []
    if not np.any(ok):
        return out
    col, o, h, lo, c = col[ok], bars.open[ok], bars.high[ok], bars.low[ok], bars.close[ok]
    starts = np.flatnonzero(np.concatenate([[True], col[1:] != col[:-1]]))
    ends_i = np.concatenate([starts[1:], [col.shape[0]]]) - 1
    highs, lows = np.maximum.reduceat(h, starts), np.minimum.reduceat(lo, starts)
    for k, s in enumerate(starts):
        out.append([int(col[s]), float(o[s]), float(highs[k]), float(lows[k]), float(c[ends_i[k]])])
    return out


def heatmap_grid(
    store: SqlStore, *, coin: str, since: int, until: int, venue: str | None = None,
    assumptions: Assumptions | None = None, warmup_ns: int = GRID_WARMUP_NS, max_columns: int = 800,
    max_rows: int = 300,
) -> dict[str, Any]:
    """Return the time × price heatmap of modelled active liquidation USD over (since, until], with candles.

    `cells` are [x, y, usd] (CoinGlass's layout) for cells above a millionth of the maximum: x indexes `x_axis` (column end times), y
    indexes `y_axis` (bucket low prices). The model starts `warmup_ns` before `since` so the first column has levels.
    """
    a = (assumptions or Assumptions()).validate()
    runs = run_model(store, coin=coin, since=since - warmup_ns, until=until, venue=venue, assumptions=a)
    return grid_from_runs(runs, coin=coin, since=since, until=until, assumptions=a, warmup_ns=warmup_ns,
                          max_columns=max_columns, max_rows=max_rows)


def grid_from_runs(
    runs: list[tuple[Bars, Levels]], *, coin: str, since: int, until: int, assumptions: Assumptions,
    warmup_ns: int = GRID_WARMUP_NS, max_columns: int = 800, max_rows: int = 300,
) -> dict[str, Any]:
    """Shape the heatmap of already-built levels (see `heatmap_grid`)."""
    head = {"since": ns_to_iso(since), "until": ns_to_iso(until), "warmup_s": warmup_ns // NS_PER_S}
    ref = reference(runs)
    if ref is None or until <= since:
        return _empty(coin, assumptions, **head)
    bars = ref[0]
    width = _column_width(until - since, bars.interval_ns, max_columns)
    first = -(-(since + 1) // width) * width
    ends = np.arange(first, until + 1, width, dtype=np.int64)
    if ends.shape[0] == 0:
        ends = np.array([until], dtype=np.int64)
    in_window = [b for b, _ in runs if len(b)]
    lo = min(float(np.nanmin(b.low[b.ts_close > since])) for b in in_window if np.any(b.ts_close > since))
    hi = max(float(np.nanmax(b.high[b.ts_close > since])) for b in in_window if np.any(b.ts_close > since))
    bucket = assumptions.bucket_usd or nice_step((hi * 1.21 - lo * 0.79) / max_rows)
    price_lo = math.floor(lo * 0.79 / bucket) * bucket
    n_rows = math.ceil((hi * 1.21 - price_lo) / bucket)
    total = np.zeros((ends.shape[0], n_rows))
    for _, lv in runs:
        g_long, g_short = grid(lv, ends, price_lo, bucket, n_rows)
        total += g_long + g_short
    xs, ys = np.nonzero(total > total.max(initial=0.0) * 1e-6)
    return {
        "coin": coin.upper(), **head, "empty": xs.shape[0] == 0, "reference": f"{bars.venue}:{bars.symbol}",
        "column_s": width // NS_PER_S, "bucket": bucket,
        "x_axis": [ns_to_iso(int(t)) for t in ends],
        "y_axis": [price_lo + i * bucket for i in range(n_rows)],
        "cells": list(zip(xs.tolist(), ys.tolist(), total[xs, ys].tolist(), strict=True)),
        "max_usd": float(total.max()) if total.size else 0.0,
        "candles": _candles(bars, ends, width),
        "symbols": _symbols(runs),
        "assumptions": assumptions.to_dict(),
    }
