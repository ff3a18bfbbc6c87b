"""Keeps bench/heatmap.py from rotting: its scenario still writes and builds a map (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench.heatmap import END, VENUES, scenario  # noqa: E402

from liqwatch.heatmap import current_map  # noqa: E402
from liqwatch.storage.duckdb_store import DuckDBStore  # noqa: E402


def test_scenario_is_deterministic_and_builds_a_map(tmp_path: Path) -> None:
    events = scenario(0)
    assert len(events) == 2 * 1440 * len(VENUES) and events == scenario(0)
    store = DuckDBStore(tmp_path / "bench.duckdb")
    store.write(events)
    m = current_map(store, coin="BTC", at=END, lookback_ns=2 * 86_400 * 10**9)
    assert not m["empty"] and set(m["venues"]) == {v for v, _ in VENUES}
    assert all(s["bars"] == 1440 for s in m["symbols"])
