"""`liqwatch demo`'s engine end to end: simulator → local venues → real connectors → bus → DuckDB.

What the collectors stored must equal what the simulated venues published, per venue, coin and side: nothing
lost or double-counted on the way through four real wire formats.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import msgspec
import pytest

from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.numbers import json_bytes
from liqwatch.model.time import ns_to_iso
from liqwatch.roles.demo import DAY_NS, DEMO_SIGNALS, Demo, demo_alerts
from liqwatch.sim.scenario import load_scenario
from liqwatch.sim.summary import read_story

pytestmark = pytest.mark.timeout(60)


async def test_stored_totals_equal_what_the_simulated_venues_published(tmp_path: Path) -> None:
    scenario = msgspec.structs.replace(load_scenario("selloff-2025-11-04"), duration_h=0.75)
    started: list[int] = []
    demo = Demo(
        scenario, db=str(tmp_path / "demo.duckdb"), seed=11, speed=0, web_port=0, signals=DEMO_SIGNALS,
        alerts=demo_alerts(min_usd=1_000_000.0),  # the demo's rules, a lower threshold so a 45-minute run fires
    )
    demo.on_started.append(lambda d: started.append(d.exchange.now_ns))
    await demo.start()
    try:
        await demo.wait_finished()
        assert await demo.drain()
        ledger = demo.exchange.ledger
        assert not ledger.unsubscribed and started == [scenario.ts_start]
        stored = demo.stored_liquidations()
        published = {k: (t.count, t.usd) for k, t in ledger.published.items()}
        assert set(stored) == set(published)
        assert {v for v, _, _ in stored} == set(scenario.venues)
        for key, (count, usd) in published.items():
            assert stored[key][0] == count, key
            assert stored[key][1] == pytest.approx(usd, rel=1e-9), key
        # Binance's throttle: the venue published fewer than the market liquidated there; the others all of them
        occurred = ledger.totals(published=False, by=("venue",))
        assert ledger.totals(by=("venue",))[("binance-usdm",)].count < occurred[("binance-usdm",)].count
        assert ledger.totals(by=("venue",))[("htx",)].count == occurred[("htx",)].count
        app = demo.app
        assert app is not None
        with app.writer.lock:
            story = read_story(app.store, scenario)
            candles = app.store.execute(
                "SELECT interval_s, count(*), min(ts_event), max(ts_event) FROM candles GROUP BY interval_s ORDER BY interval_s"
            )
            statuses = {v for (v,) in app.store.execute("SELECT DISTINCT venue FROM feed_status WHERE state = 'connected'")}
        assert story.total_usd == pytest.approx(ledger.total_usd(), rel=1e-9)
        assert story.largest is not None and story.largest["notional_usd"] == pytest.approx(ledger.largest[0] if ledger.largest else 0)
        minute, daily = candles
        assert minute[0] == 60 and minute[1] == 4 * 3 * 45  # four venues × three coins × 45 closed minutes
        assert scenario.ts_start <= minute[2] and minute[3] < scenario.ts_end  # on the scenario's timeline
        assert daily[0] == 86_400 and daily[1] == demo.history_candles == 3 * 400 and daily[3] < scenario.ts_start
        assert set(story.open_interest_base) == {"BTC", "ETH", "SOL"}  # streamed (Bybit, OKX) and polled OI stored
        assert statuses == set(scenario.venues)
        assert all(demo.server.counters(v).subscribe_messages > 0 for v in scenario.venues)

        # the dashboard over the demo store answers /api/stats exactly as `liqwatch stats --json` (liquidation_stats)
        assert app.web is not None and demo.sim_now_ns == scenario.ts_end
        async with aiohttp.ClientSession() as http, http.get(
            f"{app.web.url}/api/stats", params={"window": "24h", "at": ns_to_iso(scenario.ts_end)}
        ) as resp:
            assert resp.status == 200
            served = await resp.json()
        with app.writer.lock:
            cli = liquidation_stats(app.store, since=scenario.ts_end - DAY_NS, until=scenario.ts_end)
        assert served.pop("window") == "24h"
        assert served == msgspec.json.decode(json_bytes(cli))  # the API's JSON: floats tidied in liqwatch.analytics.numbers
        assert served["total_usd"] == pytest.approx(ledger.total_usd(), rel=1e-9) and served["count"] == story.count

        # the brief's numbers are the store's (and so the simulated venues')
        brief = demo.brief()
        stats = brief.data["stats"]
        assert stats["total_usd"] == pytest.approx(story.total_usd, rel=1e-9)
        assert stats["long_usd"] == pytest.approx(story.long_usd, rel=1e-9)
        assert stats["long_share"] == pytest.approx(story.long_share, rel=1e-9)
        assert stats["count"] == story.count
        assert story.largest is not None
        assert stats["largest"]["notional_usd"] == pytest.approx(float(story.largest["notional_usd"]))
        assert f"{story.long_share:.0%}" in brief.headline or f"{1 - story.long_share:.0%}" in brief.headline
        assert "<html" in brief.to_html().lower()

        # alerts: one per stored liquidation ≥ $1M (fired, or held back by the rule's per-coin cooldown)
        with app.writer.lock:
            rows = app.store.liquidations(since=scenario.ts_start - 1, until=scenario.ts_end + 1)
        big = len([r for r in rows if float(r["notional_usd"]) >= 1_000_000.0])
        engine = app.alerts
        assert engine is not None and big > 0
        fired = [a for a in engine.recent if a.rule == "demo-whale-liquidation"]
        assert len(fired) >= 1 and len(fired) + engine.cooldowns.suppressed >= big
    finally:
        await demo.stop()
