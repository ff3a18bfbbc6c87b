"""The live totals pushed to browsers come from the process's LiveAnalytics (not the store) and equal `liquidation_stats`.

A fresh store holds liquidations from before the dashboard started (the live analytics is seeded from them); new
events are published while the store's lock is held, so a totals message that counts them cannot have read the store.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from test_dashboard import liquidation

from liqwatch import config
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.model import Liquidation, PositionSide
from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(60)
H = 3600 * 10**9


def _aged(e: Liquidation, ago_ns: int) -> Liquidation:
    import msgspec

    return msgspec.structs.replace(e, ts_event=e.ts_event - ago_ns, ts_recv=e.ts_recv - ago_ns,
                                   venue_event_id=f"{e.venue_event_id}-{ago_ns}")


class Stream:
    """One /api/stream connection read message by message."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
        self.conn.request("GET", "/api/stream")
        self.response = self.conn.getresponse()
        assert self.response.status == 200

    def next(self, kind: str) -> dict[str, Any]:
        event = ""
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == kind:
                return json.loads(line[6:])  # type: ignore[no-any-return]

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    db = tmp_path / "live.duckdb"
    store = open_store(str(db))
    before = [
        _aged(liquidation("BTC", PositionSide.LONG, 40_000.0), 2 * H),
        _aged(liquidation("ETH", PositionSide.SHORT, 7_500.0, venue="okx"), 5 * H),
        _aged(liquidation("BTC", PositionSide.SHORT, 1_200.0, venue="binance-usdm"), 30 * H),  # beyond 24 h
    ]
    store.write(before)
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1)
    with BackgroundDashboard(store, settings) as d:
        yield d
    store.close()


def test_pushed_totals_come_from_live_analytics_and_equal_liquidation_stats(fresh: Any) -> None:
    stream = Stream(fresh.url)
    try:
        stream.next("hello")
        new = [
            liquidation("BTC", PositionSide.LONG, 250_000.0),
            liquidation("SOL", PositionSide.SHORT, 3_000.0, venue="okx"),
            liquidation("ETH", PositionSide.LONG, 12_345.5, venue="binance-usdm"),
        ]
        with fresh.writer.lock:  # neither the writer nor a store reader can run while this is held
            fresh.publish(new)
            while True:
                pushed = stream.next("totals")
                if pushed["windows"]["1h"]["count"] == 3:
                    break
            assert fresh.store.count("liquidations") == 3  # the new events were not stored yet: the push did not read them
        assert pushed["live"] is True
        at = pushed["at_ns"]
        assert pushed["windows"]["24h"]["count"] == 5  # the two stored within 24 h (seeded) and the three new ones
        deadline = time.monotonic() + 20
        while True:  # the writer stores the three new ones (flush every 0.1 s) once the lock is free
            with fresh.writer.lock:
                if fresh.store.count("liquidations") == 6:
                    break
            assert time.monotonic() < deadline, "the writer did not store the published events"
            time.sleep(0.01)
        for label, hours in (("1h", 1), ("4h", 4), ("12h", 12), ("24h", 24)):
            with fresh.writer.lock:
                stored = liquidation_stats(fresh.store, since=at - hours * H, until=at)
            live = pushed["windows"][label]
            for key in ("count", "long_count", "short_count"):
                assert live[key] == stored[key], (label, key)
            for key in ("total_usd", "long_usd", "short_usd"):
                assert live[key] == pytest.approx(stored[key], rel=1e-12), (label, key)
            assert {c: b["total_usd"] for c, b in live["by_coin"].items()} == pytest.approx(
                {c: b["total_usd"] for c, b in stored["by_coin"].items()})
            assert {v: b["count"] for v, b in live["by_venue"].items()} == {v: b["count"] for v, b in stored["by_venue"].items()}
            assert [(t["venue"], t["notional_usd"], t["ts_event"]) for t in live["top"]] == [
                (t["venue"], t["notional_usd"], t["ts_event"]) for t in stored["top"]]
            assert live["coverage"]["sampled"] == stored["coverage"]["sampled"]
        assert pushed["windows"]["1h"]["total_usd"] == pytest.approx(265_345.5)
        assert fresh.app.state.hub.stats()["totals"] >= 1
    finally:
        stream.close()
