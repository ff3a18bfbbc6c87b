"""The dashboard in a real chromium against a real server over a store seeded by replaying recorded frames."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import BTC_LEVELS, HISTORY_WINDOWS, MARKET_AT, Seeded
from liqwatch.analytics.numbers import tidy
from liqwatch.cli.query import _usd
from liqwatch.model import ContractType, Liquidation, PositionSide, PriceKind
from liqwatch.model.time import now_ns

pytestmark = pytest.mark.timeout(90)
md_H = 3600 * 10**9
HOSTILE = '<img src=x onerror="window.__xss=1">'


def liquidation(coin: str, side: PositionSide, usd: float, *, venue: str = "bybit", symbol: str | None = None) -> Liquidation:
    ts = now_ns()
    price = 50_000.0 if coin == "BTC" else 2_500.0
    return Liquidation(
        venue=venue, symbol=symbol or f"{coin}USDT", market=f"{coin}-USDT-PERP", coin=coin, ts_event=ts, ts_recv=ts,
        position_side=side, venue_side="Buy" if side is PositionSide.LONG else "Sell", price=price,
        price_kind=PriceKind.BANKRUPTCY, quantity=usd / price, contracts=usd / price, notional_usd=usd,
        contract_type=ContractType.LINEAR, venue_event_id=f"web-test-{ts}-{coin}-{usd}",
    )


def card(page: Any, window: str) -> dict[str, Any]:
    return page.eval_on_selector(
        f'#totals .card[data-window="{window}"]',
        """c => ({total: Number(c.querySelector('.total').dataset.usd), text: c.querySelector('.total').textContent,
                  longs: Number(c.querySelector('.longs').dataset.usd), shorts: Number(c.querySelector('.shorts').dataset.usd),
                  count: Number(c.querySelector('.count').dataset.value),
                  sampled: [...c.querySelectorAll('.sampled')].map(b => b.textContent)})""",
    )


def test_overview_totals_equal_liqwatch_stats_json(page: Any, dashboard: Any, seeded: Seeded, screenshots: Path) -> None:
    page.goto(f"{dashboard.url}/?at={seeded.at}&windows={','.join(HISTORY_WINDOWS)}")
    page.wait_for_selector("body[data-ready='1']")
    for window in HISTORY_WINDOWS:
        expected = seeded.stats[window]
        shown = card(page, window)
        assert shown["total"] == expected["total_usd"]
        assert shown["longs"] == expected["long_usd"]
        assert shown["shorts"] == expected["short_usd"]
        assert shown["count"] == expected["count"]
        assert shown["text"] == _usd(expected["total_usd"])
        assert shown["sampled"] == [f"{v} sampled" for v in expected["coverage"]["sampled"]]
    everything = seeded.stats["3650d"]
    assert everything["count"] > 5  # the replay really seeded the store
    venues = page.eval_on_selector_all("#by-venue tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert venues  # the last window's venues
    top = page.eval_on_selector_all("#top tbody tr td[data-value]", "cells => cells.map(c => Number(c.dataset.value))")
    assert top and top == sorted(top, reverse=True)
    page.screenshot(path=str(screenshots / "overview-history.png"), full_page=True)


def test_feed_and_totals_update_live_without_reload(page: Any, dashboard: Any, screenshots: Path) -> None:
    page.goto(f"{dashboard.url}/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
    before = card(page, "1h")
    page.evaluate("window.__marker = 'no reload'")
    events = [
        liquidation("BTC", PositionSide.LONG, 250_000.0),
        liquidation("ETH", PositionSide.SHORT, 12_000.0, venue="okx"),
        liquidation("SOL", PositionSide.LONG, 3_000.0, symbol=HOSTILE),
    ]
    dashboard.publish(events)
    page.wait_for_function("() => document.querySelectorAll('#feed tbody tr').length >= 3 && "
                           "[...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.coin === 'SOL')")
    expected_total = before["total"] + sum(e.notional_usd for e in events)
    page.wait_for_function(
        "t => Math.abs(Number(document.querySelector('#totals .card[data-window=\"1h\"] .total').dataset.usd) - t) < 1e-6",
        arg=expected_total, timeout=15_000,
    )
    shown = card(page, "1h")
    assert shown["longs"] == pytest.approx(before["longs"] + 253_000.0)
    assert shown["shorts"] == pytest.approx(before["shorts"] + 12_000.0)
    assert shown["count"] == before["count"] + 3
    assert page.evaluate("window.__marker") == "no reload"
    # the API reads the store, which has the events once the writer's next flush is done: wait for it
    deadline = time.monotonic() + 15
    while True:
        api = msgspec.json.decode(page.evaluate("fetch('/api/stats?window=1h').then(r => r.text())"))
        if api["total_usd"] == pytest.approx(shown["total"]) or time.monotonic() > deadline:
            break
        page.wait_for_timeout(50)
    assert api["total_usd"] == pytest.approx(shown["total"])

    rows = page.eval_on_selector_all(
        "#feed tbody tr",
        "rows => rows.slice(0, 3).map(r => ({coin: r.dataset.coin, symbol: r.cells[2].textContent, big: r.classList.contains('big'),"
        " usd: Number(r.dataset.usd), imgs: r.querySelectorAll('img').length}))",
    )
    assert [r["coin"] for r in rows] == ["SOL", "ETH", "BTC"]  # newest first
    assert rows[0]["symbol"] == HOSTILE and rows[0]["imgs"] == 0  # a venue string is text, never markup
    assert page.evaluate("window.__xss") is None
    assert [r["big"] for r in rows] == [False, False, True]

    page.fill("#f-coin", "eth")
    coins = page.eval_on_selector_all("#feed tbody tr", "rows => [...new Set(rows.map(r => r.dataset.coin))]")
    assert coins == ["ETH"]
    page.fill("#f-coin", "")
    page.fill("#f-min", "100000")
    assert page.eval_on_selector_all("#feed tbody tr", "rows => rows.map(r => Number(r.dataset.usd))") == [250_000.0]
    page.screenshot(path=str(screenshots / "overview-live.png"), full_page=True)


def test_coin_page_renders_candles_liquidations_and_oi(page: Any, dashboard: Any, seeded: Seeded, screenshots: Path) -> None:
    api = msgspec.json.decode(
        page.request.get(f"{dashboard.url}/api/candles?coin=BTC&window=3650d&interval=1d&at={seeded.at}").body()
    )
    assert api["candles"] and api["liquidations"]
    page.goto(f"{dashboard.url}/coin/BTC?at={seeded.at}&window=3650d&interval=1d")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    traces = page.evaluate("document.getElementById('chart').data.map(t => ({type: t.type, n: t.x.length, name: t.name}))")
    by_name = {t["name"]: t for t in traces}
    assert by_name["price"] == {"type": "candlestick", "n": len(api["candles"]), "name": "price"}
    assert by_name["longs liquidated"]["n"] == len(api["liquidations"])
    assert page.locator("#chart .main-svg").count() >= 1
    assert page.locator("#chart g.trace.boxes, #chart .cartesianlayer .trace").count() >= 2  # drawn, not just data
    assert page.text_content("#market") == f"{api['market']['venue']} {api['market']['symbol']}"
    heatmap = msgspec.json.decode(page.request.get(f"{dashboard.url}/api/heatmap?coin=BTC&window=3650d&at={seeded.at}").body())
    signals = msgspec.json.decode(page.request.get(f"{dashboard.url}/api/signals?coin=BTC&window=3650d&until={seeded.at}").body())
    assert signals and [t["name"] for t in traces if t["name"].startswith("signal: ")] == [f"signal: {s['kind']}" for s in signals]
    drawn = [t for t in traces if t["type"] == "heatmap"]
    if heatmap["grid"]["empty"]:
        assert not drawn and "heatmap: " in (page.text_content("#chart-notes") or "")
    else:
        assert drawn == [{"type": "heatmap", "n": len(heatmap["grid"]["cells"]), "name": "liquidation heatmap"}]
    assert "not available" not in (page.text_content("#chart-notes") or "")
    page.screenshot(path=str(screenshots / "coin-btc.png"), full_page=True)


def test_venues_page_lists_stored_venues(page: Any, dashboard: Any, seeded: Seeded) -> None:
    page.goto(f"{dashboard.url}/venues?at={seeded.at}")
    page.wait_for_selector("body[data-ready='1']")
    venues = page.eval_on_selector_all("#venues tbody tr[data-venue]", "rows => rows.map(r => r.dataset.venue)")
    api = msgspec.json.decode(page.request.get(f"{dashboard.url}/api/venues?at={seeded.at}").body())
    assert venues == [v["venue"] for v in api["venues"]] and venues
    assert "No collector in this process" in (page.text_content("#venues-mode") or "")


def test_brief_page_says_when_the_brief_is_not_in_this_build(page: Any, dashboard: Any) -> None:
    response = page.goto(f"{dashboard.url}/brief")
    assert response is not None
    try:
        import liqwatch.analytics.brief  # noqa: F401
    except ImportError:
        assert response.status == 503
        assert "not available in this build" in (page.text_content("#brief-unavailable") or "")
    else:
        assert response.status == 200
        assert page.locator("#brief *").count() > 0


def test_stays_responsive_during_a_burst(page: Any, dashboard: Any) -> None:
    page.goto(f"{dashboard.url}/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
    burst = [liquidation("BTC", PositionSide.SHORT, 1_000.0 + i) for i in range(5_000)]
    start = time.monotonic()
    dashboard.publish(burst)
    page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => Number(r.dataset.usd) === 5999)",
                           timeout=20_000)
    assert time.monotonic() - start < 10
    assert page.eval_on_selector_all("#feed tbody tr", "rows => rows.length") == 200  # the feed stays bounded
    t0 = time.monotonic()
    assert page.evaluate("1 + 1") == 2
    assert time.monotonic() - t0 < 1.0



def test_coin_table_shows_price_context(market_page: Any, market_dashboard: Any) -> None:
    from liqwatch.analytics.price import price_context

    market_page.goto(f"{market_dashboard.url}/?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    rows = market_page.eval_on_selector_all(
        "#coins tbody tr",
        """rows => rows.map(r => ({coin: r.dataset.coin, price: Number(r.querySelector('.price').dataset.value),
            change: Number(r.querySelector('.change').dataset.value), drawdown: Number(r.querySelector('.drawdown').dataset.value),
            texts: [...r.cells].slice(1, 4).map(c => c.textContent)}))""",
    )
    assert [r["coin"] for r in rows] == ["BTC", "ETH"]
    for r in rows:
        with market_dashboard.writer.lock:
            ctx = price_context(market_dashboard.store, coin=r["coin"], at=MARKET_AT,
                                venues=market_dashboard.settings.analytics.price_venues)
        assert ctx["price"] and ctx["change_24h_pct"] and ctx["drawdown_pct"]  # the market day has all three
        # the API's JSON rounds floats in one place (liqwatch.analytics.numbers): the page shows the tidied figure
        assert (r["price"], r["change"], r["drawdown"]) == tuple(tidy([ctx["price"], ctx["change_24h_pct"], ctx["drawdown_pct"]]))
        assert float(r["texts"][0].replace(",", "")) == pytest.approx(ctx["price"], rel=1e-5)
        assert r["texts"][1:] == [f"{ctx['change_24h_pct']:+.2f}%", f"{ctx['drawdown_pct']:+.2f}%"]
        assert ctx["drawdown_pct"] < 0  # below the ATH the market day puts 30 days back


def test_coin_page_draws_the_current_map_and_configured_levels(market_page: Any, market_dashboard: Any, screenshots: Path) -> None:
    base = market_dashboard.url
    chart = msgspec.json.decode(market_page.request.get(f"{base}/api/candles?coin=BTC&window=24h&interval=15m&at={MARKET_AT}").body())
    heatmap = msgspec.json.decode(market_page.request.get(f"{base}/api/heatmap?coin=BTC&window=24h&at={MARKET_AT}").body())
    assert chart["levels"] == {**BTC_LEVELS, "daily_close": True, "configured": True}
    current = heatmap["current"]
    assert not current["empty"] and current["buckets"]
    market_page.goto(f"{base}/coin/BTC?at={MARKET_AT}&window=24h&interval=15m")
    market_page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    traces = market_page.evaluate(
        "document.getElementById('chart').data.filter(t => t.name.startsWith('map: '))"
        ".map(t => ({name: t.name, y: t.y, x: t.x, orientation: t.orientation, xaxis: t.xaxis, yaxis: t.yaxis}))"
    )
    longs = [b for b in current["buckets"] if b["long_usd"] > 0]
    shorts = [b for b in current["buckets"] if b["short_usd"] > 0]
    assert longs and shorts
    assert traces == [
        {"name": "map: longs at risk", "y": [b["price"] for b in longs], "x": [b["long_usd"] for b in longs],
         "orientation": "h", "xaxis": "x4", "yaxis": "y"},
        {"name": "map: shorts at risk", "y": [b["price"] for b in shorts], "x": [b["short_usd"] for b in shorts],
         "orientation": "h", "xaxis": "x4", "yaxis": "y"},
    ]
    shapes = market_page.evaluate(
        "document.getElementById('chart').layout.shapes.map(s => ({type: s.type, y0: s.y0, y1: s.y1}))"
    )
    assert shapes == [{"type": "line", "y0": p, "y1": p} for p in BTC_LEVELS["levels"]] + [
        {"type": "rect", "y0": lo, "y1": hi} for lo, hi in BTC_LEVELS["zones"]]
    drawn = market_page.eval_on_selector_all("#chart .layer-above .shapelayer path, #chart .layer-below .shapelayer path",
                                             "paths => paths.length")
    assert drawn == 3  # the shapes are rendered, not only in the figure's data
    bars = market_page.eval_on_selector_all("#chart .barlayer .trace", "t => t.length")
    assert bars >= 4  # liquidation bars (2) and map bars (2)
    labels = market_page.eval_on_selector_all("#chart .annotation-text", "a => a.map(x => x.textContent)")
    assert labels == ["level 104,000", "level 108,000", "zone 101,500–102,500"]
    assert f"map at {current['at']} from {current['reference']}" in (market_page.text_content("#chart-notes") or "")
    market_page.screenshot(path=str(screenshots / "coin-btc-market-day.png"), full_page=True)


def test_alerts_panel_links_open_the_view_filtered_to_the_alerts_coin_or_venue(
    market_page: Any, market_dashboard: Any, screenshots: Path
) -> None:
    from liqwatch.alerts.history import recent_alerts

    base = market_dashboard.url
    with market_dashboard.writer.lock:
        stored = recent_alerts(market_dashboard.store, MARKET_AT - 7 * 24 * md_H, MARKET_AT)
    api = msgspec.json.decode(market_page.request.get(f"{base}/api/alerts?until={MARKET_AT}").body())
    assert [a["alert_id"] for a in api] == [a["alert_id"] for a in stored] and len(api) == 2
    assert [(a["subject"], a["title"], a["delivered"], a["pending"]) for a in api] == [
        (a["subject"], a["title"], a["delivered"], a["pending"]) for a in stored]
    only_btc = msgspec.json.decode(market_page.request.get(f"{base}/api/alerts?until={MARKET_AT}&coin=btc").body())
    assert [a["subject"] for a in only_btc] == ["BTC"]

    market_page.goto(f"{base}/?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    panel = market_page.eval_on_selector_all("#alerts tbody tr", "rows => rows.map(r => r.dataset.subject)")
    assert panel == ["okx", "BTC"]  # newest first
    assert market_page.eval_on_selector_all("#feed tbody tr", "rows => new Set(rows.map(r => r.dataset.coin)).size") > 1

    market_page.click("#alerts tbody tr[data-subject='BTC'] td:nth-child(2) a")
    market_page.wait_for_selector("body[data-ready='1']")
    btc = next(a for a in api if a["subject"] == "BTC")
    assert market_page.url == base + btc["view"]  # the link the alert carried, on this host
    assert market_page.input_value("#f-coin") == "BTC"
    feed = market_page.eval_on_selector_all("#feed tbody tr", "rows => rows.map(r => [r.dataset.coin, r.cells[0].textContent])")
    assert feed and {c for c, _ in feed} == {"BTC"}
    expected = msgspec.json.decode(market_page.request.get(
        f"{base}/api/liquidations?coin=BTC&window=24h&until={btc['ts_trigger']}&limit=200").body())
    assert len(feed) == len(expected)  # the history view at the alert's trigger time
    top = market_page.eval_on_selector_all("#top tbody tr", "rows => rows.map(r => r.cells[2].textContent)")
    assert top and all(s.startswith("BTC") for s in top)
    assert market_page.eval_on_selector_all("#alerts tbody tr", "rows => rows.map(r => [r.dataset.subject, r.className])") == [
        ["BTC", "selected"]]
    assert "coin BTC" in (market_page.text_content("#filtered") or "")
    market_page.screenshot(path=str(screenshots / "overview-alert-btc.png"), full_page=True)

    market_page.goto(f"{base}/?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    market_page.click("#alerts tbody tr[data-subject='okx'] td:nth-child(2) a")
    market_page.wait_for_selector("body[data-ready='1']")
    assert market_page.input_value("#f-venue") == "okx"
    venues = market_page.eval_on_selector_all("#feed tbody tr", "rows => rows.map(r => r.dataset.venue)")
    assert venues and set(venues) == {"okx"}

    market_page.goto(f"{base}/?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    market_page.click("#alerts tbody tr[data-subject='BTC'] td:nth-child(3) a")
    market_page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert market_page.url == f"{base}/coin/BTC?at={btc['ts_trigger']}"


def test_bad_overview_filters_get_a_400(market_dashboard: Any, market_page: Any) -> None:
    for q in ("coin=%3Cb%3E", "venue=OKX!", "min_usd=-1", "alert=zz", "t=yesterday-ish"):
        response = market_page.request.get(f"{market_dashboard.url}/?{q}")
        assert response.status == 400, q


SOUND_PROBE = """
window.__beeps = []; window.__flashes = [];
const Real = window.AudioContext;
window.AudioContext = class extends Real {
  createOscillator() { const o = super.createOscillator(); const start = o.start.bind(o);
    o.start = (...a) => { window.__beeps.push(o.frequency.value); return start(...a); }; return o; }
};
new MutationObserver(() => { for (const c of document.body.classList) if (c.startsWith('flash-')) window.__flashes.push(c); })
  .observe(document, { subtree: true, attributes: true, attributeFilter: ['class'] });
