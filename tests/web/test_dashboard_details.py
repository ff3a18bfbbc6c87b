"""Issue 18 item 7 in the real browser: the stream badge, history views, the favicon, the coin chart's OI axis and the
heatmap's colour scale."""

from __future__ import annotations

import re
from typing import Any

from conftest import MARKET_AT


def test_badge_says_live_when_connected_and_history_when_pinned(market_page: Any, market_dashboard: Any) -> None:
    base = market_dashboard.url
    market_page.goto(f"{base}/")
    market_page.wait_for_selector("body[data-ready='1']")
    market_page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
    assert market_page.text_content("#feed-title") == "Live liquidations"
    market_page.goto(f"{base}/?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    assert market_page.text_content("#conn") == "history"
    title = market_page.text_content("#feed-title") or ""
    assert title.startswith("Liquidations up to 2025-11-04 20:00") and "Live" not in title
    market_page.goto(f"{base}/venues")
    market_page.wait_for_selector("body[data-ready='1']")
    assert market_page.eval_on_selector("#conn", "c => c.hidden")  # no stream on this page: no 'offline' badge


def test_the_pages_have_a_favicon(market_page: Any, market_dashboard: Any) -> None:
    market_page.goto(f"{market_dashboard.url}/")
    href = market_page.eval_on_selector("link[rel='icon']", "l => l.href")
    response = market_page.request.get(href)
    assert response.status == 200 and b"<svg" in response.body()


def test_coin_chart_oi_axis_is_readable_and_the_heatmap_has_a_colour_scale(market_page: Any, market_dashboard: Any) -> None:
    market_page.goto(f"{market_dashboard.url}/coin/BTC?at={MARKET_AT}&window=24h&interval=15m")
    market_page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    ticks = market_page.eval_on_selector_all("#chart g[class*=\"y2tick\"] text", "t => t.map(x => x.textContent)")
    assert ticks, "the OI axis has tick labels"
    for tick in ticks:
        assert re.fullmatch(r"-?\d+(\.\d{1,2})?[kMGB]?", tick), ticks  # 4.65M, not 4.65478M
    heatmap = market_page.evaluate("document.getElementById('chart').data.filter(t => t.type === 'heatmap').map(t => t.showscale)")
    assert heatmap == [True]
    assert market_page.eval_on_selector_all("#chart .colorbar", "c => c.length") == 1  # drawn, with its title
    assert "heatmap (modelled USD)" in (market_page.text_content("#chart .colorbar") or "")


def test_an_alert_without_destinations_is_not_delivered_0_of_0(browser: Any, tmp_path: Any) -> None:
    """Alerts fired with no destination configured (shown on the dashboard only) read '–', not 'delivered 0/0'."""
    from conftest import checked_page, market_alerts
    from liqwatch import config
    from liqwatch.alerts.history import ensure_tables, insert
    from liqwatch.storage import open_store
    from liqwatch.web.background import BackgroundDashboard

    store = open_store(str(tmp_path / "alerts.duckdb"))
    ensure_tables(store)  # type: ignore[arg-type]
    alerts = market_alerts()
    insert(store, alerts[0], destinations=0)  # type: ignore[arg-type]
    insert(store, alerts[1], destinations=2)  # type: ignore[arg-type]
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1)
    try:
        with BackgroundDashboard(store, settings) as d, checked_page(browser, d.url) as page:
            page.goto(f"{d.url}/?at={MARKET_AT}")
            page.wait_for_selector("body[data-ready='1']")
            cells = page.eval_on_selector_all("#alerts tbody tr", "rows => rows.map(r => r.cells[3].textContent)")
    finally:
        store.close()
    assert sorted(cells) == ["0/2", "–"]
