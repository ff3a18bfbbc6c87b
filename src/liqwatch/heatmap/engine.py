"""The OI-delta liquidation-level model (docs/analytics.md §2.2), vectorised with numpy: pure, no I/O.

Per symbol and bar t, in this order:
1. consume: long levels with price ≥ lowₜ and short levels with price ≤ highₜ die (levels created at t are first
   tested on bar t+1);
2. remove: when ΔOIₜ < 0, every active level keeps the fraction fₜ = 1 − |ΔOIₜ| / OIₜ₋₁ (closes are spread evenly
   over all open positions, including those opened before the window);
3. create: when ΔOIₜ > 0, each side s and tier L gets N = ΔOIₜ · pₑ · share_s · w_L (USD at entry) at
   pₑ × (1 ∓ 1/L ± MMR ∓ MA/N).

A level's value at bar T is N · exp(Λ_T − Λ_t) with Λ the running sum of log fₜ, so removal never needs a pass
over the levels, and a level's death bar is found by binary lifting over a sparse table of bar lows (highs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from liqwatch.heatmap.assumptions import Assumptions, tier_factors

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
LONG, SHORT = 0, 1
_TINY = 1e-300


@dataclass(frozen=True)
class Bars:
    """One symbol's bars (ascending) with the OI (one-sided, base units) at each bar's close; NaN where unknown."""

    venue: str
    symbol: str
    ts_open: I64
    interval_ns: int
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    volume_usd: F64  # NaN where the venue gave none
    open_interest: F64

    @property
    def ts_close(self) -> I64:
        return self.ts_open + self.interval_ns

    def __len__(self) -> int:
        return int(self.ts_open.shape[0])


@dataclass(frozen=True)
class Levels:
    """The liquidation levels one symbol's bars created, with their birth and death bars."""

    venue: str
    symbol: str
    ts_close: I64  # per bar
    log_keep: F64  # per bar: Λ_t, the running sum of log fₜ
    birth: I64  # per level: bar index
    death: I64  # per level: first bar that crossed it (len(bars) if none)
    price: F64
    usd: F64  # USD at entry when created
    side: npt.NDArray[np.int8]  # LONG / SHORT
    tier: npt.NDArray[np.int8]  # index into Assumptions.leverages
    last_close: float
    skipped_bars: int = 0  # ΔOI beyond Assumptions.max_oi_jump: treated as a data error
    stats: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.birth.shape[0])

    def value_at(self, bar: int) -> F64:
        """Return each level's USD after bar `bar` (0 where it is not alive then)."""
        if bar < 0 or len(self) == 0:
            return np.zeros(len(self))
        alive = (self.birth <= bar) & (self.death > bar)
        keep = np.exp(self.log_keep[bar] - self.log_keep[self.birth])
        return np.where(alive, self.usd * keep, 0.0)

    def bar_at(self, ts: int) -> int:
        """Return the index of the last bar closed at or before `ts` (-1 if none)."""
        return int(np.searchsorted(self.ts_close, ts, side="right")) - 1


def entry_prices(bars: Bars, proxy: str) -> F64:
    """Return the entry-price proxy per bar: VWAP (volume_usd / volume, else typical), typical, or close."""
    typical = (bars.high + bars.low + bars.close) / 3.0
    if proxy == "close":
        return bars.close.copy()
    if proxy == "typical":
        return typical
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = bars.volume_usd / bars.volume
    ok = np.isfinite(vwap) & (vwap >= bars.low) & (vwap <= bars.high) & (bars.volume > 0)
    return np.asarray(np.where(ok, vwap, typical), dtype=np.float64)


def long_shares(bars: Bars, rule: str) -> F64:
    """Return the long share of new OI per bar: 0.5, or 0.25 + 0.5 × (close − low) / (high − low)."""
    if rule == "even":
        return np.full(len(bars), 0.5)
    rng = bars.high - bars.low
    with np.errstate(divide="ignore", invalid="ignore"):
        clv = np.where(rng > 0, (bars.close - bars.low) / rng, 0.5)
    return np.asarray(0.25 + 0.5 * np.clip(np.nan_to_num(clv, nan=0.5), 0.0, 1.0), dtype=np.float64)


def _sparse_min(values: F64) -> list[F64]:
    # table[k][i] = min(values[i : i + 2**k]); values ends in -inf so every search stops at its index
    table = [values]
    step = 1
    while step < values.shape[0]:
        prev = table[-1]
        nxt = prev.copy()
        nxt[:-step] = np.minimum(prev[:-step], prev[step:])
        table.append(nxt)
        step *= 2
    return table


def first_at_or_below(values: F64, start: I64, threshold: F64) -> I64:
    """Return per query the first index i ≥ start with values[i] ≤ threshold (len(values) if none)."""
    n = values.shape[0]
    padded = np.concatenate([np.nan_to_num(values, nan=np.inf), [-np.inf]])
    table = _sparse_min(padded)
    pos = np.minimum(start.astype(np.int64), n)
    for k in range(len(table) - 1, -1, -1):
        jump = table[k][pos] > threshold
        pos = np.where(jump, np.minimum(pos + (1 << k), n), pos)
    return pos