"""


def test_sound_and_flash_for_big_liquidations_when_switched_on(page: Any, dashboard: Any) -> None:
    page.add_init_script(SOUND_PROBE)
    page.goto(f"{dashboard.url}/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
    dashboard.publish([liquidation("XRP", PositionSide.SHORT, 400_000.0)])  # big, but both switches are off
    page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.coin === 'XRP')")
    assert page.evaluate("[window.__beeps, window.__flashes]") == [[], []]
    page.check("#sound")
    page.check("#flash")
    page.reload()  # the switches are remembered by this browser
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
    assert page.is_checked("#sound") and page.is_checked("#flash")
    dashboard.publish([liquidation("ADA", PositionSide.LONG, 5_000.0)])  # below [web] big_usd (100k here)
    page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.coin === 'ADA')")
    assert page.evaluate("[window.__beeps, window.__flashes]") == [[], []]
    dashboard.publish([liquidation("DOGE", PositionSide.LONG, 300_000.0)])
    page.wait_for_function("() => window.__flashes.length > 0 && window.__beeps.length > 0")
    assert page.evaluate("[window.__beeps, [...new Set(window.__flashes)]]") == [[330], ["flash-long"]]
    dashboard.publish([liquidation("DOGE", PositionSide.SHORT, 700_000.0)])
    page.wait_for_function("() => window.__beeps.length > 1")
    assert page.evaluate("[window.__beeps, [...new Set(window.__flashes)]]") == [[330, 660], ["flash-long", "flash-short"]]


def test_brief_page_is_the_brief_inside_the_dashboard(market_page: Any, market_dashboard: Any, screenshots: Path) -> None:
    base = market_dashboard.url
    api = msgspec.json.decode(market_page.request.get(f"{base}/api/brief?at={MARKET_AT}").body())
    response = market_page.goto(f"{base}/brief?at={MARKET_AT}")
    assert response is not None and response.status == 200
    assert len(response.body()) < 200_000  # plotly.js is loaded from /vendor, not inlined into the page
    market_page.wait_for_selector("body[data-ready='1']")
    assert market_page.text_content("#brief h1") == api["headline"]
    assert market_page.eval_on_selector_all("#brief ul.takeaways li", "li => li.map(x => x.textContent)") == api["takeaways"]
    assert market_page.locator("#fig-day .main-svg").count() >= 1 and market_page.locator("#fig-coins .main-svg").count() >= 1
    assert market_page.locator("main style, main html, main head").count() == 0  # no document nested in the page
    colours = market_page.evaluate("[getComputedStyle(document.body).color, getComputedStyle(document.querySelector('header')).display]")
    assert colours == ["rgb(207, 214, 228)", "flex"]  # the dashboard's own style, not the standalone brief's
    market_page.screenshot(path=str(screenshots / "brief.png"))


def test_venues_page_at_a_past_time_and_when_empty(market_page: Any, market_dashboard: Any) -> None:
    base = market_dashboard.url
    api = msgspec.json.decode(market_page.request.get(f"{base}/api/venues?at={MARKET_AT}").body())
    market_page.goto(f"{base}/venues?at={MARKET_AT}")
    market_page.wait_for_selector("body[data-ready='1']")
    rows = market_page.eval_on_selector_all("#venues tbody tr", "rows => rows.map(r => [r.dataset.venue, Number(r.cells[8].dataset.value)])")
    assert rows == [[v["venue"], v["liquidations_24h"]] for v in api["venues"]] and len(rows) == 5
    market_page.goto(f"{base}/venues")  # now: the market day is long past
    market_page.wait_for_selector("body[data-ready='1']")
    assert "none stored a liquidation in the 24 h before" in (market_page.text_content("#venues tbody tr.empty") or "")
