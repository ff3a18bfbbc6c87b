"""Every /api/* endpoint answers the same JSON over DuckDB and over PostgreSQL seeded with the same events.

The recorded frames of every venue (tests/data/recorded), the generated two-day market of tests/market_day.py (candles, a liquidation
cluster, OI polls, funding, an outage) and stored signals are written into a DuckDB file and into a real
PostgreSQL database; a dashboard is served over each, and each request's status and body must be equal.
Normalised before comparing: nothing but floats, which must agree to 1e-12 relative, because a sum's last bits
depend on the order the engine adds in (DuckDB and PostgreSQL aggregate in different orders). That holds for the
floats inside text bodies too (the brief's HTML embeds the chart data): text must be equal outside its decimals.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from test_api import get

import market_day
from conftest import market_alerts, recorded_files, seeded_signal
from json_compare import same
from liqwatch import config
from liqwatch.alerts.history import ensure_tables, insert
from liqwatch.model.time import ns_to_iso
from liqwatch.roles.replay import replay_files
from liqwatch.sim.local_servers import LocalPostgres
from liqwatch.storage import open_store
from liqwatch.storage.base import EventStore

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
H = 3600 * 10**9


_DECIMAL = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")
_NONCE = re.compile(r"nonce='[A-Za-z0-9_-]+'")


def same_text(a: str, b: str, where: str) -> None:
    """Assert equal text, its decimal numbers equal to 1e-12 relative."""
    assert _DECIMAL.split(a) == _DECIMAL.split(b), where
    for x, y in zip(_DECIMAL.findall(a), _DECIMAL.findall(b), strict=True):
        assert math.isclose(float(x), float(y), rel_tol=1e-12, abs_tol=1e-9), f"{where}: {x} != {y}"


class Pair:
    """The two dashboards and the newest liquidation's time."""

    def __init__(self, duck: Any, pg: Any, at: int, recorded_at: int) -> None:
        self.duck, self.pg, self.at, self.recorded_at = duck, pg, at, recorded_at

    def both(self, path: str) -> tuple[Any, Any]:
        """GET `path` from both dashboards; assert 200 from each and equal bodies; return both bodies."""
        sd, bd, hd = get(self.duck.url + path)
        sp, bp, hp = get(self.pg.url + path)
        assert sd == 200, (path, bd)
        assert sp == 200, (path, bp)
        assert hd["content-type"] == hp["content-type"], path
        if isinstance(bd, str):
            same_text(_NONCE.sub("nonce=''", bd), _NONCE.sub("nonce=''", bp), path)  # a CSP nonce is per response
        else:
            same(bd, bp, path)
        return bd, bp


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_server: LocalPostgres) -> Iterator[tuple[EventStore, EventStore, int, int]]:
    duck = open_store(tmp_path_factory.mktemp("api-stores") / "duck.duckdb")
    pg = open_store(pg_server.create_database("api_stores"))
    files = recorded_files()
    assert len(files) > 20, "recorded frames missing"
    generated = market_day.build().events
    at = max(e.ts_event for e in generated if type(e).__name__ == "Liquidation")  # the generated day's last liquidation
    for store in (duck, pg):
        replay_files(store, files)
    recorded_at = int(duck.execute("SELECT max(ts_event) FROM liquidations")[0][0])  # type: ignore[attr-defined]
    for store in (duck, pg):
        for i in range(0, len(generated), 5000):
            store.write(generated[i : i + 5000])
        store.write([seeded_signal(at), seeded_signal(recorded_at)])
        ensure_tables(store)  # type: ignore[arg-type]
        for alert in market_alerts():
            insert(store, alert, destinations=1)  # type: ignore[arg-type]
    yield duck, pg, at, recorded_at
    duck.close()
    pg.close()


