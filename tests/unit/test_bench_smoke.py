"""Keeps bench/ from rotting: the frame generator must still produce frames liqwatch parses (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

parse_bench = pytest.importorskip("bench.parse")

if not (parse_bench.recorded_dir() / parse_bench.BINANCE_EXCHANGE_INFO.name).exists():
    pytest.skip("shared recordings are not available", allow_module_level=True)


def test_generated_binance_frames_parse_to_one_liquidation_each() -> None:
    from liqwatch.model import Liquidation, PositionSide
    from liqwatch.venues import binance

    n = 2_000
    frames = parse_bench.binance_force_order_frames(n, seed=7)
    assert len(frames) == n
    assert frames == parse_bench.binance_force_order_frames(n, seed=7)  # deterministic
    index = parse_bench.binance_instruments()
    events = [e for f in frames for e in binance.parse_frame(f, index, parse_bench.TS_RECV)]
    assert len(events) == n
    assert all(isinstance(e, Liquidation) for e in events)
    assert len({e.symbol for e in events}) > 50  # varied symbols
    assert {e.position_side for e in events} == {PositionSide.LONG, PositionSide.SHORT}
    ref = parse_bench.binance_reference(frames)
    assert ref["count"] == n
    total = sum(e.notional_usd for e in events)
    assert total == pytest.approx(float(ref["fill_notional"]), rel=1e-9)
