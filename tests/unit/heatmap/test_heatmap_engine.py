"""The OI-delta model's level arithmetic and OI bookkeeping against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from liqwatch.heatmap.assumptions import (
    Assumptions,
    MarginBracket,
    liquidation_price,
    nice_step,
    tier_factors,
)
from liqwatch.heatmap.engine import LONG, SHORT, Bars, build_levels, first_at_or_below, grid, long_shares

MIN = 60 * 10**9
ONE_TIER = Assumptions(leverages=(10.0,), weights=(1.0,), entry_proxy="close", long_share="even")


def bars(rows: list[tuple[float, float, float, float, float]], venue: str = "bybit") -> Bars:
    """rows: (open, high, low, close, open interest) per 1m bar from t=0."""
    a = np.array(rows, dtype=np.float64)
    n = a.shape[0]
    return Bars(venue=venue, symbol="BTCUSDT", ts_open=np.arange(n, dtype=np.int64) * MIN, interval_ns=MIN,
                open=a[:, 0], high=a[:, 1], low=a[:, 2], close=a[:, 3], volume=np.ones(n),
                volume_usd=np.full(n, np.nan), open_interest=a[:, 4])


def test_liquidation_price_isolated_margin_with_maintenance_amount() -> None:
    # long 100000 × (1 − 0.1 + 0.004 − 50/100000) = 90350; short 100000 × (1 + 0.1 − 0.004 + 0.0005) = 109650
    assert liquidation_price(100_000, 10, long=True, mmr=0.004, amount_usd=50, notional_usd=100_000) == pytest.approx(90_350)
    assert liquidation_price(100_000, 10, long=False, mmr=0.004, amount_usd=50, notional_usd=100_000) == pytest.approx(109_650)
    # no MMR: the simplest reimplementations' 100x long = 0.99 × entry
    assert liquidation_price(50_000, 100, long=True, mmr=0.0) == pytest.approx(49_500)


def test_tier_factors_pick_the_venue_bracket_for_the_representative_position() -> None:
    brackets = (MarginBracket(max_notional_usd=5_000, rate=0.004), MarginBracket(max_notional_usd=50_000, rate=0.01, amount_usd=30))
    a = Assumptions(leverages=(20.0,), weights=(1.0,), brackets={"binance-usdm": brackets}, position_usd=10_000)
    longs, shorts = tier_factors(a, "binance-usdm")
    assert longs == [pytest.approx(1 - 0.05 + 0.01 - 0.003)]  # 10k falls in the 50k bracket: 1% and 30/10000
    assert shorts == [pytest.approx(1 + 0.05 - 0.01 + 0.003)]
    assert tier_factors(a, "okx")[0] == [pytest.approx(1 - 0.05 + 0.005)]  # default flat 0.5%


def test_create_remove_consume_bookkeeping() -> None:
    lv = build_levels(bars([
        (100, 101, 99, 100, 10),   # first OI: no change
        (100, 101, 99, 100, 12),   # +2 BTC at 100: 100 USD per side at 90.5 (long) and 109.5 (short)
        (100, 101, 99, 100, 9),    # −3 of 12: every level keeps 0.75
        (100, 101, 90, 95, 9),     # low 90 ≤ 90.5: the long level dies
        (95, 110, 95, 108, 9),     # high 110 ≥ 109.5: the short level dies
    ]), ONE_TIER)
    assert len(lv) == 2
    long_i = int(np.flatnonzero(lv.side == LONG)[0])
    short_i = int(np.flatnonzero(lv.side == SHORT)[0])
    assert lv.price[long_i] == pytest.approx(90.5) and lv.price[short_i] == pytest.approx(109.5)
    assert lv.usd[long_i] == pytest.approx(100.0) and lv.usd[short_i] == pytest.approx(100.0)
    assert (lv.birth[long_i], lv.death[long_i], lv.death[short_i]) == (1, 3, 4)
    expected = {0: (0, 0), 1: (100, 100), 2: (75, 75), 3: (0, 75), 4: (0, 0)}
    for bar, (lng, sht) in expected.items():
        v = lv.value_at(bar)
        assert (v[long_i], v[short_i]) == (pytest.approx(lng), pytest.approx(sht)), bar


def test_level_inside_its_own_bar_is_first_tested_on_the_next_bar() -> None:
    a = Assumptions(leverages=(100.0,), weights=(1.0,), entry_proxy="close", long_share="even")
    # 100x long from close 100 sits at 99.5, inside bar 1's range [99, 101]: alive after bar 1, dies on bar 2
    lv = build_levels(bars([(100, 101, 99, 100, 10), (100, 101, 99, 100, 11), (100, 100.2, 99.4, 100, 11)]), a)
    long_i = int(np.flatnonzero(lv.side == LONG)[0])
    assert lv.price[long_i] == pytest.approx(99.5)
    assert (lv.birth[long_i], lv.death[long_i]) == (1, 2)


def test_tier_weights_and_clv_long_share_split_new_oi() -> None:
    a = Assumptions(leverages=(10.0, 50.0), weights=(3.0, 1.0), entry_proxy="close", long_share="clv")
    # bar 1 closes at its high: CLV 1 → long share 0.75; +4 BTC at 200 = 800 USD → long 600 (450 + 150), short 200
    lv = build_levels(bars([(200, 201, 199, 200, 10), (199, 200, 198, 200, 14)]), a)
    got = {(int(s), int(t)): float(u) for s, t, u in zip(lv.side, lv.tier, lv.usd, strict=True)}
    assert got == {(LONG, 0): pytest.approx(450), (LONG, 1): pytest.approx(150),
                   (SHORT, 0): pytest.approx(150), (SHORT, 1): pytest.approx(50)}
    assert long_shares(bars([(1, 2, 1, 1, 0), (1, 1, 1, 1, 0)]), "clv").tolist() == [0.25, 0.5]


def test_oi_glitch_is_skipped_and_bad_input_never_crashes() -> None:
    lv = build_levels(bars([(100, 101, 99, 100, 10), (100, 101, 99, 100, 100), (100, 101, 99, 100, 10)]), ONE_TIER)
    assert len(lv) == 0 and lv.skipped_bars == 2  # ×10 then ÷10: both beyond max_oi_jump
    nan = float("nan")
    lv = build_levels(bars([(nan, nan, nan, nan, nan), (100, 101, 99, 100, nan), (100, 101, 99, 100, 0),
                            (100, 101, 99, 100, 0), (100, 101, 99, 100, 5)]), ONE_TIER)
    assert np.all(np.isfinite(lv.log_keep)) and lv.skipped_bars == 1  # 0 → 5 is an unbounded jump
    empty = build_levels(bars([(1, 1, 1, 1, 1)]), ONE_TIER)
    assert len(empty) == 0 and empty.value_at(0).shape == (0,)


def test_first_at_or_below_finds_the_first_crossing_after_start() -> None:
    values = np.array([5.0, 4, 3, 2, 1, 0, 6])
    got = first_at_or_below(values, np.array([0, 0, 3, 6, 7]), np.array([3.0, 0.5, 10, 1, 1]))
    assert got.tolist() == [2, 5, 3, 7, 7]
    rng = np.random.default_rng(1)
    v = rng.normal(size=500)
    starts = rng.integers(0, 500, size=200)
    thr = rng.normal(size=200) - 1
    brute = [next((i for i in range(s, 500) if v[i] <= t), 500) for s, t in zip(starts, thr, strict=True)]
    assert first_at_or_below(v, starts, thr).tolist() == brute


def test_grid_snapshots_match_value_at() -> None:
    lv = build_levels(bars([
        (100, 101, 99, 100, 10), (100, 101, 99, 100, 12), (100, 101, 99, 100, 9),
        (100, 101, 90, 95, 9), (95, 110, 95, 108, 9),
    ]), ONE_TIER)
    cols = (np.arange(5, dtype=np.int64) + 1) * MIN  # each bar's close
    g_long, g_short = grid(lv, cols, price_lo=80.0, bucket=1.0, n_buckets=40)
    assert g_long[:, 10].tolist() == pytest.approx([0, 100, 75, 0, 0])  # 90.5 in bucket [90, 91)
    assert g_short[:, 29].tolist() == pytest.approx([0, 100, 75, 75, 0])  # 109.5 in bucket [109, 110)
    assert g_long.sum() == pytest.approx(175) and g_short.sum() == pytest.approx(250)
    # two bars per column: snapshots after bars 1 and 3 (the column ends at 2 and 4 minutes)
    g_long2, g_short2 = grid(lv, np.array([2 * MIN, 4 * MIN], dtype=np.int64), 80.0, 1.0, 40)
    assert g_long2[:, 10].tolist() == pytest.approx([100, 0]) and g_short2[:, 29].tolist() == pytest.approx([100, 75])


def test_grid_matches_brute_force_on_a_random_walk() -> None:
    rng = np.random.default_rng(3)
    n = 600
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    high, low = close * (1 + rng.uniform(0, 0.003, n)), close * (1 - rng.uniform(0, 0.003, n))
    oi = 1000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    lv = build_levels(bars([(c, h, lo, c, o) for c, h, lo, o in zip(close, high, low, oi, strict=True)]), Assumptions())
    cols = np.arange(1, n + 1, 7, dtype=np.int64) * MIN
    g_long, g_short = grid(lv, cols, price_lo=50.0, bucket=0.5, n_buckets=300)
    for j, t in enumerate(cols.tolist()):
        v = lv.value_at(lv.bar_at(t))
        idx = np.floor((lv.price - 50.0) / 0.5).astype(int)
        want = np.zeros(300)
        np.add.at(want, idx, v)
        assert (g_long[j] + g_short[j]) == pytest.approx(want, abs=1e-6)


def test_nice_step_rounds_up_to_1_2_5() -> None:
    assert [nice_step(x) for x in (87.0, 100.0, 3.4, 0.012, 150.0)] == [100.0, 100.0, 5.0, 0.02, 200.0]
