"""LiveAnalytics against a brute-force sum over the same events, for windows whose edges cut minutes anywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from factories import T0, make_liquidation
from liqwatch.analytics.live import LiveAnalytics
from liqwatch.model import ContractType, Liquidation, PositionSide

M = 60 * 10**9
events_st = st.lists(
    st.tuples(st.integers(0, 6 * M), st.sampled_from([PositionSide.LONG, PositionSide.SHORT]),
              st.integers(1, 10**6), st.booleans(), st.booleans()),
    min_size=1, max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(events_st, st.integers(-M, 7 * M), st.integers(1, 8 * M))
def test_totals_equal_a_brute_force_sum(raw: list[tuple[int, PositionSide, int, bool, bool]], end: int, length: int) -> None:
    events = [
        make_liquidation(ts_event=T0 + t, ts_recv=T0 + t, position_side=side, notional_usd=float(usd),
                         contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
                         venue_event_id=None if no_id else f"id{i}")
        for i, (t, side, usd, inverse, no_id) in enumerate(raw)
    ]
    live = LiveAnalytics()
    live.on_events(events)
    live.on_events(events[: len(events) // 2])  # seen twice (a replay on reconnect): counted once
    until = T0 + end
    since = until - length
    first: dict[object, Liquidation] = {}
    for e in events:  # the first copy counts, as in the store (INSERT OR IGNORE) and in LiveAnalytics
        first.setdefault(e.venue_event_id or (e.ts_event, e.position_side, e.contracts, e.price), e)
    unique = first.values()
    inside = [e for e in unique if since < e.ts_event <= until]
    got = live.totals(length, until)
    assert got["count"] == len(inside)
    assert got["long_count"] == sum(1 for e in inside if e.position_side is PositionSide.LONG)
    assert got["total_usd"] == sum(e.notional_usd for e in inside)
    assert got["by_margin"].get("coin", {}).get("count", 0) == sum(1 for e in inside if e.contract_type is ContractType.INVERSE)
    top = sorted(inside, key=lambda e: (-e.notional_usd, e.ts_event))[:5]
    assert [(t["notional_usd"], t["ts_event"]) for t in got["top"]] == [(e.notional_usd, e.ts_event) for e in top]


def test_events_are_not_kept_alive_and_rows_keep_their_fields() -> None:
    """The minutes keep columns, not the events: a cascade's millions of `Liquidation` objects are freed once stored."""
    import sys

    events = [
        make_liquidation(ts_event=T0 + k * 7 * 10**9, ts_recv=T0, notional_usd=float(1000 + k), venue_event_id=f"r{k}",
                         position_side=PositionSide.SHORT if k % 2 else PositionSide.LONG)
        for k in range(30)
    ]
    before = [sys.getrefcount(e) for e in events]
    live = LiveAnalytics()
    live.on_events(events)
    assert [sys.getrefcount(e) for e in events] == before
    got = live.totals(10 * M, T0 + 30 * 7 * 10**9)
    biggest = events[-1]
    assert got["largest"] == {
        "venue": biggest.venue, "symbol": biggest.symbol, "market": biggest.market, "coin": biggest.coin,
        "position_side": "short", "price": biggest.price, "quantity": biggest.quantity,
        "notional_usd": biggest.notional_usd, "ts_event": biggest.ts_event, "ts": got["largest"]["ts"],
    }
    assert type(got["largest"]["position_side"]) is str
    assert got["count"] == 30 and got["short_count"] == 15


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=25, max_size=300), st.integers(0, M), st.booleans())
def test_top_of_a_busy_minute_equals_a_brute_force_sort(usd: list[int], cut: int, rising: bool) -> None:
    """Many events in one minute (a cascade): the kept candidates are cut to the top; any window's top still equals a
    sort of every event in it, whole minute or cut anywhere."""
    values = sorted(usd) if rising else usd  # rising: every event is a new largest
    events = [
        make_liquidation(ts_event=T0 + 1 + k * (M // 400), ts_recv=T0, notional_usd=float(v), venue_event_id=f"b{k}")
        for k, v in enumerate(values)
    ]
    live = LiveAnalytics()
    live.on_events(events)
    for since, until in ((T0, T0 + M), (T0 + cut, T0 + M), (T0, T0 + cut)):
        inside = [e for e in events if since < e.ts_event <= until]
        want = sorted(inside, key=lambda e: (-e.notional_usd, e.ts_event))[:5]
        got = live.totals(until - since, until)
        assert [(t["notional_usd"], t["ts_event"]) for t in got["top"]] == [(e.notional_usd, e.ts_event) for e in want]
        assert got["count"] == len(inside)
