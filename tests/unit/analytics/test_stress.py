"""`stress`: USD liquidated between price and a target, the cascade fixed point and the leverage-weight range."""

from __future__ import annotations

from typing import Any

import pytest

from liqwatch.analytics.stress import stress, target_from_move
from liqwatch.errors import ConfigError

MAP: dict[str, Any] = {
    "coin": "BTC", "at": "2025-11-04T00:00:00.000Z", "price": 100.0,
    "assumptions": {"leverages": [10.0, 50.0], "weights": [0.5, 0.5]},
    "cells": [
        ["bybit", "long", 0, 95.0, 1e6], ["bybit", "long", 1, 98.0, 2e6], ["okx", "long", 1, 90.0, 4e6],
        ["bybit", "short", 0, 105.0, 3e6],
    ],
}
SCENARIOS = {"prior": (0.5, 0.5), "low": (1.0, 0.0), "high": (0.0, 1.0)}


def test_down_move_sums_long_cells_between_price_and_target_per_venue() -> None:
    r = stress(MAP, 96.0, scenarios=SCENARIOS)
    assert r["side"] == "long" and r["total_usd"] == pytest.approx(2e6) and r["venues"] == {"bybit": pytest.approx(2e6)}
    r = stress(MAP, 89.0, scenarios=SCENARIOS)
    assert r["venues"] == {"okx": pytest.approx(4e6), "bybit": pytest.approx(3e6)} and r["total_usd"] == pytest.approx(7e6)
    assert r["move"] == pytest.approx(-0.11) and r["cascade"] is None


def test_up_move_sums_short_cells() -> None:
    r = stress(MAP, target_from_move(100.0, 0.06), scenarios=SCENARIOS)
    assert r["side"] == "short" and r["total_usd"] == pytest.approx(3e6)


def test_range_reweights_tiers() -> None:
    # tier 1 holds the 98 cell: all-low-leverage → 0, all-high → 2 × 2M
    r = stress(MAP, 96.0, scenarios=SCENARIOS)
    assert r["range"]["scenarios"] == {"prior": pytest.approx(2e6), "low": pytest.approx(0.0), "high": pytest.approx(4e6)}
    assert (r["range"]["low_usd"], r["range"]["high_usd"]) == (pytest.approx(0.0), pytest.approx(4e6))


def test_cascade_fixed_point_hand_computed() -> None:
    # impact 1% per $1M: 98 → 98 × (1 − 0.01 × 2) = 96.04, which liquidates nothing more
    c = stress(MAP, 98.0, impact=0.01, scenarios=SCENARIOS)["cascade"]
    assert c["final_price"] == pytest.approx(96.04) and c["converged"] and c["extra_usd"] == pytest.approx(0.0)
    # impact 2%: 98 → 94.08 (2M) → reaches the 95 cell (3M) → 98 × 0.94 = 92.12 → stays
    c = stress(MAP, 98.0, impact=0.02, scenarios=SCENARIOS)["cascade"]
    assert c["final_price"] == pytest.approx(92.12) and c["total_usd"] == pytest.approx(3e6)
    assert c["extra_usd"] == pytest.approx(1e6) and c["venues"] == {"bybit": pytest.approx(3e6)}


def test_runaway_cascade_is_capped_and_flagged() -> None:
    # 10% per $1M: 98 → 98 × (1 − 0.2) = 78.4 reaches every long (7M) → 98 × 0.3 = 29.4 < 50: capped at 50
    c = stress(MAP, 98.0, impact=0.1, scenarios=SCENARIOS)["cascade"]
    assert c["runaway"] and not c["converged"] and c["final_price"] == pytest.approx(50.0)
    assert c["total_usd"] == pytest.approx(7e6)


def test_venue_filter_and_bad_input() -> None:
    assert stress(MAP, 89.0, venue="okx", scenarios=SCENARIOS)["total_usd"] == pytest.approx(4e6)
    assert stress({"price": 0}, 90.0)["empty"]
    with pytest.raises(ConfigError):
        stress(MAP, -1.0)
    with pytest.raises(ConfigError):
        stress(MAP, 90.0, impact=float("nan"))
