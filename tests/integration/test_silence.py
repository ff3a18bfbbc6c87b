"""A venue flagged silent is marked STALE in the store and reconnected, against the local exchange."""

from __future__ import annotations

from pathlib import Path

import pytest
from _local import wait_until

from liqwatch import config
from liqwatch.model import FeedState, FeedStatus
from liqwatch.roles.up import App
from liqwatch.sim import VenueServer

pytestmark = pytest.mark.timeout(30)


async def test_silent_venue_is_restarted_and_the_gap_is_stored(tmp_path: Path) -> None:
    async with VenueServer(("binance-usdm",)) as server:
        settings = config.load(
            environ={
                "LIQWATCH__VENUES__BINANCE_USDM__WS_URL": server.ws_url("binance-usdm"),
                "LIQWATCH__VENUES__BINANCE_USDM__REST_URL": server.rest_url("binance-usdm"),
                "LIQWATCH__FEEDS__VENUES": "binance-usdm",
                "LIQWATCH__FEEDS__CHANNELS": "liquidations",
                "LIQWATCH__STORE__FLUSH_INTERVAL_S": "0.1",
                "LIQWATCH__WEB__ENABLED": "false",
            }
        )
        app = App(settings, db=str(tmp_path / "s.duckdb"))
        seen: list[FeedStatus] = []
        app.bus.on_events(lambda events: seen.extend(e for e in events if isinstance(e, FeedStatus)))
        await app.start()
        try:
            await server.wait_subscribed("binance-usdm", 1, timeout_s=10)
            await app.restart_silent([("binance-usdm", "no liquidation for 15 min while peers reported some (bybit 40)")])
            await server.wait_subscribed("binance-usdm", 2, timeout_s=10)  # reconnected and resubscribed
            await wait_until(lambda: any(s.state is FeedState.CONNECTED for s in seen[-3:]), what="connected again")
        finally:
            await app.shutdown()
        stale = [s for s in seen if s.state is FeedState.STALE]
        assert stale and "no liquidation for 15 min" in stale[0].detail
        from liqwatch.storage import open_store

        store = open_store(tmp_path / "s.duckdb")
        outages = store.venues_active(since=0, until=2**62)
        store.close()
        assert outages[0]["venue"] == "binance-usdm" and outages[0]["outages"] >= 1