@pytest.fixture(scope="module")
def pair(stores: tuple[EventStore, EventStore, int, int]) -> Iterator[Pair]:
    from liqwatch.web.background import BackgroundDashboard

    duck, pg, at, recorded_at = stores
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1, web__big_usd=100_000)
    with BackgroundDashboard(duck, settings) as d, BackgroundDashboard(pg, settings) as p:
        yield Pair(d, p, at, recorded_at)


def test_stats_overview_liquidations_and_top_are_identical(pair: Pair) -> None:
    at, iso = pair.at, quote(ns_to_iso(pair.at))
    for window in ("1h", "24h", "3650d"):
        stats, _ = pair.both(f"/api/stats?window={window}&at={iso}")
        assert stats["window"] == window
    assert stats["count"] > 1000 and stats["total_usd"] > 0 and len(stats["by_venue"]) >= 5
    overview, _ = pair.both(f"/api/overview?at={iso}")
    assert list(overview["windows"]) == ["1h", "4h", "12h", "24h"]
    pair.both(f"/api/overview?at={iso}&windows=15m,3650d")
    rows, _ = pair.both(f"/api/liquidations?window=3650d&until={at}&limit=200")
    assert len(rows) == 200 and rows[0]["ts_event"] == at
    for query in ("coin=BTC", "venue=bybit", "min_usd=10000", "coin=ETH&venue=okx"):
        rows, _ = pair.both(f"/api/liquidations?window=3650d&until={at}&limit=500&{query}")
        assert rows, query
    top, _ = pair.both(f"/api/top?window=3650d&at={iso}&limit=10")
    assert len(top) == 10 and top[0]["notional_usd"] >= top[-1]["notional_usd"]
    pair.both(f"/api/top?window=24h&at={iso}&coin=ETH")
    # the overview's chart: bars from the same rollup rows on both engines, adding up to the window's stats
    for query in ("window=1h&interval=1m", "window=3650d&interval=1d", "window=24h&coin=BTC&interval=1h", "window=24h"):
        series, _ = pair.both(f"/api/liquidation-series?at={iso}&{query}")
        assert series["bars"], query
    day, _ = pair.both(f"/api/stats?window=24h&at={iso}")
    assert series["count"] == day["count"] and series["long_usd"] == pytest.approx(day["long_usd"], rel=1e-12)


def test_coins_oi_venues_and_signals_are_identical(pair: Pair) -> None:
    iso = quote(ns_to_iso(pair.at))
    coins, _ = pair.both(f"/api/coins?at={iso}")
    assert len(coins["coins"]) >= 3
    assert any(c["price"] is not None for c in coins["coins"]) and any(c["oi_usd"] is not None for c in coins["coins"])
    assert any(c["funding_apr"] is not None for c in coins["coins"]) and any(c["change_24h_pct"] is not None for c in coins["coins"])
    oi, _ = pair.both(f"/api/oi?at={iso}")
    assert oi["coins"] and oi["symbols"]
    pair.both(f"/api/oi?at={iso}&coin=BTC")
    venues, _ = pair.both(f"/api/venues?at={iso}")
    assert sum(v["liquidations_24h"] for v in venues["venues"]) > 0
    for query in ("window=24h", "window=24h&coin=BTC", "window=3650d&coin=ETH"):
        pair.both(f"/api/signals?until={pair.at}&{query}")
    assert [s["kind"] for s in pair.both(f"/api/signals?until={pair.at}&window=24h")[0]] == ["long-cluster"]


def test_alerts_are_identical(pair: Pair) -> None:
    alerts, _ = pair.both("/api/alerts?window=3650d")
    assert [a["subject"] for a in alerts] == ["okx", "BTC"]  # newest first
    btc, _ = pair.both("/api/alerts?window=3650d&coin=BTC")
    assert [a["subject"] for a in btc] == ["BTC"] and btc[0]["view"]
    okx, _ = pair.both("/api/alerts?window=3650d&venue=okx")
    assert [a["subject"] for a in okx] == ["okx"]


