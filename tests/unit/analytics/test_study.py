"""The event study recovers a planted effect and finds none in a null series."""

from __future__ import annotations

import numpy as np
import pytest

from liqwatch.analytics.study import (
    DAY_NS,
    HOUR_NS,
    decluster,
    event_study,
    forward_returns,
    matched_controls,
    sentence,
)

T0 = 1_700_006_400 * 10**9  # a UTC midnight


def hourly_walk(days: int, seed: int, sigma: float = 0.004) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = days * 24
    times = T0 + np.arange(n, dtype=np.int64) * HOUR_NS
    return times, 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))


def event_times(times: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    slots = np.arange(5, times.shape[0] // 24 - 5) * 24 * HOUR_NS  # one day per slot, spaced ≥ 8 days apart
    days = np.sort(rng.choice(slots[::8] // (24 * HOUR_NS), size=count, replace=False))
    return T0 + days * DAY_NS + rng.integers(0, 24, size=count) * HOUR_NS


def test_forward_returns_hand_computed() -> None:
    times = T0 + np.arange(5, dtype=np.int64) * HOUR_NS
    prices = np.array([100.0, 110.0, 99.0, np.nan, 121.0])
    got = forward_returns(times, prices, times + HOUR_NS // 2, HOUR_NS)
    # asof: 100 → 110 (+10%), 110 → 99 (−10%), 99 → NaN, NaN → 121, past the data
    assert got[:2] == pytest.approx([0.1, -0.1]) and np.isnan(got[2:]).all()
    assert np.isnan(forward_returns(times, prices, np.array([T0 - 10 * HOUR_NS]), HOUR_NS)).all()  # no price before


def test_decluster_and_matched_controls() -> None:
    assert decluster([5, 0, 3, 9, 14], 5).tolist() == [0, 5, 14]
    events = np.array([T0 + 10 * DAY_NS + 7 * HOUR_NS], dtype=np.int64)
    ctrl = matched_controls(events, start=T0, end=T0 + 30 * DAY_NS, exclusion_ns=3 * DAY_NS, per_event=100,
                            rng=np.random.default_rng(0))
    assert ((ctrl - T0) % DAY_NS == 7 * HOUR_NS).all()  # same clock time
    assert (np.abs(ctrl - events[0]) >= 3 * DAY_NS).all() and len(set(ctrl.tolist())) == len(ctrl) == 30 - 5


def test_planted_effect_is_recovered() -> None:
    times, prices = hourly_walk(400, seed=11)
    events = event_times(times, 40, seed=12)
    # plant +2% spread evenly over the 24 hours after each event
    log = np.log(prices)
    for e in events:
        i = int(np.searchsorted(times, e))
        log[i + 1 : i + 25] += np.log(1.02) * np.arange(1, 25)[: len(log[i + 1 : i + 25])] / 24
        log[i + 25 :] += np.log(1.02)
    r = event_study(times, np.exp(log), events, seed=1)
    h24 = r["horizons"]["24h"]
    assert r["events"] == 40 and h24["events"]["n"] == 40
    assert 0.013 < h24["events"]["mean"] < 0.027 and h24["events"]["ci95"][0] > 0
    assert h24["difference"]["effect"] and h24["difference"]["t_stat"] > 3
    assert h24["controls"]["n"] >= 300 and abs(h24["controls"]["mean"]) < 0.005
    assert "after 40 long-cluster events, BTC's 24h return averaged +" in sentence(r, signal="long-cluster", coin="BTC", horizon="24h")


def test_null_series_finds_no_effect() -> None:
    times, prices = hourly_walk(400, seed=21)
    events = event_times(times, 40, seed=22)
    r = event_study(times, prices, events, seed=2)
    for label, h in r["horizons"].items():
        assert not h["difference"]["effect"], label
        lo, hi = h["difference"]["ci95"]
        assert lo < 0 < hi
    assert "no measurable difference" in sentence(r, signal="short-cluster", coin="ETH", horizon="4h")


def test_empty_inputs_do_not_crash() -> None:
    r = event_study(np.zeros(0, dtype=np.int64), np.zeros(0), [])
    assert r["events"] == 0 and r["horizons"]["24h"]["events"]["n"] == 0
    assert sentence(r, signal="oi-flush", coin="BTC", horizon="24h").startswith("no oi-flush events")
