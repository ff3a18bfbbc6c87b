"""The overview's liquidation chart in the real browser, over `App` collecting from a local OKX: the stacked bars add
up to the API's total for the window, follow the coin filter, and a liquidation the venue pushes grows the last bar."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_up_dashboard import OKX_LIQ, VENUE, Collector, collector  # noqa: F401  (the fixture)

from liqwatch.model.time import now_ns

pytestmark = pytest.mark.timeout(90)


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read())


def chart(page: Any) -> dict[str, Any]:
    """Return what the page's plotly chart draws: the x of each bar and the y of each trace, and its dataset."""
    return page.evaluate(
        """() => { const c = document.getElementById('liq-chart');
                   return { traces: c.data.map(t => ({ name: t.name, x: t.x, y: t.y })), dataset: { ...c.dataset } }; }"""
    )


def test_chart_bars_add_up_to_the_total_and_grow_live(collector: Collector, browser: Any, screenshots: Path) -> None:  # noqa: F811
    assert collector.app.web is not None, collector.app.web_error
    url = collector.app.web.url
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => document.getElementById('liq-chart').dataset.ready === '1'")
        drawn = chart(page)
        assert [t["name"] for t in drawn["traces"]] == ["longs", "shorts"]
        until = drawn["dataset"]["until"]
        stats = api(f"{url}/api/stats?window=24h&at={until}")
        assert stats["count"] == 1 and stats["short_usd"] > 0  # the ETH short stored an hour before `up` started
        longs, shorts = (sum(t["y"]) for t in drawn["traces"])
        assert longs == pytest.approx(stats["long_usd"]) and shorts == pytest.approx(stats["short_usd"])
        assert longs + shorts == pytest.approx(stats["total_usd"])
        assert drawn["dataset"]["window"] == "24h" and drawn["dataset"]["interval"] == "900"
        page.screenshot(path=str(screenshots / "overview-chart.png"), full_page=True)

        # the coin filter: BTC has nothing stored yet, so its chart is empty
        page.fill("#f-coin", "btc")
        page.wait_for_function("() => document.getElementById('liq-chart').dataset.coin === 'BTC'")
        assert sum(sum(t["y"]) for t in chart(page)["traces"]) == 0

        # a liquidation pushed by the venue (5 contracts of 0.01 BTC at 30,000: $1,500 long) lands in the last bar at once
        page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
        collector.call(collector.server.push(VENUE, OKX_LIQ % (now_ns() // 1_000_000)))
        page.wait_for_function("() => Number(document.getElementById('liq-chart').dataset.last) > 0")
        after = chart(page)
        longs_trace = after["traces"][0]
        assert longs_trace["y"][-1] == pytest.approx(1_500.0)
        assert after["dataset"]["coin"] == "BTC"
        # the series re-read from the store agrees with what the page added
        page.wait_for_function("() => Number(document.getElementById('liq-chart').dataset.until) > " + after["dataset"]["until"],
                               timeout=40_000)
        series = api(f"{url}/api/liquidation-series?window=24h&coin=BTC&at={chart(page)['dataset']['until']}")
        assert series["long_usd"] == pytest.approx(1_500.0) and series["count"] == 1
        assert chart(page)["traces"][0]["y"][-1] == pytest.approx(series["bars"][-1]["long_usd"])

        # the window links switch the chart's window (1h: minute bars)
        page.click("#chart-windows a[data-window='1h']")
        page.wait_for_function("() => document.getElementById('liq-chart').dataset.window === '1h'")
        assert chart(page)["dataset"]["interval"] == "60"
    finally:
        page.close()
