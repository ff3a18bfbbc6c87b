"""App wiring: bus → LiveAnalytics, and closed-bar signals published on the bus and stored by the writer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _local import wait_until

import market_day as md
from liqwatch import config
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.model import Candle, Liquidation, MarkPrice, OpenInterest, Signal
from liqwatch.roles.up import App

pytestmark = pytest.mark.timeout(60)


async def test_the_bus_feeds_live_totals_and_signals_reach_bus_and_store(tmp_path: Path) -> None:
    settings = config.load(signals__cluster_min_bars=10)
    app = App(settings, db=str(tmp_path / "app.duckdb"))
    alerts = app.bus.subscribe("alerts")  # how the alerts engine listens
    day = md.build()
    window = (md.DAY + 6 * md.H, md.DAY + 11 * md.H)
    events = [e for e in day.events if isinstance(e, Liquidation | OpenInterest | Candle | MarkPrice) and e.ts_event <= window[1]]
    for i in range(0, len(events), 2000):
        app.bus.publish(events[i : i + 2000])  # as feeds do: the writer stores, LiveAnalytics counts
    writer = asyncio.create_task(app.writer.run())
    live = app.analytics.totals(window[1] - window[0], at=window[1])

    def stored_count() -> int:
        with app.writer.lock:
            return int(liquidation_stats(app.store, since=window[0], until=window[1])["count"])

    # the writer stores in batches every flush_interval_s: wait for the tail, not a fixed 1.5 s
    await wait_until(lambda: stored_count() >= live["count"], 30, "the writer to store the published liquidations")
    with app.writer.lock:  # the writer may still be storing other tables in its thread
        stored = liquidation_stats(app.store, since=window[0], until=window[1])
    assert live["count"] == stored["count"] > 0 and live["long_usd"] == pytest.approx(stored["long_usd"])
    alerts.drain()
    fired = await app.evaluate_signals(*window)
    assert {("long-cluster", "BTC"), ("leverage-flush", "ETH")} <= {(s.kind, s.coin) for s in fired}
    published = [e for e in alerts.drain() if isinstance(e, Signal)]
    assert published == fired

    def stored_signals() -> int:
        with app.writer.lock:
            return int(app.store.count("signals"))

    await wait_until(lambda: stored_signals() >= len(fired), 30, "the writer to store the signals")  # every flush_interval_s
    assert stored_signals() == len(fired)
    app.writer.stop()
    await writer
    app.store.close()
