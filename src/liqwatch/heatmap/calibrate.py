"""Check the model's predicted liquidation zones against the realised liquidations liqwatch stored, and fit weights.

Every `step` in the window, per venue and side, the model *predicts* the levels alive at τ that price crosses in
(τ, τ + horizon] (their USD at τ), binned into buckets of `tolerance` × price. A *zone* is a bucket holding at
least `ZONE_SHARE` of that side's predicted USD. Against the realised liquidations of that venue and side in the
same (τ, τ + horizon]:

- hit rate (precision): share of zones with a realised liquidation within one bucket;
- recall: share of realised USD within one bucket of a zone.

Venues whose stream is complete (`VenueSpec.liquidations_complete`, e.g. Bybit `allLiquidation`) weigh 1 in the
pooled scores; throttled ones (Binance: at most one per symbol per second) weigh `THROTTLED_WEIGHT`.
Fitted weights: non-negative least squares of realised USD per (τ, venue, side, bucket) on the model's unweighted
USD per leverage tier in that bucket, rows weighted like the venues. Only tiers whose levels price crossed in the
history can be fitted: they share the weight the prior gives them together, the others keep their prior weight
(`fitted.identified` says which).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from liqwatch.heatmap.api import GRID_WARMUP_NS, run_model
from liqwatch.heatmap.assumptions import Assumptions, nice_step
from liqwatch.heatmap.engine import Levels
from liqwatch.heatmap.series import SqlStore
from liqwatch.model.time import NS_PER_S, ns_to_iso
from liqwatch.venues import VENUES

HOUR_NS = 3_600 * NS_PER_S
ZONE_SHARE = 0.05
THROTTLED_WEIGHT = 0.25


def venue_weight(venue: str) -> float:
    """Return a venue's weight in pooled scores: 1 for complete liquidation streams, less for throttled ones."""
    module = VENUES.get(venue)
    return 1.0 if module is not None and module.SPEC.liquidations_complete else THROTTLED_WEIGHT


def _predicted(levels: list[Levels], t0: int, t1: int) -> tuple[np.ndarray[Any, Any], ...]:
    prices, usd, side, tier = [], [], [], []
    for lv in levels:
        b0, b1 = lv.bar_at(t0), lv.bar_at(t1)
        if b0 < 0:
            continue
        sel = (lv.birth <= b0) & (lv.death > b0) & (lv.death <= b1)
        if not np.any(sel):
            continue
        keep = np.exp(lv.log_keep[b0] - lv.log_keep[lv.birth[sel]])
        prices.append(lv.price[sel])
        usd.append(lv.usd[sel] * keep)
        side.append(lv.side[sel])
        tier.append(lv.tier[sel])
    if not prices:
        return tuple(np.zeros(0) for _ in range(4))
    return np.concatenate(prices), np.concatenate(usd), np.concatenate(side), np.concatenate(tier)


def _realised(store: SqlStore, coin: str, since: int, until: int) -> dict[str, list[tuple[int, int, float, float]]]:
    rows = store.execute(
        "SELECT venue, ts_event, position_side, price, notional_usd FROM liquidations "
        "WHERE coin = ? AND ts_event > ? AND ts_event <= ? AND price > 0 ORDER BY ts_event",
        [coin.upper(), since, until],
    )
    out: dict[str, list[tuple[int, int, float, float]]] = defaultdict(list)
    for venue, ts, side, price, usd in rows:
        out[str(venue)].append((int(ts), 0 if side == "long" else 1, float(price), float(usd or 0.0)))
    return out


