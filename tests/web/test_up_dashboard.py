"""`App` (what `liqwatch up` runs) with its dashboard, collecting from the local exchange server: the venues page
shows each connection's live state and counters, and a frame pushed by the exchange reaches the browser's feed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from liqwatch import config
from liqwatch.sim import VenueServer

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
VENUE = "okx"
OKX_LIQ = (
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
    b'"ccy":"","posSide":"long","side":"sell","sz":"5","ts":"%d"}],"instFamily":"BTC-USDT",'
    b'"instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
)


class Collector:
    """VenueServer and App (feeds, writer, web) on one event loop in a thread."""

    def __init__(self, db: Path, *, reject: bool = False) -> None:
        self.reject = reject  # the exchange refuses every subscribe (a drift the venues page must show)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.db = db
        self.server = VenueServer((VENUE,))
        self.app: Any = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        from liqwatch.roles.up import App

        await self.server.start()
        if self.reject:
            self.server.reject_subscriptions(VENUE)
        settings = config.load(
            environ={
                f"LIQWATCH__VENUES__{VENUE.upper()}__WS_URL": self.server.ws_url(VENUE),
                f"LIQWATCH__VENUES__{VENUE.upper()}__REST_URL": self.server.rest_url(VENUE),
                "LIQWATCH__FEEDS__VENUES": VENUE,
                "LIQWATCH__FEEDS__COINS": "BTC",
                "LIQWATCH__FEEDS__CHANNELS": "liquidations",
                "LIQWATCH__STORE__FLUSH_INTERVAL_S": "0.1",
                "LIQWATCH__WEB__PORT": "0",
            }
        )
        self.app = App(settings, db=str(self.db))
        await self.app.start()
        if self.reject:
            from liqwatch.feeds.drift import DriftSettings

            for feed in self.app.feeds:  # judged every 0.1 s instead of 5 s; set before the feeds' first check
                feed.drift_settings = DriftSettings(check_interval_s=0.1, settle_s=0.2)
        await self.server.wait_subscribed(VENUE, 1, timeout_s=15)

    async def _stop(self) -> None:
        await self.app.shutdown()
        await self.server.close()

    def __enter__(self) -> Collector:
        self.thread.start()
        self.call(self._start(), timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    import msgspec
    from test_dashboard import liquidation

    from liqwatch.model import PositionSide
    from liqwatch.storage import open_store

    store = open_store(str(tmp_path / "up.duckdb"))  # stored before `up` starts: its live totals must include it
    earlier = liquidation("ETH", PositionSide.SHORT, 7_000.0, venue=VENUE, symbol="ETH-USDT-SWAP")
    store.write([msgspec.structs.replace(earlier, ts_event=earlier.ts_event - 3600 * 10**9)])
    store.close()
    with Collector(tmp_path / "up.duckdb") as c:
        yield c


def test_up_serves_live_venue_state_and_feed(collector: Collector, browser: Any, screenshots: Path) -> None:
    from liqwatch.model.time import now_ns

    assert collector.app.web is not None, collector.app.web_error
    url = collector.app.web.url
    assert url.startswith("http://127.0.0.1:")
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    try:
        page.goto(url + "/venues")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => [...document.querySelectorAll('#venues tbody tr')].some(r => r.cells[2].textContent === 'connected')")
        row = page.eval_on_selector_all(
            "#venues tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )[0]
        assert row[0] == VENUE and row[2] == "connected"
        assert "Live collector" in (page.text_content("#venues-mode") or "")
        page.screenshot(path=str(screenshots / "venues-live.png"), full_page=True)

        page.goto(url + "/")
        page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
        ts_ms = now_ns() // 1_000_000
        collector.call(collector.server.push(VENUE, OKX_LIQ % ts_ms))
        page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.venue === 'okx' && r.dataset.coin === 'BTC')")
        cells = page.eval_on_selector("#feed tbody tr", "r => [...r.cells].map(c => c.textContent)")
        assert cells[1:4] == ["okx", "BTC-USDT-SWAP", "long"]
        # the pushed totals (App.analytics, loaded from the store at start) hold the stored event and the new one
        page.wait_for_function("() => Number(document.querySelector('#totals .card[data-window=\"24h\"] .count').dataset.value) === 2")
        assert page.eval_on_selector('#totals .card[data-window="1h"] .count', "c => Number(c.dataset.value)") == 1
        metrics = page.evaluate("fetch('/metrics').then(r => r.text())")
        assert f'liqwatch_connection_state{{venue="{VENUE}"' in metrics
        assert 'state="connected"} 1' in metrics
    finally:
        page.close()


def test_the_venues_page_shows_a_refused_subscribe_in_the_venues_own_words(
    tmp_path: Path, browser: Any, screenshots: Path
) -> None:
    with Collector(tmp_path / "drift.duckdb", reject=True) as collector:
        assert collector.app.web is not None, collector.app.web_error
        page = browser.new_page(viewport={"width": 1400, "height": 800})
        try:
            page.goto(collector.app.web.url + "/venues")
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#venues tbody tr td.diagnosis')].some(c => c.textContent.includes('60018'))",
                timeout=15_000,
            )
            row = page.eval_on_selector_all("#venues tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")[0]
            assert row[0] == VENUE and row[2] == "connected"  # connected, and yet nothing will come: the page says why
            assert row[-1].startswith("subscribe rejected: 60018: ")  # OKX's own code and words
            page.screenshot(path=str(screenshots / "venues-drift.png"), full_page=True)
            metrics = page.evaluate("fetch('/metrics').then(r => r.text())")
            assert f'liqwatch_drift{{venue="{VENUE}",connection="{row[1]}",kind="subscribe_rejected"}} 1' in metrics
        finally:
            page.close()
