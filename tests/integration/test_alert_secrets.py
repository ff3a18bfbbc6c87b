"""A failed delivery's error, as logged, counted and stored in `alert_deliveries.error`, holds no secret of its URL."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
import pytest
from _local import wait_until

from alert_receiver import Receiver
from factories import make_liquidation
from liqwatch.alerts.engine import AlertEngine
from liqwatch.bus.local import Bus
from liqwatch.config.alerts import AlertSettings
from liqwatch.sim.local_servers import free_port
from liqwatch.storage.duckdb_store import DuckDBStore

DOTTED, API_KEY, PIN, SHORT = "correct.horse.battery", "sk.live.secret", "4711", "q7"


async def test_delivery_errors_in_the_log_the_stats_and_the_store_hold_no_secret(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = DuckDBStore(db_path)
    async with Receiver(status=500) as bad:
        urls = [
            f"json://alice:{DOTTED}@127.0.0.1:{bad.port}/hook?-X-Api-Key={API_KEY}",
            f"json://bob:{PIN}@127.0.0.1:{free_port()}/{SHORT}?pin={PIN}&k={SHORT}",  # nothing listens there
        ]
        settings = msgspec.convert(
            {"urls": urls, "terminal": False, "timeout_s": 0.5, "retries": 1, "backoff_s": 0.05,
             "rules": [{"type": "liquidation", "name": "big", "min_usd": 1_000_000, "cooldown": "0s"}]},
            AlertSettings, strict=False,
        )  # fmt: skip
        engine = AlertEngine(settings, store)
        task = asyncio.create_task(engine.run(Bus().subscribe("alerts", maxsize=10), tick_s=0.1))
        engine.observe([make_liquidation(notional_usd=2_500_000.0)])
        rows = lambda: store.execute("SELECT destination, ok, attempts, error FROM alert_deliveries ORDER BY destination")  # noqa: E731
        await wait_until(lambda: len(rows()) == 2, 15, "both deliveries recorded")
        task.cancel()
        await engine.stop()
    stored = rows()
    store.close()
    assert [r[1] for r in stored] == [False, False] and all(r[3] for r in stored)
    errors = sorted(str(r[3]) for r in stored)
    assert any(e.startswith(f"json://***:***@127.0.0.1:{bad.port}/***?-X-Api-Key=***: not accepted") for e in errors), errors
    assert len(bad.requests) >= 2 and set(bad.paths) == {"/hook"}  # really sent (and retried), never shown
    shown = " ".join(errors) + caplog.text + str(engine.stats())
    for secret in (DOTTED, API_KEY, PIN, f"/{SHORT}", f"={SHORT}"):
        assert secret not in shown, secret
