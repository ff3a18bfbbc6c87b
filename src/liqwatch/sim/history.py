"""Deterministic daily candles before a scenario starts, so its all-time high and recent range are in the store.

Closes follow the coin's `history` keyframes (linear in log price) plus a seeded Brownian bridge that pins
every keyframe; highs and lows widen each day's open/close range. The `ath` is the single highest high, on
`ath_date`; no other day reaches it. Pure: returns Candle events (interval 86400) for the bus.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta

import numpy as np

from liqwatch.model import Candle, Instrument
from liqwatch.model.time import iso_to_ns
from liqwatch.sim.scenario import CoinScenario, Scenario

_DAY_NS = 86_400 * 1_000_000_000


def _keyframes(cfg: CoinScenario, first: date, last: date) -> list[tuple[int, float]]:
    start_price = cfg.path[0][1]
    points = {(date.fromisoformat(d) - first).days: math.log(p) for d, p in cfg.history}
    points.setdefault((last - first).days, math.log(start_price))
    points.setdefault(0, points[min(points)])
    return sorted((k, v) for k, v in points.items() if 0 <= k <= (last - first).days)


def _log_closes(cfg: CoinScenario, rng: np.random.Generator, days: int, keys: list[tuple[int, float]]) -> np.ndarray:
    vol = cfg.daily_volatility
    out = np.empty(days)
    for (d0, y0), (d1, y1) in itertools.pairwise(keys):
        n = d1 - d0
        walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n) * vol)])
        bridge = walk - np.linspace(0.0, 1.0, n + 1) * walk[-1]
        out[d0 : d1 + 1] = np.linspace(y0, y1, n + 1) + bridge
    return out


def daily_candles(scenario: Scenario, instruments: dict[str, Instrument], seed: int) -> list[Candle]:
    """Return closed daily candles of every coin for its `history_days` before the scenario's start day."""
    start_ns = scenario.ts_start - scenario.ts_start % _DAY_NS
    last = date(1970, 1, 1) + timedelta(days=start_ns // _DAY_NS - 1)
    out: list[Candle] = []
    seeds = np.random.SeedSequence([seed, 86400]).spawn(len(scenario.coins))
    for (coin, cfg), child in zip(sorted(scenario.coins.items()), seeds, strict=True):
        inst = instruments.get(coin)
        if inst is None or cfg.history_days <= 0:
            continue
        rng = np.random.default_rng(child)
        first = last - timedelta(days=cfg.history_days - 1)
        keys = _keyframes(cfg, first, last)
        closes = np.exp(_log_closes(cfg, rng, (last - first).days + 1, keys))
        ath_day = (date.fromisoformat(cfg.ath_date) - first).days if cfg.ath_date else -1
        wicks = np.exp(np.abs(rng.standard_normal((len(closes), 2))) * cfg.daily_volatility * 0.5)
        volumes = cfg.volume_usd_per_day * (0.6 + 0.8 * rng.random(len(closes)))
        prev = float(closes[0]) * math.exp(-cfg.daily_volatility * float(rng.standard_normal()))
        for k, close in enumerate(closes.tolist()):
            high, low = max(prev, close) * float(wicks[k, 0]), min(prev, close) / float(wicks[k, 1])
            if cfg.ath is not None:
                cap = cfg.ath if k == ath_day else cfg.ath * 0.999
                close, prev = min(close, cap), min(prev, cap)
                high = cfg.ath if k == ath_day else min(high, cap)
            ts = iso_to_ns((first + timedelta(days=k)).isoformat())
            out.append(Candle(
                venue=inst.venue, symbol=inst.symbol, market=inst.market, coin=inst.coin, ts_event=ts, ts_recv=ts + _DAY_NS,
                interval_s=86_400, open=prev, high=high, low=low, close=close, volume=float(volumes[k]) / close,
                volume_usd=float(volumes[k]), closed=True,
            ))
            prev = close
    return out


__all__ = ["daily_candles"]
