"""Signals on closed bars and the market brief, on the generated market day, checked against the raw events."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

import market_day as md
from liqwatch.analytics.brief import build_brief
from liqwatch.analytics.rules import KINDS
from liqwatch.analytics.signals import evaluate, evaluate_and_store, recent_signals
from liqwatch.analytics.text import usd
from liqwatch.config import LevelRules, Settings, SignalSettings
from liqwatch.model import Candle, Liquidation
from liqwatch.storage import open_store
from liqwatch.storage.base import EventStore

AT = md.DAY + 20 * md.H
PARAMS = SignalSettings(
    cluster_min_bars=10,
    levels={"BTC": LevelRules(levels=[105_000.0], zones=[[104_000.0, 106_000.0]])},
)


@pytest.fixture(scope="module")
def day() -> md.MarketDay:
    return md.build()


@pytest.fixture(scope="module")
def store(day: md.MarketDay, tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    s = open_store(tmp_path_factory.mktemp("sig") / "day.duckdb")
    s.write(day.events)
    return s


def close_at(day: md.MarketDay, coin: str, t: int) -> float:
    return next(c.close for c in day.of(Candle) if c.coin == coin and c.interval_s == 60 and c.ts_event + md.M == t)


def test_signals_fire_on_the_cluster_bar_with_their_inputs(store: EventStore, day: md.MarketDay) -> None:
    fired = evaluate(store, PARAMS, since=md.DAY + 6 * md.H, until=md.DAY + 14 * md.H, ts_recv=0)
    bar_close = md.DAY + (md.CLUSTER_HOUR + 1) * md.H
    kinds = {(s.kind, s.coin) for s in fired}
    assert {("long-cluster", "BTC"), ("long-cluster", "ETH"), ("leverage-flush", "BTC"), ("leverage-flush", "ETH")} <= kinds
    assert {("level-cross", "BTC"), ("zone-lost", "BTC")} <= kinds
    assert not any(s.kind == "short-cluster" for s in fired) and {s.kind for s in fired} <= set(KINDS)
    flush = [s for s in fired if s.kind == "leverage-flush" and s.coin == "BTC"]
    assert len(flush) == 1  # fires on entering the condition, not on every bar whose window still holds the drop
    cluster = next(s for s in fired if s.kind == "long-cluster" and s.coin == "BTC")
    assert cluster.ts_event == bar_close
    inputs = json.loads(cluster.inputs)
    bar = [e for e in day.of(Liquidation) if e.coin == "BTC" and bar_close - md.H <= e.ts_event < bar_close]
    longs = sum(e.notional_usd for e in bar if e.position_side.value == "long")
    assert inputs["long_usd"] == pytest.approx(longs)
    assert inputs["long_share"] == pytest.approx(longs / sum(e.notional_usd for e in bar))
    level = next(s for s in fired if s.kind == "level-cross")
    li = json.loads(level.inputs)
    assert li["close"] == close_at(day, "BTC", level.ts_event) and li["prev_close"] == close_at(day, "BTC", level.ts_event - md.H)
    assert li["prev_close"] >= 105_000 > li["close"] and level.direction == "bearish"


def test_quiet_bars_fire_nothing(store: EventStore) -> None:
    assert [s.kind for s in evaluate(store, PARAMS, since=md.DAY + md.H, until=md.DAY + 5 * md.H, ts_recv=0)] == []


def test_the_daily_close_rule_compares_with_the_prior_day(store: EventStore, day: md.MarketDay) -> None:
    fired = evaluate(store, PARAMS, since=md.DAY + md.D - md.H, until=md.DAY + md.D, ts_recv=0)
    daily = next(s for s in fired if s.kind == "close-below-prior-low" and s.coin == "BTC")
    prior_low = min(c.low for c in day.of(Candle) if c.coin == "BTC" and c.interval_s == 60 and md.PRIOR <= c.ts_event < md.DAY)
    inputs = json.loads(daily.inputs)
    assert inputs["close"] == close_at(day, "BTC", md.DAY + md.D) and inputs["prior_day_low"] == prior_low


def test_signals_are_stored_once_and_read_back_with_inputs(day: md.MarketDay, tmp_path: Path) -> None:
    s = open_store(tmp_path / "s.duckdb")
    s.write(day.events)
    window = {"since": md.DAY + 9 * md.H, "until": md.DAY + 11 * md.H}
    first = evaluate_and_store(s, PARAMS, **window, ts_recv=1)
    assert first and evaluate_and_store(s, PARAMS, **window, ts_recv=2) == []
    back = recent_signals(s, since=md.DAY, until=md.DAY + md.D, coin="btc")
    assert {r["kind"] for r in back} == {x.kind for x in first if x.coin == "BTC"}
    assert all(isinstance(r["inputs"], dict) and r["ts"].startswith("2025-11-04") for r in back)


def test_the_brief_states_numbers_reproducible_from_the_events(store: EventStore, day: md.MarketDay) -> None:
    settings = Settings(signals=PARAMS)
    evaluate_and_store(store, PARAMS, since=AT - 24 * md.H, until=AT, ts_recv=0)
    brief = build_brief(store, at=AT, window_ns=24 * md.H, settings=settings)
    rows = [e for e in day.of(Liquidation) if AT - md.D < e.ts_event <= AT]
    total = sum(e.notional_usd for e in rows)
    longs = sum(e.notional_usd for e in rows if e.position_side.value == "long")
    biggest = max(rows, key=lambda e: e.notional_usd)
    text = "\n".join([brief.headline, *brief.takeaways])
    assert usd(total) in brief.headline and f"{longs / total:.0%}" in brief.headline
    assert f"{usd(total)} was liquidated in the 24h" in text and f"({len(rows):,} liquidations)" in text
    btc_longs = sum(e.notional_usd for e in rows if e.coin == "BTC" and e.position_side.value == "long")
    assert f"BTC: {usd(btc_longs)} of longs" in text
    assert f"a {usd(biggest.notional_usd)} {biggest.position_side.value} on {biggest.market} ({biggest.symbol}) at {biggest.venue}" in text
    price = close_at(day, "BTC", AT)
    assert f"{abs((price / md.ATH['BTC'] - 1) * 100):.2f}% below its all-time high of $126,000" in text
    assert "long liquidation cluster" in text and "CME BTC open interest" in text
    coin_from = sum(md.oi_coin("BTC", v, AT - md.D) for v in md.OI_VENUES)
    coin_to = sum(md.oi_coin("BTC", v, AT) for v in md.OI_VENUES)
    assert f"{(coin_to / coin_from - 1) * 100:+.2f}% in coin terms" in text
    assert any("report sampled liquidations: totals are lower bounds" in c for c in brief.caveats)
    assert any("okx (1 outage)" in c for c in brief.caveats)
    d = brief.to_dict()
    assert d["stats"]["total_usd"] == pytest.approx(total) and "charts" not in d
    msgspec.json.encode(d)
    html = brief.to_html()
    assert "data-target='fig-day'" in html and "data-target='fig-coins'" in html and "Not investment advice" in html
    assert "Plotly.newPlot(s.dataset.target" in html  # the standalone page draws its figure blocks itself
    assert brief.to_markdown().startswith(f"# {brief.headline}")


def test_the_brief_reads_well_with_no_data_at_all(tmp_path: Path) -> None:
    store = open_store(tmp_path / "empty.duckdb")
    brief = build_brief(store, at=AT, window_ns=24 * md.H, coin="BTC")
    assert brief.headline == "No BTC liquidations recorded in the 24h to 2025-11-04T20:00 UTC"
    text = "\n".join(brief.takeaways)
    assert "No liquidations were recorded" in text and "No BTC price is stored" in text and "No BTC open interest" in text
    assert "Not investment advice" in brief.to_html() and "No signals fired" in text


def test_the_brief_without_ath_history_says_so(day: md.MarketDay, tmp_path: Path) -> None:
    store = open_store(tmp_path / "noath.duckdb")
    store.write([e for e in day.events if not (isinstance(e, Candle) and e.interval_s == 86_400)])
    brief = build_brief(store, at=AT, window_ns=4 * md.H, coin="ETH")
    text = "\n".join(brief.takeaways)
    assert "stored history from 2025-11-03" in text  # the ATH covers only the stored 1m bars
    assert brief.headline.startswith("ETH liquidations reach")