def calibrate(
    store: SqlStore, *, coin: str, since: int, until: int, horizon_ns: int = HOUR_NS, step_ns: int = HOUR_NS,
    tolerance: float = 0.005, assumptions: Assumptions | None = None,
) -> dict[str, Any]:
    """Return hit rate and recall of the predicted zones per venue and pooled, and leverage weights fitted to them."""
    a = (assumptions or Assumptions()).validate()
    runs = run_model(store, coin=coin, since=since - GRID_WARMUP_NS, until=until, venue=None, assumptions=a)
    realised = _realised(store, coin, since, until)
    by_venue: dict[str, list[Levels]] = defaultdict(list)
    for _, lv in runs:
        by_venue[lv.venue].append(lv)
    weights = np.asarray(a.normalised_weights())
    rows_x: list[np.ndarray[Any, Any]] = []
    rows_y: list[float] = []
    rows_w: list[float] = []
    venues: dict[str, dict[str, Any]] = {}
    for venue in sorted(set(by_venue) | set(realised)):
        levels = by_venue.get(venue, [])
        real = np.array(realised.get(venue, []), dtype=np.float64).reshape(-1, 4)
        ref_price = next((lv.last_close for lv in levels if np.isfinite(lv.last_close)), None)
        if ref_price is None and real.shape[0]:
            ref_price = float(np.median(real[:, 2]))
        bucket = nice_step((ref_price or 1.0) * tolerance)
        score = {"zones": 0, "zones_hit": 0, "realised_usd": 0.0, "realised_in_zone_usd": 0.0, "windows": 0}
        vw = venue_weight(venue)
        for t0 in range(since, until - horizon_ns + 1, step_ns):
            t1 = t0 + horizon_ns
            p, u, s, k = _predicted(levels, t0, t1)
            in_win = real[(real[:, 0] > t0) & (real[:, 0] <= t1)] if real.shape[0] else real
            if not p.shape[0] and not in_win.shape[0]:
                continue
            score["windows"] += 1
            for side in (0, 1):
                ps, us, ks = p[s == side], u[s == side], k[s == side]
                rs = in_win[in_win[:, 1] == side] if in_win.shape[0] else in_win
                pb = np.floor(ps / bucket).astype(np.int64)
                rb = np.floor(rs[:, 2] / bucket).astype(np.int64) if rs.shape[0] else np.zeros(0, dtype=np.int64)
                ru = rs[:, 3] if rs.shape[0] else np.zeros(0)
                score["realised_usd"] += float(ru.sum())
                pred_b: dict[int, np.ndarray[Any, Any]] = defaultdict(lambda: np.zeros(len(weights)))
                for b, usd, t in zip(pb.tolist(), us.tolist(), ks.tolist(), strict=True):
                    pred_b[b][t] += usd
                total = sum(float(v.sum()) for v in pred_b.values())
                zones = {b for b, v in pred_b.items() if total > 0 and v.sum() >= ZONE_SHARE * total}
                real_b: dict[int, float] = defaultdict(float)
                for b, usd in zip(rb.tolist(), ru.tolist(), strict=True):
                    real_b[b] += usd
                near = {z + d for z in zones for d in (-1, 0, 1)}
                score["zones"] += len(zones)
                score["zones_hit"] += sum(1 for z in zones if any(z + d in real_b for d in (-1, 0, 1)))
                score["realised_in_zone_usd"] += sum(usd for b, usd in real_b.items() if b in near)
                for b, v in pred_b.items():
                    rows_x.append(np.divide(v, weights, out=np.zeros_like(v), where=weights > 0))
                    rows_y.append(real_b.get(b, 0.0))
                    rows_w.append(vw)
        venues[venue] = {
            **score, "weight": vw, "bucket": bucket,
            "hit_rate": score["zones_hit"] / score["zones"] if score["zones"] else None,
            "recall": score["realised_in_zone_usd"] / score["realised_usd"] if score["realised_usd"] else None,
        }
    return {
        "coin": coin.upper(), "since": ns_to_iso(since), "until": ns_to_iso(until),
        "horizon_s": horizon_ns // NS_PER_S, "step_s": step_ns // NS_PER_S, "tolerance": tolerance,
        "zone_share": ZONE_SHARE, "venues": venues, "pooled": _pooled(venues),
        "fitted": _fit(rows_x, rows_y, rows_w, a), "assumptions": a.to_dict(),
    }


def _pooled(venues: dict[str, dict[str, Any]]) -> dict[str, Any]:
    z = sum(v["weight"] * v["zones"] for v in venues.values())
    zh = sum(v["weight"] * v["zones_hit"] for v in venues.values())
    r = sum(v["weight"] * v["realised_usd"] for v in venues.values())
    ri = sum(v["weight"] * v["realised_in_zone_usd"] for v in venues.values())
    return {"hit_rate": zh / z if z else None, "recall": ri / r if r else None}


def _fit(rows_x: list[np.ndarray[Any, Any]], rows_y: list[float], rows_w: list[float], a: Assumptions) -> dict[str, Any] | None:
    y = np.asarray(rows_y)
    if len(rows_x) < len(a.leverages) or not np.any(y > 0):
        return None
    from scipy.optimize import nnls

    x = np.vstack(rows_x)
    identified = x.sum(axis=0) > 0  # a tier whose levels price never crossed cannot be fitted
    sw = np.sqrt(np.asarray(rows_w))
    scale = max(float(x.max()), 1.0)
    coef = np.zeros(x.shape[1])
    coef[identified], _ = nnls(x[:, identified] * sw[:, None] / scale, y * sw / scale)
    if not coef.sum() > 0:
        return None
    prior = np.asarray(a.normalised_weights())
    # fitted tiers share what the prior gives them together; tiers without data keep their prior weight
    fitted = np.where(identified, coef / coef.sum() * prior[identified].sum(), prior)
    pred = x @ coef
    ss_res, ss_tot = float(((y - pred) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
    return {
        "weights": [float(w) for w in fitted], "leverages": list(a.leverages), "rows": int(y.shape[0]),
        "identified": [bool(i) for i in identified],
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else None,
        "realised_per_modelled_usd": float(coef.sum()),
    }
