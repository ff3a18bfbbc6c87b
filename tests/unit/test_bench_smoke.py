"""Keeps bench/ from rotting: the frame generator must still produce frames liqwatch parses (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

parse_bench = pytest.importorskip("bench.parse")


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


anchored_bench = pytest.importorskip("bench.anchored")


def _liquidations(venue_name: str, frames: list[bytes]) -> list:  # type: ignore[type-arg]
    from liqwatch.feeds.parse import FrameCounters, safe_parse
    from liqwatch.model import Liquidation

    venue, index = anchored_bench.venue_index(venue_name)
    counters = FrameCounters()
    events = [e for f in frames for e in safe_parse(venue, f, index, anchored_bench.TS_RECV, counters)]
    assert not counters.skipped  # every frame parses
    assert all(isinstance(e, Liquidation) for e in events)
    assert all(e.notional_usd > 0 for e in events)
    return events


def test_generated_binance_coinm_frames_parse_to_one_liquidation_each() -> None:
    from liqwatch.model import PositionSide

    n = 1_000
    frames = anchored_bench.binance_coinm_force_order_frames(n, seed=7)
    assert len(frames) == n == len(set(frames))  # distinct frames
    assert frames == anchored_bench.binance_coinm_force_order_frames(n, seed=7)
    events = _liquidations("binance-coinm", frames)
    assert len(events) == n
    assert len({e.symbol for e in events}) > 20  # perpetuals and quarterlies
    assert {e.position_side for e in events} == {PositionSide.LONG, PositionSide.SHORT}
    ref = anchored_bench.binance_coinm_reference(frames)
    assert ref["count"] == n
    assert sum(e.notional_usd for e in events) == pytest.approx(float(ref["usd"]), rel=1e-9)
    assert all(e.notional_usd % 10 == 0 for e in events)  # whole contracts of 10 / 100 USD


def test_generated_bitmex_frames_parse_to_one_liquidation_per_row() -> None:
    n = 1_000
    frames = anchored_bench.bitmex_liquidation_frames(n, seed=7)
    assert len(frames) == n == len(set(frames))
    events = _liquidations("bitmex", frames)
    ref = anchored_bench.bitmex_reference(frames)
    assert n < len(events) == ref["count"] < 3 * n  # one to three rows per frame
    assert len({e.venue_event_id for e in events}) == len(events)  # distinct orderIDs
    assert {e.symbol for e in events} == {"XBTUSD"}
    assert sum(e.notional_usd for e in events) == pytest.approx(float(ref["usd"]), rel=1e-9)


def test_generated_deribit_frames_parse_to_one_liquidation_per_liquidated_side() -> None:
    n = 1_000
    frames = anchored_bench.deribit_liquidation_trade_frames(n, seed=7)
    assert len(frames) == n == len(set(frames))
    events = _liquidations("deribit", frames)
    ref = anchored_bench.deribit_reference(frames)
    assert ref["flagged_trades"] == n
    assert 0 < ref["mt_trades"] < n / 4
    assert len(events) == ref["count"] == n + ref["mt_trades"]  # an MT trade liquidates both sides
    assert {e.contract_type.value for e in events} == {"inverse", "linear"}
    assert sum(e.notional_usd for e in events) == pytest.approx(float(ref["usd"]), rel=1e-9)


@pytest.mark.parametrize("venue", ["bybit", "okx"])
def test_sim_frames_of_the_ccxt_anchored_cases(venue: str) -> None:
    spec = next(s for s in anchored_bench._specs() if s.venue == venue)
    frames = spec.frames(300)
    assert len(frames) == 300 == len(set(frames))
    events = _liquidations(venue, frames)
    ref = spec.reference(frames)
    assert len(events) == ref["count"] == 300
    assert sum(e.notional_usd for e in events) == pytest.approx(float(ref["usd"]), rel=1e-9)


def test_the_memory_bench_publishes_the_scenarios_busiest_hour() -> None:
    # bench/memory.py measures RSS over the busiest hour of the demo scenario (seed 1, as bench/_memory_server.py
    # runs it); a retuned scenario once moved the peak and left the bench publishing 177 liquidations, not ~3,300
    memory_bench = pytest.importorskip("bench.memory")
    from collections import Counter

    from liqwatch.sim.market import Market, SimLiquidation
    from liqwatch.sim.scenario import load_scenario

    scenario = load_scenario("selloff-2025-11-04")
    market = Market(scenario, 1)
    hour_ns = 3600 * 10**9
    per_hour = Counter(
        (e.ts_ns - scenario.ts_start) // hour_ns for e in market.advance(scenario.ts_end) if isinstance(e, SimLiquidation)
    )
    busiest, n = per_hour.most_common(1)[0]
    assert busiest * 3600 == memory_bench.SKIP_S and memory_bench.SIM_S == 3600
    assert n >= memory_bench.BUSY_HOUR_MIN
