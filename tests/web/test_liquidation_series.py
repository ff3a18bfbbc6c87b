"""The overview's liquidation chart (`/api/liquidation-series`): the bars split the window's total exactly.

One number, one function: over any window, interval and coin, the bars add up to `/api/stats` (= `liqwatch stats
--json`) for the same window, count for count and to the cent, whether the window's edges fall inside minutes (raw
rows), on whole minutes or whole hours (rollup rows).
"""

from __future__ import annotations

from typing import Any

import pytest
from test_api import get

from conftest import Seeded
from liqwatch.model.time import NS_PER_S, ns_to_iso

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("window", ["1h", "24h", "3650d"])
@pytest.mark.parametrize("interval", [None, "1m", "15m", "1h", "1d"])
def test_bars_add_up_to_the_window_total(dashboard: Any, seeded: Seeded, window: str, interval: str | None) -> None:
    at = ns_to_iso(seeded.at)
    query = f"window={window}&at={at}" + (f"&interval={interval}" if interval else "")
    status, series, _ = get(f"{dashboard.url}/api/liquidation-series?{query}")
    assert status == 200, series
    expected = seeded.stats[window]  # `liqwatch stats --json`, run before the dashboard opened the store
    bars = series["bars"]
    assert bars and expected["count"] > 0
    assert sum(b["count"] for b in bars) == expected["count"] == series["count"]
    assert sum(b["long_usd"] for b in bars) == pytest.approx(expected["long_usd"], rel=1e-12, abs=1e-6)
    assert sum(b["short_usd"] for b in bars) == pytest.approx(expected["short_usd"], rel=1e-12, abs=1e-6)
    step = series["interval_s"] * NS_PER_S
    starts = [b["ts_ns"] for b in bars]
    assert starts == sorted(set(starts)) and all(t % step == 0 for t in starts)
    assert series["since_ns"] - step < starts[0] and starts[-1] <= seeded.at  # bars cover (since, until] only
    assert series["until_ns"] == seeded.at
    # the last bar holds the window's newest liquidation
    status, newest, _ = get(f"{dashboard.url}/api/liquidations?window={window}&until={seeded.at}&limit=1")
    assert status == 200 and newest[0]["ts_event"] - newest[0]["ts_event"] % step == starts[-1]


def test_default_interval_and_coin_filter(dashboard: Any, seeded: Seeded) -> None:
    at = ns_to_iso(seeded.at)
    status, day, _ = get(f"{dashboard.url}/api/liquidation-series?window=24h&at={at}")
    assert status == 200 and day["interval_s"] == 900 and len(day["bars"]) <= 97  # at most 120 bars: 15 min for 24 h
    status, hour, _ = get(f"{dashboard.url}/api/liquidation-series?window=1h&at={at}")
    assert status == 200 and hour["interval_s"] == 60
    everything = seeded.stats["3650d"]
    assert len(everything["by_coin"]) > 1
    coin = next(iter(everything["by_coin"]))
    status, one, _ = get(f"{dashboard.url}/api/liquidation-series?window=3650d&at={at}&coin={coin.lower()}")
    assert status == 200 and one["coin"] == coin and one["interval_s"] == 86_400
    stats = everything["by_coin"][coin]
    assert sum(b["count"] for b in one["bars"]) == stats["count"] < everything["count"]
    assert one["long_usd"] + one["short_usd"] == pytest.approx(stats["total_usd"], rel=1e-12)


@pytest.mark.parametrize(
    ("query", "message"),
    [("interval=7m", "interval must be one of"), ("window=0s", "window"), ("coin=%3Cb%3E", "coin must be"), ("at=soon", "at")],
)
def test_bad_parameters(dashboard: Any, query: str, message: str) -> None:
    status, body, _ = get(f"{dashboard.url}/api/liquidation-series?{query}")
    assert status == 400 and message in body["error"]
