"""`App` with [alerts] rules: recorded Bybit liquidations from the local exchange server → alerts at a local webhook."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from _local import wait_until
from test_all_venues_local import golden, pushed_lines, settled, source

from alert_receiver import Receiver
from liqwatch.alerts import recent_alerts
from liqwatch.config import FeedSettings, Settings, StoreSettings, VenueSettings, WebSettings
from liqwatch.config.alerts import AlertSettings
from liqwatch.roles.up import App
from liqwatch.sim import VenueServer
from liqwatch.storage.duckdb_store import DuckDBStore

pytestmark = pytest.mark.timeout(60)


async def test_up_delivers_alerts_from_live_events_and_stores_them(tmp_path: Path) -> None:
    db = str(tmp_path / "lw.duckdb")
    async with VenueServer(["bybit"]) as server, Receiver() as rx:
        alerts = msgspec.convert(
            {
                "urls": [rx.url()],
                "terminal": False,
                "timeout_s": 10,  # a loaded machine answers late; a timed-out attempt would be sent twice
                "rules": [{"type": "liquidation", "name": "any-liq", "min_usd": 1, "cooldown": "1h"}],
            },
            AlertSettings,
            strict=False,
        )
        settings = Settings(
            store=StoreSettings(path=db, flush_interval_s=0.05),
            feeds=FeedSettings(venues=["bybit"], channels=["liquidations"], stale_after_s=60.0),  # silent between pushes: no stale reconnects
            venues={"bybit": VenueSettings(ws_url=server.ws_url("bybit"), rest_url=server.rest_url("bybit"))},
            alerts=alerts,
            web=WebSettings(enabled=False),  # not under test; the default port 8000 may be taken on a shared machine
        )
        app = App(settings)
        await app.start()
        try:
            (feed,) = app.feeds
            await settled(server, "bybit", feed)
            lines = pushed_lines(server, "bybit", source("bybit"))
            assert await server.replay_file("bybit", source("bybit")) == len(lines) > 0
            # one alert per coin (1h cooldown) of the liquidations those frames carry
            coins = {e["coin"] for n in lines for e in golden("bybit")[n] if e["type"] == "liquidation"}
            assert coins

            def delivered() -> bool:  # `sent` counts an answered POST; the receiver records the body before answering
                (dest,) = app.status()["alerts"]["destinations"]
                return bool(dest["sent"] + dest["failed"] >= len(coins) and dest["queued"] == 0)

            await wait_until(delivered, 30, f"{len(coins)} alert(s) delivered")
            stats = app.status()["alerts"]
            assert stats["fired"] == len(coins) == len(rx.received)
            assert stats["destinations"][0]["sent"] == stats["fired"] and stats["destinations"][0]["failed"] == 0
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
