"""The liquidation map at one time: USD per price bucket, side and tier, and its summaries. Pure.

Definitions (ours; no vendor publishes one):
- a *cluster* is a bucket holding at least a quarter of its side's largest bucket;
- the *nearest* cluster is the cluster closest to the price, the *largest* the biggest bucket;
- *within ±2% / ±5%* sums the long buckets in [p·(1−x), p] and the short buckets in [p, p·(1+x)];
- *max pain* of a side is the bucket where the cumulative curve per percent of move from the price peaks
  (moves under 0.5% are not considered): the price a push would liquidate the most per unit of distance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from liqwatch.heatmap.engine import LONG, Levels

CLUSTER_SHARE = 0.25
WITHIN = (0.02, 0.05)
MIN_PAIN_MOVE = 0.005


def map_cells(levels: Sequence[Levels], at: int, bucket: float) -> dict[tuple[str, int, int, int], float]:
    """Return USD per (venue, side, tier, bucket index) of the levels alive at `at`."""
    cells: dict[tuple[str, int, int, int], float] = defaultdict(float)
    for lv in levels:
        value = lv.value_at(lv.bar_at(at))
        live = value > 0
        if not np.any(live):
            continue
        idx = np.floor(lv.price[live] / bucket).astype(np.int64)
        lo, span = int(idx.min()), int(idx.max() - idx.min()) + 1
        tiers = int(lv.tier.max()) + 1
        key = (lv.side[live].astype(np.int64) * tiers + lv.tier[live].astype(np.int64)) * span + (idx - lo)
        uniq, inv = np.unique(key, return_inverse=True)
        sums = np.bincount(inv.ravel(), weights=value[live])
        for k, usd in zip(uniq.tolist(), sums.tolist(), strict=True):
            st, b = divmod(k, span)
            side, tier = divmod(st, tiers)
            cells[(lv.venue, side, tier, b + lo)] += usd
    return dict(cells)


def _cluster(prices: list[float], usd: list[float], price: float) -> dict[str, Any]:
    if not usd or max(usd) <= 0:
        return {"nearest": None, "largest": None}
    top = max(usd)
    largest = usd.index(top)
    near = min((i for i, u in enumerate(usd) if u >= CLUSTER_SHARE * top), key=lambda i: abs(prices[i] - price))
    return {
        "nearest": {"price": prices[near], "usd": usd[near], "distance": prices[near] / price - 1.0},
        "largest": {"price": prices[largest], "usd": top, "distance": prices[largest] / price - 1.0},
    }


def _cumulative(prices: list[float], usd: list[float]) -> list[list[float]]:
    out, total = [], 0.0
    for p, u in zip(prices, usd, strict=True):
        total += u
        out.append([p, total])
    return out


def _max_pain(curve: list[list[float]], price: float) -> dict[str, float] | None:
    best: tuple[float, float, float] | None = None
    for p, cum in curve:
        move = abs(math.log(p / price))
        if move < MIN_PAIN_MOVE or cum <= 0:
            continue
        score = cum / (move * 100.0)
        if best is None or score > best[0]:
            best = (score, p, cum)
    return None if best is None else {"price": best[1], "cumulative_usd": best[2], "usd_per_pct": best[0]}


def summarise(cells: dict[tuple[str, int, int, int], float], *, price: float, bucket: float, tiers: int) -> dict[str, Any]:
    """Return buckets (USD per side and tier), per-venue totals, cumulative curves, clusters, ±2%/±5% and max pain."""
    rows: dict[int, dict[str, Any]] = {}
    venues: dict[str, dict[str, float]] = defaultdict(lambda: {"long_usd": 0.0, "short_usd": 0.0})
    for (venue, side, tier, b), usd in cells.items():
        row = rows.setdefault(b, {"long": [0.0] * tiers, "short": [0.0] * tiers})
        key = "long" if side == LONG else "short"
        row[key][tier] += usd
        venues[venue][f"{key}_usd"] += usd
    buckets = []
    for b in sorted(rows):
        r = rows[b]
        buckets.append({
            "price": (b + 0.5) * bucket, "price_low": b * bucket,
            "long_usd": sum(r["long"]), "short_usd": sum(r["short"]),
            "long_tiers": r["long"], "short_tiers": r["short"],
        })
    below = [x for x in reversed(buckets) if x["long_usd"] > 0]
    above = [x for x in buckets if x["short_usd"] > 0]
    long_prices, long_usd = [x["price"] for x in below], [x["long_usd"] for x in below]
    short_prices, short_usd = [x["price"] for x in above], [x["short_usd"] for x in above]
    cum_long, cum_short = _cumulative(long_prices, long_usd), _cumulative(short_prices, short_usd)
    within = {
        f"{x:.0%}": {
            "long_usd": sum(u for p, u in zip(long_prices, long_usd, strict=True) if p >= price * (1 - x)),
            "short_usd": sum(u for p, u in zip(short_prices, short_usd, strict=True) if p <= price * (1 + x)),
        }
        for x in WITHIN
    }
    return {
        "price": price,
        "bucket": bucket,
        "long_usd": sum(long_usd),
        "short_usd": sum(short_usd),
        "venues": {v: dict(t) for v, t in sorted(venues.items())},
        "buckets": buckets,
        "cumulative_long": cum_long,
        "cumulative_short": cum_short,
        "clusters": {"long": _cluster(long_prices, long_usd, price), "short": _cluster(short_prices, short_usd, price)},
        "within": within,
        "max_pain": {"long": _max_pain(cum_long, price), "short": _max_pain(cum_short, price)},
    }


def cell_rows(cells: dict[tuple[str, int, int, int], float], bucket: float) -> list[list[Any]]:
    """Return the cells as [venue, side, tier, bucket mid price, usd] rows (the input of `stress`)."""
    return [
        [venue, "long" if side == LONG else "short", tier, (b + 0.5) * bucket, usd]
        for (venue, side, tier, b), usd in sorted(cells.items())
    ]
