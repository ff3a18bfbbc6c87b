"""In chromium: coins and symbols named to break out of inline JSON render as text, and every page works under the CSP.

The store holds the generated market day plus large liquidations of two coins named `<!--<script>` and
`</script><img src=x onerror=…>` (the top coins of the brief: their names are in its chart JSON and titles).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import market_day as md
from conftest import MARKET_AT, checked_page
from liqwatch import config
from liqwatch.model import ContractType, Liquidation, PositionSide, PriceKind
from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(120)
COMMENT = "<!--<script>"
BREAKOUT = "</script><img src=x onerror=alert(1)>"
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def hostile_liquidations() -> list[Liquidation]:
    out = []
    for i, (coin, symbol) in enumerate(((COMMENT, BREAKOUT), (BREAKOUT, COMMENT)) * 3):
        ts = MARKET_AT - (i + 1) * 60 * 10**9
        out.append(Liquidation(
            venue="bybit", symbol=symbol, market=f"{coin}-USDT-PERP", coin=coin, ts_event=ts, ts_recv=ts,
            position_side=PositionSide.LONG if i % 2 else PositionSide.SHORT, venue_side="Sell", price=1.0,
            price_kind=PriceKind.BANKRUPTCY, quantity=5e8, contracts=5e8, notional_usd=5e8, contract_type=ContractType.LINEAR,
            venue_event_id=f"hostile-{i}",
        ))
    return out


@pytest.fixture(scope="module")
def hostile_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    store = open_store(str(tmp_path_factory.mktemp("hostile") / "hostile.duckdb"))
    store.write([*md.build().events, *hostile_liquidations()])
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1)
    with BackgroundDashboard(store, settings) as d:
        yield d
    store.close()


@contextlib.contextmanager
def watched(browser: Any, url: str) -> Iterator[Any]:
    """`checked_page` that also fails on a dialog (alert) and collects CSP violations in `window.__csp`."""
    with checked_page(browser, url) as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
        page.add_init_script(WATCH_CSP)
        yield page
        assert not dialogs, f"a script from a venue string ran: {dialogs}"
        assert page.evaluate("window.__csp") == [], "CSP violations"
        assert not console, console


def test_the_brief_page_renders_hostile_coin_names_as_text(browser: Any, hostile_dashboard: Any, screenshots: Path) -> None:
    with watched(browser, hostile_dashboard.url) as page:
        response = page.goto(f"{hostile_dashboard.url}/brief?at={MARKET_AT}&window=24h")
        assert response is not None and response.status == 200
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#brief footer").count() == 1  # the last element: nothing swallowed the rest of the page
        assert "Not investment advice" in (page.text_content("#brief footer") or "")
        assert page.locator("img[src=x]").count() == 0 and page.locator("main script:not([type]):not([src])").count() == 0
        charts = page.locator("#brief .chart").count()
        assert charts >= 1 and page.locator("#brief .chart:has(.main-svg)").count() == charts  # every figure drawn
        ticks = page.eval_on_selector_all("#fig-coins .xtick text", "ts => ts.map(t => t.textContent)")
        assert COMMENT in ticks and BREAKOUT in ticks  # drawn as the coins' names, from the escaped JSON
        page.screenshot(path=str(screenshots / "brief-hostile.png"))


def test_the_standalone_brief_renders_hostile_coin_names_as_text(browser: Any, hostile_dashboard: Any) -> None:
    with watched(browser, hostile_dashboard.url) as page:
        response = page.goto(f"{hostile_dashboard.url}/api/brief?at={MARKET_AT}&window=24h&format=html")
        assert response is not None and response.status == 200
        page.wait_for_selector("#fig-coins .main-svg")
        assert page.locator("body > footer").count() == 1 and page.locator("img[src=x]").count() == 0
        ticks = page.eval_on_selector_all("#fig-coins .xtick text", "ts => ts.map(t => t.textContent)")
        assert COMMENT in ticks and BREAKOUT in ticks


def test_the_overview_shows_hostile_names_as_text(browser: Any, hostile_dashboard: Any) -> None:
    with watched(browser, hostile_dashboard.url) as page:
        page.goto(f"{hostile_dashboard.url}/?at={MARKET_AT}")
        page.wait_for_selector("body[data-ready='1']")
        body = page.text_content("main") or ""
        assert COMMENT in body and BREAKOUT in body
        assert page.locator("img[src=x]").count() == 0


def test_every_page_works_under_the_csp(browser: Any, hostile_dashboard: Any) -> None:
    base = hostile_dashboard.url
    for path in (f"/?at={MARKET_AT}", "/", "/venues", f"/coin/BTC?at={MARKET_AT}", f"/brief?at={MARKET_AT}"):
        with watched(browser, base) as page:
            response = page.goto(base + path)
            assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_selector("body[data-ready='1']")
            if path == "/":
                page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")  # the live stream
            if path.startswith("/coin"):
                assert page.locator(".main-svg").count() >= 1  # plotly draws under the CSP
