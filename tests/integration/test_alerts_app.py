"""`App` with [alerts] rules: recorded Bybit liquidations from the local exchange server → alerts at a local webhook."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from _local import wait_until
from test_all_venues_local import settled, source

from alert_receiver import Receiver
from liqwatch.alerts import recent_alerts
from liqwatch.alerts.settings import AlertSettings
from liqwatch.app import App
from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings
from liqwatch.sim import VenueServer
from liqwatch.storage.duckdb_store import DuckDBStore

pytestmark = pytest.mark.timeout(30)


async def test_up_delivers_alerts_from_live_events_and_stores_them(tmp_path: Path) -> None:
    db = str(tmp_path / "lw.duckdb")
    async with VenueServer(["bybit"]) as server, Receiver() as rx:
        alerts = msgspec.convert(
            {
                "urls": [rx.url()],
                "terminal": False,
                "timeout_s": 2,
                "rules": [{"type": "liquidation", "name": "any-liq", "min_usd": 1, "cooldown": "1h"}],
            },
            AlertSettings,
            strict=False,
        )
        settings = Settings(
            store=StoreSettings(path=db, flush_interval_s=0.05),
            feeds=FeedSettings(venues=["bybit"], channels=["liquidations"], stale_after_s=5.0),
            venues={"bybit": VenueSettings(ws_url=server.ws_url("bybit"), rest_url=server.rest_url("bybit"))},
            alerts=alerts,
        )
        app = App(settings)
        await app.start()
        try:
            await settled(server, "bybit")
            await server.replay_file("bybit", source("bybit"))
            await wait_until(lambda: len(rx.received) >= 1 and app.status()["alerts"]["destinations"][0]["queued"] == 0, 10, "an alert")
            stats = app.status()["alerts"]
            assert stats["fired"] == len(rx.received) and stats["destinations"][0]["sent"] == stats["fired"]
            assert "alerts" in app.status()["bus"]["subscriptions"]
        finally:
            await app.shutdown()
    store = DuckDBStore(db, read_only=True)
    rows = recent_alerts(store, 0, 2**62)
    store.close()
    assert sorted(r["title"] for r in rows) == sorted(b["title"] for b in rx.received)
    assert all(r["rule"] == "any-liq" and r["delivered"] == 1 and r["values"]["notional_usd"] > 0 for r in rows)
    assert len({r["subject"] for r in rows}) == len(rows)  # one per coin inside the 1h cooldown
    assert all("Coverage: complete liquidation streams (bybit)." in b["message"] for b in rx.received)