def test_coin_page_series_are_identical(pair: Pair) -> None:
    iso = quote(ns_to_iso(pair.at))
    coins = [c["coin"] for c in pair.both(f"/api/coins?at={iso}")[0]["coins"]][:4]
    charted = 0
    for coin in coins:
        for interval in ("1m", "5m", "1h"):
            chart, _ = pair.both(f"/api/candles?coin={coin}&interval={interval}&window=24h&at={iso}")
            if chart["candles"]:
                charted += 1
                bar = chart["candles"][0]
                assert bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"]) <= bar["high"]
        if chart["market"]:
            m = chart["market"]
            pair.both(f"/api/candles?coin={coin}&interval=15m&window=24h&at={iso}&venue={m['venue']}&symbol={m['symbol']}")
    assert charted >= 3
    btc, _ = pair.both(f"/api/candles?coin=BTC&interval=5m&window=24h&at={iso}")
    assert btc["liquidations"] and btc["open_interest"] and btc["candles"]


def test_price_heatmap_and_brief_are_identical(pair: Pair) -> None:
    iso = quote(ns_to_iso(pair.at))
    for coin in ("BTC", "ETH"):
        price, _ = pair.both(f"/api/price?coin={coin}&at={iso}")
        assert price["coin"] == coin
        heat, _ = pair.both(f"/api/heatmap?coin={coin}&at={iso}&window=24h")
        assert heat["grid"] and heat["current"]
    assert price["price"] is not None
    brief, _ = pair.both(f"/api/brief?at={iso}&window=24h")
    assert brief["headline"]
    pair.both(f"/api/brief?at={iso}&window=24h&coin=BTC")
    md, _ = pair.both(f"/api/brief?at={iso}&window=24h&format=markdown")
    assert md.startswith(f"# {brief['headline']}")
    pair.both(f"/api/brief?at={iso}&window=4h&format=html")


def test_pages_render_the_same(pair: Pair) -> None:
    iso = quote(ns_to_iso(pair.at))
    for path in ("/", "/coin/BTC", "/venues", f"/brief?at={iso}&window=24h"):  # the brief page is rendered server-side
        html, _ = pair.both(path)
        assert "<html" in html.lower()
    assert "BTC" in pair.both(f"/brief?at={iso}&window=24h")[0]


def test_every_api_endpoint_is_covered(pair: Pair) -> None:
    _, doc, _ = get(pair.duck.url + "/api/openapi.json")
    here = Path(__file__).read_text()
    live_only = {"/api/stream", "/api/openapi.json"}  # process-local: the live hub, and the schema itself
    missing = [p for p in doc["paths"] if p.startswith("/api/") and p not in live_only and f'"{p}?' not in here and f"f\"{p}?" not in here]
    assert not missing, f"endpoints without a two-store comparison here: {missing}"



def test_recorded_sessions_answer_the_same(pair: Pair) -> None:
    """At the recordings' newest liquidation: every venue's real wire data, decoded and stored by each backend."""
    iso = quote(ns_to_iso(pair.recorded_at))
    stats, _ = pair.both(f"/api/stats?window=3650d&at={iso}")
    assert stats["count"] >= 10 and len(stats["by_venue"]) >= 6
    rows, _ = pair.both(f"/api/liquidations?window=3650d&until={pair.recorded_at}&limit=100")
    assert {r["venue"] for r in rows} >= {"bybit", "okx", "htx", "deribit"}
    for path in (f"/api/coins?at={iso}", f"/api/oi?at={iso}", f"/api/venues?at={iso}", f"/api/overview?at={iso}",
                 f"/api/brief?at={iso}&window=3650d"):
        pair.both(path)
    charted = [c for c in ("UNI", "DASH", "BTC") if pair.both(f"/api/candles?coin={c}&interval=1h&window=3650d&at={iso}")[0]["candles"]]
    assert charted, "the recordings hold klines"
