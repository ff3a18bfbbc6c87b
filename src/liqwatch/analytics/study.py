"""Event study: forward returns after signal occurrences versus matched random times. Pure numpy, no I/O.

- Forward return at horizon h: P(t + h) / P(t) − 1, with P the last price at or before each time; an occurrence
  without a price within `max_staleness` of t or t + h (or whose t + h is past the data) is dropped.
- Occurrences closer than `min_gap` to the previous kept one are merged into it (declustering), so overlapping
  windows do not count the same move twice.
- Controls are matched on time of day: each occurrence draws up to `controls_per_event` times at the same
  UTC clock time on other days, none within the longest horizon of any occurrence (no overlap) and none reused.
- Per horizon: mean, median, standard deviation, hit rate (share > 0), the one-sample t-statistic, a percentile
  bootstrap 95% CI of the mean, and the same for the difference to the controls (Welch t, bootstrap CI).
  An effect is reported only when the CI of the difference excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from liqwatch.model.time import NS_PER_S

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
HOUR_NS = 3_600 * NS_PER_S
DAY_NS = 24 * HOUR_NS
DEFAULT_HORIZONS: tuple[tuple[str, int], ...] = (("1h", HOUR_NS), ("4h", 4 * HOUR_NS), ("24h", DAY_NS), ("72h", 3 * DAY_NS))


def forward_returns(times: I64, prices: F64, at: I64, horizon_ns: int, max_staleness_ns: int = HOUR_NS) -> F64:
    """Return P(t + h) / P(t) − 1 per time in `at` (NaN where a price is missing, stale or past the data)."""
    if times.shape[0] == 0 or at.shape[0] == 0:
        return np.full(at.shape[0], np.nan)
    i0 = np.searchsorted(times, at, side="right") - 1
    i1 = np.searchsorted(times, at + horizon_ns, side="right") - 1
    ok = (i0 >= 0) & (at + horizon_ns <= times[-1])
    i0c, i1c = np.maximum(i0, 0), np.maximum(i1, 0)
    ok &= (at - times[i0c] <= max_staleness_ns) & (at + horizon_ns - times[i1c] <= max_staleness_ns)
    p0, p1 = prices[i0c], prices[i1c]
    ok &= np.isfinite(p0) & np.isfinite(p1) & (p0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, p1 / p0 - 1.0, np.nan)


def decluster(at: Sequence[int] | I64, min_gap_ns: int) -> I64:
    """Return the sorted occurrences, dropping any within `min_gap_ns` after the previous kept one."""
    kept: list[int] = []
    for t in sorted(int(x) for x in at):
        if not kept or t - kept[-1] >= min_gap_ns:
            kept.append(t)
    return np.array(kept, dtype=np.int64)


def matched_controls(
    events: I64, *, start: int, end: int, exclusion_ns: int, per_event: int, rng: np.random.Generator
) -> I64:
    """Return control times: same UTC time of day as each event on other days in [start, end], outside ±exclusion."""
    if events.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    sorted_ev = np.sort(events)
    used: set[int] = set()
    out: list[int] = []
    for e in events.tolist():
        k_lo, k_hi = -((e - start) // DAY_NS), (end - e) // DAY_NS
        cands = e + np.arange(k_lo, k_hi + 1, dtype=np.int64) * DAY_NS
        pos = np.searchsorted(sorted_ev, cands)
        near = np.full(cands.shape[0], np.iinfo(np.int64).max)
        for p in (pos - 1, pos):
            pc = np.clip(p, 0, sorted_ev.shape[0] - 1)
            near = np.minimum(near, np.abs(cands - sorted_ev[pc]))
        cands = cands[(near >= exclusion_ns) & (cands >= start) & (cands <= end)]
        cands = np.array([c for c in cands.tolist() if c not in used], dtype=np.int64)
        if cands.shape[0] == 0:
            continue
        pick = rng.choice(cands, size=min(per_event, cands.shape[0]), replace=False)
        used.update(pick.tolist())
        out.extend(pick.tolist())
    return np.array(sorted(out), dtype=np.int64)


def _bootstrap_mean(x: F64, rng: np.random.Generator, n_boot: int) -> tuple[float, float] | None:
    if x.shape[0] < 2:
        return None
    means = x[rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def _bootstrap_diff(x: F64, y: F64, rng: np.random.Generator, n_boot: int) -> tuple[float, float] | None:
    if x.shape[0] < 2 or y.shape[0] < 2:
        return None
    mx = x[rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))].mean(axis=1)
    my = y[rng.integers(0, y.shape[0], size=(n_boot, y.shape[0]))].mean(axis=1)
    d = mx - my
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def describe(x: F64) -> dict[str, Any]:
    """Return n, mean, median, std, hit rate and the one-sample t-statistic of finite values."""
    x = x[np.isfinite(x)]
    n = int(x.shape[0])
    if n == 0:
        return {"n": 0, "mean": None, "median": None, "std": None, "hit_rate": None, "t_stat": None}
    sd = float(x.std(ddof=1)) if n > 1 else None
    t = float(x.mean() / (sd / math.sqrt(n))) if sd else None
    return {"n": n, "mean": float(x.mean()), "median": float(np.median(x)), "std": sd,
            "hit_rate": float(np.mean(x > 0)), "t_stat": t}


def _welch(x: F64, y: F64) -> float | None:
    if x.shape[0] < 2 or y.shape[0] < 2:
        return None
    se = math.sqrt(x.var(ddof=1) / x.shape[0] + y.var(ddof=1) / y.shape[0])
    return float((x.mean() - y.mean()) / se) if se > 0 else None


def event_study(
    times: I64, prices: F64, occurrences: Sequence[int] | I64, *,
    horizons: Sequence[tuple[str, int]] = DEFAULT_HORIZONS, min_gap_ns: int = 4 * HOUR_NS,
    controls_per_event: int = 10, n_boot: int = 2000, seed: int = 0, max_staleness_ns: int = HOUR_NS,
) -> dict[str, Any]:
    """Return per horizon the occurrences' forward returns against matched random times (see the module doc)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(times, kind="stable")
    times, prices = np.asarray(times, dtype=np.int64)[order], np.asarray(prices, dtype=np.float64)[order]
    raw = len(occurrences)
    events = decluster(occurrences, min_gap_ns)
    longest = max((h for _, h in horizons), default=0)
    controls = (
        matched_controls(events, start=int(times[0]), end=int(times[-1]) - longest, exclusion_ns=max(longest, min_gap_ns),
                         per_event=controls_per_event, rng=rng)
        if times.shape[0] else np.zeros(0, dtype=np.int64)
    )
    out: dict[str, Any] = {}
    for label, h in horizons:
        ev = forward_returns(times, prices, events, h, max_staleness_ns)
        ct = forward_returns(times, prices, controls, h, max_staleness_ns)
        ev, ct = ev[np.isfinite(ev)], ct[np.isfinite(ct)]
        ci = _bootstrap_mean(ev, rng, n_boot)
        diff_ci = _bootstrap_diff(ev, ct, rng, n_boot)
        out[label] = {
            "events": {**describe(ev), "ci95": ci},
            "controls": {**describe(ct), "ci95": _bootstrap_mean(ct, rng, n_boot)},
            "difference": {
                "mean": float(ev.mean() - ct.mean()) if ev.size and ct.size else None,
                "t_stat": _welch(ev, ct), "ci95": diff_ci,
                "effect": bool(diff_ci is not None and (diff_ci[0] > 0 or diff_ci[1] < 0)),
            },
        }
    return {"occurrences": raw, "events": int(events.shape[0]), "controls": int(controls.shape[0]),
            "min_gap_s": min_gap_ns // NS_PER_S, "controls_per_event": controls_per_event, "seed": seed,
            "n_boot": n_boot, "horizons": out}


def sentence(result: dict[str, Any], *, signal: str, coin: str, horizon: str) -> str:
    """Return a citable line, e.g. "after 14 long-cluster events, BTC's 24h return averaged +0.80% ± 1.10% …"."""
    h = result["horizons"].get(horizon)
    if not h or not h["events"]["n"]:
        return f"no {signal} events with a {horizon} forward return for {coin} in the stored history"
    ev, ct, diff = h["events"], h["controls"], h["difference"]
    if ev["ci95"] and all(math.isfinite(x) for x in ev["ci95"]):
        half = (ev["ci95"][1] - ev["ci95"][0]) / 2
        spread = f" ± {half:.2%} (95% CI; hit rate {ev['hit_rate']:.0%})"
    else:
        spread = f" (too few events for a 95% CI; hit rate {ev['hit_rate']:.0%})"
    text = f"after {ev['n']} {signal} events, {coin}'s {horizon} return averaged {ev['mean']:+.2%}{spread}"
    if ct["n"] and diff["mean"] is not None:
        verdict = "a measurable difference" if diff["effect"] else "no measurable difference"
        text += f" vs {ct['mean']:+.2%} at {ct['n']} matched random times: {verdict}"
    return text
