"""`current_map`, `heatmap_grid` and `calibrate` on a real DuckDB file, against hand-computed numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import T0, make_liquidation
from heatmap_scenario import MIN, bar_events
from liqwatch.heatmap import Assumptions, current_map, heatmap_grid
from liqwatch.heatmap.calibrate import THROTTLED_WEIGHT, calibrate
from liqwatch.model import PositionSide
from liqwatch.storage.duckdb_store import DuckDBStore

A = Assumptions(leverages=(10.0, 50.0), weights=(0.5, 0.5), entry_proxy="close", long_share="even", bucket_usd=1.0)
PRICES = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 90, 95), (95, 110, 95, 108)]


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "heat.duckdb")
    # bybit: +2 BTC at 100 on bar 1, then −3 of 12 (keeps 0.75); okx: +10 BTC at 100 on bar 1
    bybit_oi = [10, 12, 9, 9, 9]
    okx_oi = [100, 110, 110, 110, 110]
    s.write(bar_events([(*p, oi) for p, oi in zip(PRICES, bybit_oi, strict=True)], start=T0))
    s.write(bar_events([(*p, oi) for p, oi in zip(PRICES, okx_oi, strict=True)], start=T0, venue="okx", symbol="BTC-USDT-SWAP"))
    return s


def test_current_map_hand_computed(store: DuckDBStore) -> None:
    m = current_map(store, coin="btc", at=T0 + 3 * MIN, assumptions=A)
    # per tier (10x at 90.5/109.5, 50x at 98.5/101.5): bybit 2×100×0.5×0.5×0.75 = 37.5, okx 10×100×0.5×0.5 = 250
    assert m["price"] == 100.0 and m["reference"] == "okx:BTC-USDT-SWAP" and not m["empty"]
    got = {(b["price"], b["long_usd"], b["short_usd"]) for b in m["buckets"]}
    assert got == {(90.5, 287.5, 0.0), (98.5, 287.5, 0.0), (101.5, 0.0, 287.5), (109.5, 0.0, 287.5)}
    by_price = {b["price"]: b for b in m["buckets"]}
    assert by_price[90.5]["long_tiers"] == [287.5, 0.0] and by_price[98.5]["long_tiers"] == [0.0, 287.5]
    assert m["venues"] == {"bybit": {"long_usd": 75.0, "short_usd": 75.0}, "okx": {"long_usd": 500.0, "short_usd": 500.0}}
    assert m["cumulative_long"] == [[98.5, 287.5], [90.5, 575.0]]
    assert m["cumulative_short"] == [[101.5, 287.5], [109.5, 575.0]]
    assert m["within"]["2%"] == {"long_usd": 287.5, "short_usd": 287.5}
    assert m["within"]["5%"] == {"long_usd": 287.5, "short_usd": 287.5}
    assert m["clusters"]["long"]["nearest"]["price"] == 98.5 and m["clusters"]["short"]["largest"]["price"] == 101.5
    assert m["max_pain"]["long"]["price"] == 98.5 and m["max_pain"]["short"]["price"] == 101.5
    assert m["assumptions"]["tiers"] == [{"leverage": 10.0, "share": 0.5}, {"leverage": 50.0, "share": 0.5}]
    assert m["assumptions"]["entry_proxy"] == "close" and m["assumptions"]["bucket_usd"] == 1.0
    assert sorted(r[0] for r in m["cells"]) == ["bybit"] * 4 + ["okx"] * 4


def test_map_after_price_crossed_every_level_is_empty(store: DuckDBStore) -> None:
    m = current_map(store, coin="BTC", at=T0 + 5 * MIN, assumptions=A)
    assert m["empty"] and m["buckets"] == [] and m["max_pain"] == {"long": None, "short": None}
    none = current_map(store, coin="ETH", at=T0 + 5 * MIN)
    assert none["empty"] and "assumptions" in none


def test_heatmap_grid_columns_and_candles(store: DuckDBStore) -> None:
    g = heatmap_grid(store, coin="BTC", since=T0, until=T0 + 5 * MIN, warmup_ns=0, assumptions=A)
    assert g["column_s"] == 60 and len(g["x_axis"]) == 5 and g["bucket"] == 1.0
    per_col = [0.0] * 5
    for x, _, usd in g["cells"]:
        per_col[x] += usd
    # after bar 1: (100 + 500) × 2 sides; bar 2: (75 + 500) × 2; bar 3: longs gone; bar 4: all gone
    assert per_col == pytest.approx([0.0, 1200.0, 1150.0, 575.0, 0.0])
    y = {round(g["y_axis"][c[1]], 6) for c in g["cells"]}
    assert y == {90.0, 98.0, 101.0, 109.0}
    assert g["candles"][3] == [3, 100.0, 101.0, 90.0, 95.0] and len(g["candles"]) == 5


def test_calibrate_hit_rate_recall_and_fitted_weights(store: DuckDBStore) -> None:
    store.write([make_liquidation(ts_event=T0 + 4 * MIN - 10**9, price=90.4, quantity=10.0, position_side=PositionSide.LONG)])
    r = calibrate(store, coin="BTC", since=T0 + 3 * MIN, until=T0 + 5 * MIN, horizon_ns=2 * MIN, step_ns=2 * MIN, assumptions=A)
    by, ok = r["venues"]["bybit"], r["venues"]["okx"]
    assert (by["zones"], by["zones_hit"], by["hit_rate"], by["recall"]) == (4, 1, 0.25, 1.0)
    assert (ok["zones"], ok["zones_hit"], ok["recall"], ok["weight"]) == (4, 0, None, THROTTLED_WEIGHT)
    assert r["pooled"]["hit_rate"] == pytest.approx(1 / (4 + 4 * THROTTLED_WEIGHT)) and r["pooled"]["recall"] == 1.0
    assert r["fitted"]["weights"] == pytest.approx([1.0, 0.0])


def test_calibrate_recovers_the_leverage_mix_of_model_consistent_liquidations(tmp_path: Path) -> None:
    import sys

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    from bench.heatmap import END, scenario

    from liqwatch.heatmap.engine import LONG, build_levels
    from liqwatch.heatmap.series import load_bars

    store = DuckDBStore(tmp_path / "cal.duckdb")
    store.write(scenario(1, seed=3, venues=(("bybit", "BTCUSDT"),)))
    true = Assumptions(weights=(0.0, 0.0, 0.6, 0.0, 0.4))  # 25x and 100x only
    since = END - 2 * 86_400 * 10**9
    (bars,) = load_bars(store, coin="BTC", since=since, until=END)
    lv = build_levels(bars, true)
    dead = np.flatnonzero((lv.death < len(bars)) & (lv.usd > 0))
    keep = np.exp(lv.log_keep[lv.death[dead] - 1] - lv.log_keep[lv.birth[dead]])
    store.write([
        make_liquidation(ts_event=int(bars.ts_open[lv.death[i]]) + 30 * 10**9, price=float(lv.price[i]),
                         quantity=float(lv.usd[i] * k / lv.price[i]), venue_event_id=f"x{i}",
                         position_side=PositionSide.LONG if lv.side[i] == LONG else PositionSide.SHORT)
        for i, k in zip(dead.tolist(), keep.tolist(), strict=True)
    ])
    r = calibrate(store, coin="BTC", since=END - 86_400 * 10**9, until=END)  # default prior 15/30/25/20/10
    fit = r["fitted"]
    # a day's walk never reaches the 5x (−19.5%) or 10x (−9.5%) levels: those tiers keep the prior 15% and 30%;
    # the others share the prior's remaining 55% as planted, 0.6 : 0 : 0.4
    assert fit["identified"] == [False, False, True, True, True]
    assert fit["weights"] == pytest.approx([0.15, 0.30, 0.55 * 0.6, 0.0, 0.55 * 0.4], abs=0.02)
    assert r["venues"]["bybit"]["recall"] > 0.9 and r["venues"]["bybit"]["hit_rate"] > 0.5
