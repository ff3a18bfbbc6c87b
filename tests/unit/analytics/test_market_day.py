"""A generated two-day, five-venue market replayed into a real DuckDB file: every figure against an independent sum."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import market_day as md
from liqwatch.analytics.funding import funding_summary
from liqwatch.analytics.live import LiveAnalytics
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.open_interest import open_interest_between
from liqwatch.analytics.price import price_context
from liqwatch.analytics.sessions import session_stats
from liqwatch.model import Candle, Liquidation, MarkPrice
from liqwatch.storage import open_store
from liqwatch.storage.base import EventStore
from liqwatch.storage.rollup import TABLE

AT = md.DAY + 20 * md.H
WINDOWS = [
    (AT - 24 * md.H, AT),  # the brief's 24h
    (md.DAY + 3 * md.H + 17_500_000_000, md.DAY + 9 * md.H + 59 * md.M + 3_123_456_789),  # edges inside minutes
    (md.DAY + 9 * md.H + 30 * md.M + 1, md.DAY + 9 * md.H + 30 * md.M + 45 * 10**9),  # inside one minute
    (md.PRIOR - md.D, md.DAY + md.D),  # everything
]


@pytest.fixture(scope="module")
def day() -> md.MarketDay:
    return md.build()


@pytest.fixture(scope="module")
def store(day: md.MarketDay, tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    s = open_store(tmp_path_factory.mktemp("day") / "day.duckdb")
    s.write(day.events)
    return s


def margin(e: Liquidation) -> str:
    return "coin" if e.contract_type.value in ("inverse", "quanto") else "stablecoin"


def independent(liqs: list[Liquidation], since: int, until: int) -> dict[str, Any]:
    rows = [e for e in liqs if since < e.ts_event <= until]
    groups: dict[str, dict[str, list[Liquidation]]] = {"by_coin": defaultdict(list), "by_venue": defaultdict(list), "by_margin": defaultdict(list)}
    for e in rows:
        groups["by_coin"][e.coin].append(e)
        groups["by_venue"][e.venue].append(e)
        groups["by_margin"][margin(e)].append(e)
    return {"rows": rows, **groups}


def check_block(block: dict[str, Any], rows: list[Liquidation]) -> None:
    longs = [e.notional_usd for e in rows if e.position_side.value == "long"]
    shorts = [e.notional_usd for e in rows if e.position_side.value == "short"]
    assert block["count"] == len(rows) and block["long_count"] == len(longs)
    assert block["long_usd"] == pytest.approx(sum(longs), rel=1e-12)
    assert block["short_usd"] == pytest.approx(sum(shorts), rel=1e-12)
    if rows:
        assert block["long_share"] == pytest.approx(sum(longs) / (sum(longs) + sum(shorts)))


def check_stats(stats: dict[str, Any], liqs: list[Liquidation], since: int, until: int) -> None:
    ref = independent(liqs, since, until)
    check_block(stats, ref["rows"])
    for key in ("by_coin", "by_venue", "by_margin"):
        assert set(stats[key]) == set(ref[key])
        for name, rows in ref[key].items():
            check_block(stats[key][name], rows)
    top = sorted(ref["rows"], key=lambda e: (-e.notional_usd, e.ts_event))[:5]
    assert [(t["venue"], t["ts_event"], t["notional_usd"]) for t in stats["top"]] == [(e.venue, e.ts_event, e.notional_usd) for e in top]
    assert (stats["largest"] or {}).get("notional_usd") == (top[0].notional_usd if top else None)


@pytest.mark.parametrize("window", WINDOWS, ids=["24h", "ragged", "one-minute", "all"])
def test_stats_from_the_rollup_equal_sums_over_the_raw_events(store: EventStore, day: md.MarketDay, window: tuple[int, int]) -> None:
    since, until = window
    check_stats(liquidation_stats(store, since=since, until=until), day.of(Liquidation), since, until)


def test_the_rollup_is_exact_after_split_batches_duplicates_and_a_rebuild(day: md.MarketDay, tmp_path: Path) -> None:
    liqs = day.of(Liquidation)
    rng = random.Random(3)
    shuffled = liqs[:] + rng.sample(liqs, 500)  # 500 duplicates, written again in later batches
    rng.shuffle(shuffled)
    store = open_store(tmp_path / "split.duckdb")
    for i in range(0, len(shuffled), 700):
        store.write(shuffled[i : i + 700])
    since, until = WINDOWS[1]
    check_stats(liquidation_stats(store, since=since, until=until), liqs, since, until)
    store.execute(f"DELETE FROM {TABLE} WHERE minute % 120000000000 = 0")  # damage it: reopening re-aggregates
    store.close()
    again = open_store(tmp_path / "split.duckdb")
    assert again.execute(f"SELECT sum(n) FROM {TABLE}")[0][0] == len(liqs)
    check_stats(liquidation_stats(again, since=since, until=until), liqs, since, until)


def test_live_totals_have_the_stats_shape_and_numbers(store: EventStore, day: md.MarketDay) -> None:
    live = LiveAnalytics(retention_ns=3 * md.D)
    events = sorted(day.events, key=lambda e: e.ts_event)
    for i in range(0, len(events), 999):
        live.on_events(events[i : i + 999] + events[i : i + 10])  # a replayed tail is not double counted
    for since, until in WINDOWS[:3]:
        got = live.totals(until - since, at=until)
        want = liquidation_stats(store, since=since, until=until)
        check_stats(got, day.of(Liquidation), since, until)
        assert set(want) <= set(got)
        assert got["coverage"]["outages"] == want["coverage"]["outages"]
        assert got["coverage"]["sampled"] == want["coverage"]["sampled"]


def minute_bars(day: md.MarketDay, coin: str) -> list[Candle]:
    return sorted((c for c in day.of(Candle) if c.coin == coin and c.interval_s == 60), key=lambda c: c.ts_event)


def test_price_context_equals_an_independent_reading_of_the_candles(store: EventStore, day: md.MarketDay) -> None:
    bars = minute_bars(day, "BTC")
    closed = [b for b in bars if b.ts_event + md.M <= AT]
    today = [b for b in closed if b.ts_event >= md.DAY]
    prior = [b for b in bars if md.PRIOR <= b.ts_event < md.DAY]
    ctx = price_context(store, coin="BTC", at=AT)
    assert ctx["source"] == {"venue": "binance-usdm", "symbol": "BTCUSDT", "market": "BTC-USDT-PERP"}
    assert ctx["price"] == closed[-1].close
    assert (ctx["day_open"], ctx["day_high"], ctx["day_low"], ctx["day_close"]) == (
        today[0].open, max(b.high for b in today), min(b.low for b in today), today[-1].close,
    )
    assert (ctx["prior_day_high"], ctx["prior_day_low"]) == (max(b.high for b in prior), min(b.low for b in prior))
    assert ctx["ath"] == md.ATH["BTC"] and ctx["ath_ts"].startswith("2025-10-05")
    assert ctx["drawdown_pct"] == pytest.approx((closed[-1].close / md.ATH["BTC"] - 1) * 100)
    ago = next(b for b in bars if b.ts_event + md.M == AT - md.D)
    assert ctx["change_24h_pct"] == pytest.approx((closed[-1].close / ago.close - 1) * 100)


def test_price_context_of_a_coin_without_candles_is_all_none(store: EventStore) -> None:
    ctx = price_context(store, coin="XRP", at=AT)
    assert ctx["price"] is None and ctx["ath"] is None and ctx["drawdown_pct"] is None and ctx["day_low"] is None


def test_oi_between_two_times_decomposes_usd_into_coin_and_price(store: EventStore) -> None:
    start, end = md.DAY + 8 * md.H, md.DAY + 12 * md.H
    total = open_interest_between(store, start=start, end=end, coin="BTC")["coins"]["BTC"]["total"]["changes"]["change"]
    coin_from = sum(md.oi_coin("BTC", v, start) for v in md.OI_VENUES)
    coin_to = sum(md.oi_coin("BTC", v, end) for v in md.OI_VENUES)
    usd_from = sum(md.oi_coin("BTC", v, start) * md.path("BTC", start) for v in md.OI_VENUES)
    usd_to = sum(md.oi_coin("BTC", v, end) * md.path("BTC", end) for v in md.OI_VENUES)
    assert total["coin_change"] == pytest.approx(coin_to / coin_from - 1)
    assert total["usd_change"] == pytest.approx(usd_to / usd_from - 1)
    assert total["price_change"] == pytest.approx(md.path("BTC", end) / md.path("BTC", start) - 1)
    assert total["coin_change_from_usd_and_price"] == pytest.approx((1 + total["usd_change"]) / (1 + total["price_change"]) - 1)


def test_sessions_split_liquidations_and_price_by_configured_hours(store: EventStore, day: md.MarketDay) -> None:
    hours = {"asia": [0.0, 8.0], "europe": [8.0, 14.0], "us": [14.0, 22.0], "late": [22.0, 2.0]}
    got = session_stats(store, day=md.DAY, coin="BTC", sessions=hours)["sessions"]
    bars = minute_bars(day, "BTC")
    for name, (a, b) in hours.items():
        start = md.DAY + int(a * md.H) - (md.D if a > b else 0)
        end = md.DAY + int(b * md.H)
        rows = [e for e in day.of(Liquidation) if e.coin == "BTC" and start <= e.ts_event < end]
        check_block(got[name], rows)
        inside = [c for c in bars if start <= c.ts_event and c.ts_event + md.M <= end]
        assert got[name]["low"] == min(c.low for c in inside) and got[name]["close"] == inside[-1].close
    assert max(got, key=lambda n: got[n]["total_usd"]) == "europe"  # the sell-off hour is in the European session


def test_funding_is_annualised_and_oi_weighted(store: EventStore, day: md.MarketDay) -> None:
    got = funding_summary(store, at=AT, coin="BTC")["coins"]["BTC"]
    t = AT - AT % md.H
    weights = {v: md.oi_coin("BTC", v, AT) * md.path("BTC", AT) for v in md.OI_VENUES}
    rates = {m.venue: m.funding_rate * 3 * 365 for m in day.of(MarkPrice) if m.coin == "BTC" and m.ts_event == t}
    want = sum(rates[v] * weights[v] for v in md.OI_VENUES) / sum(weights.values())
    assert got["weighted_annualised"] == pytest.approx(want)
    assert {s["venue"]: s["annualised"] for s in got["symbols"]} == pytest.approx(rates)


def test_percentile_matches_numpy() -> None:
    from liqwatch.analytics.rules import percentile

    rng = random.Random(1)
    for n in (1, 2, 7, 168):
        values = [rng.lognormvariate(10, 2) for _ in range(n)]
        for q in (0, 50, 95, 99.5, 100):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
