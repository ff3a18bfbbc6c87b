"""Study occurrences: stored signals first, else the documented detection rules on stored liquidations and OI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factories import T0, make_liquidation, make_open_interest
from liqwatch.analytics.occurrences import HOUR_NS, detect_clusters, detect_flushes, occurrences, price_series
from liqwatch.model import PositionSide, Signal
from liqwatch.storage.duckdb_store import DuckDBStore


def test_cluster_rule_needs_the_95th_percentile_and_85_percent_share() -> None:
    n = 100
    hours = (np.arange(n, dtype=np.int64) + 1) * HOUR_NS
    longs, shorts = np.full(n, 1000.0) + np.arange(n), np.full(n, 900.0)
    longs[60], shorts[60] = 50_000.0, 5_000.0  # 91% long, far above the past: a cluster
    longs[70], shorts[70] = 50_000.0, 20_000.0  # 71% long: not one
    longs[10] = 50_000.0  # before 48 hours of history: not one
    assert detect_clusters(hours, longs, shorts, "long").tolist() == [hours[60]]
    assert detect_clusters(hours, longs, shorts, "short").tolist() == []


def test_flush_rule() -> None:
    change = np.full(100, 0.001)
    change[::2] = -0.001
    change[80] = -0.03
    change[90] = -0.01  # below the 5th percentile but not ≤ −2%
    hours = np.arange(100, dtype=np.int64) * HOUR_NS
    assert detect_flushes(hours, change).tolist() == [hours[80]]


def test_occurrences_prefer_stored_signals_and_detect_otherwise(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "occ.duckdb")
    liqs = [make_liquidation(ts_event=T0 + h * HOUR_NS + 1, price=100.0, quantity=10.0 + h % 3,
                             position_side=PositionSide.LONG, venue_event_id=f"a{h}") for h in range(72)]
    liqs.append(make_liquidation(ts_event=T0 + 60 * HOUR_NS + 2, price=100.0, quantity=5000.0, venue_event_id="big"))
    oi = [make_open_interest(ts_event=T0 + h * HOUR_NS + 5, open_interest=80_000.0 * (0.96 if h >= 65 else 1.0)
                             + (h % 2)) for h in range(72)]
    store.write([*liqs, *oi])
    since, until = T0, T0 + 72 * HOUR_NS
    times, src = occurrences(store, kind="long-cluster", coin="btc", since=since, until=until)
    assert (times, src) == ([T0 + 61 * HOUR_NS], "detected")  # the hour [60h, 61h) closes at 61h
    flush, _ = occurrences(store, kind="leverage-flush", coin="BTC", since=since, until=until)
    assert flush == [T0 + 66 * HOUR_NS]  # −4% between hours 64 and 65
    store.write([Signal(kind="long-cluster", coin="BTC", timeframe="1h", direction="bullish", message="m", inputs="{}",
                        ts_event=T0 + 5 * HOUR_NS, ts_recv=T0 + 5 * HOUR_NS)])
    assert occurrences(store, kind="long-cluster", coin="BTC", since=since, until=until) == ([T0 + 5 * HOUR_NS], "signals")
    assert occurrences(store, kind="long-cluster", coin="BTC", since=since, until=until, source="detect")[1] == "detected"
    t, _, info = price_series(store, coin="BTC", since=since, until=until)
    assert t.shape == (0,) and info == {}