def _clean(bars: Bars) -> tuple[F64, F64, F64]:
    oi = bars.open_interest.astype(np.float64).copy()
    oi[~np.isfinite(oi) | (oi < 0)] = np.nan
    # carry the last known OI forward; before the first observation there is no change
    idx = np.where(np.isfinite(oi), np.arange(oi.shape[0]), -1)
    np.maximum.accumulate(idx, out=idx)
    filled = np.where(idx >= 0, oi[np.maximum(idx, 0)], np.nan)
    prev = np.concatenate([[np.nan], filled[:-1]])
    delta = np.nan_to_num(filled - prev, nan=0.0)
    return filled, prev, delta


def build_levels(bars: Bars, assumptions: Assumptions) -> Levels:
    """Run the model over one symbol's bars; return every level it created."""
    n = len(bars)
    _, prev, delta = _clean(bars)
    ok_bar = np.isfinite(bars.high) & np.isfinite(bars.low) & (bars.low > 0) & (bars.high >= bars.low)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.abs(delta) > assumptions.max_oi_jump * np.nan_to_num(prev, nan=0.0)
    bad = (jump & (delta != 0)) | ~ok_bar
    skipped = int(np.count_nonzero(bad & (delta != 0)))
    delta = np.where(bad, 0.0, delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(delta < 0, 1.0 + delta / prev, 1.0)
    log_keep = np.cumsum(np.log(np.clip(np.nan_to_num(keep, nan=1.0), _TINY, 1.0)))

    entry = entry_prices(bars, assumptions.entry_proxy)
    share_long = long_shares(bars, assumptions.long_share)
    weights = np.asarray(assumptions.normalised_weights())
    long_f, short_f = tier_factors(assumptions, bars.venue)
    created = np.flatnonzero((delta > 0) & np.isfinite(entry) & (entry > 0))
    k = len(weights)
    m = created.shape[0]
    birth = np.repeat(created, 2 * k)
    side = np.tile(np.repeat(np.array([LONG, SHORT], dtype=np.int8), k), m)
    tier = np.tile(np.tile(np.arange(k, dtype=np.int8), 2), m)
    factor = np.tile(np.concatenate([long_f, short_f]), m)
    price = entry[birth] * factor
    side_share = np.where(side == LONG, share_long[birth], 1.0 - share_long[birth])
    usd = delta[birth] * entry[birth] * side_share * weights[tier]

    death = np.full(birth.shape[0], n, dtype=np.int64)
    is_long = side == LONG
    if m:
        death[is_long] = first_at_or_below(bars.low, birth[is_long] + 1, price[is_long])
        death[~is_long] = first_at_or_below(-bars.high, birth[~is_long] + 1, -price[~is_long])
    last_close = float(bars.close[-1]) if n else float("nan")
    return Levels(
        venue=bars.venue, symbol=bars.symbol, ts_close=bars.ts_close, log_keep=log_keep, birth=birth, death=death,
        price=price, usd=usd, side=side, tier=tier, last_close=last_close, skipped_bars=skipped,
        stats={"bars": float(n), "created_usd": float(usd.sum()), "oi_last": float(np.nan_to_num(prev[-1])) if n else 0.0},
    )


def grid(levels: Levels, col_times: I64, price_lo: float, bucket: float, n_buckets: int) -> tuple[F64, F64]:
    """Return (long, short) USD per column × bucket: the levels alive after the last bar closed ≤ each column time."""
    ncol = col_times.shape[0]
    out_long = np.zeros((ncol, n_buckets))
    out_short = np.zeros((ncol, n_buckets))
    if len(levels) == 0 or ncol == 0:
        return out_long, out_short
    snap = np.searchsorted(levels.ts_close, col_times, side="right") - 1  # bar index per column (-1: none yet)
    lam = np.concatenate([[0.0], levels.log_keep])  # lam[i + 1] = Λ_i, lam[0] for "no bar"
    jb = np.searchsorted(snap, levels.birth, side="left")
    jd = np.searchsorted(snap, levels.death, side="left")
    bucket_idx = np.floor((levels.price - price_lo) / bucket).astype(np.int64)
    use = (jb < jd) & (bucket_idx >= 0) & (bucket_idx < n_buckets)
    b_lam = levels.log_keep[levels.birth]
    for side, out in ((LONG, out_long), (SHORT, out_short)):
        sel = use & (levels.side == side)
        jbs, jds, bi, usd, bl = jb[sel], jd[sel], bucket_idx[sel], levels.usd[sel], b_lam[sel]
        born = np.bincount(jbs * n_buckets + bi, weights=usd * np.exp(lam[snap[jbs] + 1] - bl),
                           minlength=(ncol + 1) * n_buckets).reshape(ncol + 1, n_buckets)
        gone = jds < ncol
        died = np.bincount(jds[gone] * n_buckets + bi[gone],
                           weights=usd[gone] * np.exp(lam[snap[jds[gone]] + 1] - bl[gone]),
                           minlength=(ncol + 1) * n_buckets).reshape(ncol + 1, n_buckets)
        state = np.zeros(n_buckets)
        prev_lam = 0.0
        for j in range(ncol):
            now_lam = lam[snap[j] + 1]
            state = state * np.exp(now_lam - prev_lam) + born[j] - died[j]
            np.maximum(state, 0.0, out=state)
            out[j] = state
            prev_lam = now_lam
    return out_long, out_short
