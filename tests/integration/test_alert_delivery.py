"""Delivery through apprise json:// to real HTTP receivers on 127.0.0.1: answering, failing, hanging."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec
import pytest
from _local import wait_until

from alert_receiver import Receiver
from factories import T0, make_liquidation
from liqwatch.alerts import recent_alerts
from liqwatch.alerts.engine import AlertEngine
from liqwatch.bus.local import Bus
from liqwatch.config.alerts import AlertSettings
from liqwatch.storage.duckdb_store import DuckDBStore

SECRET = "s3cretTOKEN42"


def _settings(urls: list[str], **kw: object) -> AlertSettings:
    raw: dict[str, object] = {
        "urls": urls,
        "terminal": False,
        "timeout_s": 0.5,
        "retries": 2,
        "backoff_s": 0.05,
        "rules": [{"type": "liquidation", "name": "big", "min_usd": 1_000_000, "cooldown": "0s"}],
    }
    raw.update(kw)
    return msgspec.convert(raw, AlertSettings, strict=False)


def _deliveries(store: DuckDBStore) -> list[tuple[object, ...]]:
    return store.execute("SELECT alert_id, ok, attempts, error FROM alert_deliveries ORDER BY ts")


async def test_alert_reaches_the_webhook_with_numbers_link_and_caveat_and_no_secret_in_logs(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = DuckDBStore(db_path)
    async with Receiver() as rx:
        bus = Bus()
        engine = AlertEngine(_settings([rx.url(), f"json://user:{SECRET}x@127.0.0.1:1/nothing"], retries=0), store)
        task = asyncio.create_task(engine.run(bus.subscribe("alerts", maxsize=10_000), tick_s=0.1))
        bus.publish([make_liquidation(notional_usd=2_500_000.0, venue="okx", symbol="BTC-USDT-SWAP")])
        await wait_until(lambda: len(rx.received) == 1 and len(_deliveries(store)) == 2, 10, "delivery")
        task.cancel()
        await engine.stop()
    [body] = rx.received
    assert rx.paths == [f"/hook/{SECRET}"]
    assert body["title"] == "liqwatch: BTC long liquidated: $2,500,000 on okx"
    lines = body["message"].splitlines()
    assert lines[0] == "BTC long liquidated: $2,500,000 on okx"
    assert "notional_usd 2,500,000" in lines[2] and "price 100,000" in lines[2]
    assert lines[3] == "Coverage: lower bound — okx publishes only a sample of liquidations."
    assert lines[4].startswith("http://127.0.0.1:8000/?coin=BTC&t=2025-11-04T00%3A00%3A00.000Z&alert=")
    [row] = recent_alerts(store, T0 - 1, T0)
    assert (row["delivered"], row["failed"], row["pending"]) == (1, 1, 0)
    dead = engine.stats()["destinations"][1]
    assert dead["failed"] == 1 and SECRET not in str(engine.stats())
    assert SECRET not in caplog.text and SECRET not in str(_deliveries(store))
    store.close()


async def test_failing_receiver_is_retried_with_backoff_until_it_answers(db_path: Path) -> None:
    store = DuckDBStore(db_path)
    async with Receiver(fail_first=2) as rx:
        engine = AlertEngine(_settings([rx.url()], retries=3), store)
        engine.dispatcher.start()
        [alert] = engine.observe([make_liquidation(notional_usd=3e6)])
        await wait_until(lambda: len(_deliveries(store)) == 1, 10, "delivery")
        await engine.stop()
    assert len(rx.requests) == 3 and len(rx.received) == 1
    assert rx.received[0]["title"] == alert.title
    assert _deliveries(store) == [(alert.alert_id, True, 3, "")]
    stats = engine.stats()["destinations"][0]
    assert (stats["sent"], stats["failed"], stats["failed_attempts"]) == (1, 0, 2)
    store.close()


async def test_hanging_receiver_blocks_neither_other_destinations_nor_ingestion(db_path: Path) -> None:
    store = DuckDBStore(db_path)
    async with Receiver(hang_s=3.0) as slow, Receiver() as fast:
        bus = Bus()
        settings = _settings([slow.url("slow"), fast.url("fast")], timeout_s=0.3, retries=1, queue_size=2)
        engine = AlertEngine(settings, store)
        task = asyncio.create_task(engine.run(bus.subscribe("alerts", maxsize=10_000), tick_s=0.1))
        start = time.monotonic()
        for i in range(5):
            t = time.monotonic()
            bus.publish([make_liquidation(notional_usd=2e6, ts_event=T0 + i)])
            assert time.monotonic() - t < 0.01  # publishing never waits for delivery
            await asyncio.sleep(0.05)
        await wait_until(lambda: len(fast.received) == 5, 5, "the fast destination")
        assert time.monotonic() - start < 2.0  # did not wait for the hanging one
        await wait_until(lambda: engine.stats()["destinations"][0]["failed"] >= 1, 5, "the slow one to give up")
        task.cancel()
        await engine.stop(drain_s=0)
    slow_stats, fast_stats = engine.stats()["destinations"]
    assert fast_stats["sent"] == 5 and fast_stats["dropped"] == 0
    assert slow_stats["dropped"] == 2  # one in flight, two queued: the two oldest waiting were pushed out and counted
    assert slow_stats["failed_attempts"] >= 2 and slow_stats["sent"] == 0
    assert engine.stats()["fired"] == 5
    store.close()


async def test_alerts_left_undelivered_by_a_restart_are_sent_on_the_next_start(db_path: Path) -> None:
    store = DuckDBStore(db_path)
    async with Receiver() as rx:
        settings = _settings([rx.url()])
        first = AlertEngine(settings, store)
        [alert] = first.observe([make_liquidation(notional_usd=4e6)])  # fired and stored; the process dies before delivery
        store.close()
        store = DuckDBStore(db_path)
        second = AlertEngine(settings, store)
        assert second.resend_pending() == 1
        second.dispatcher.start()
        await wait_until(lambda: len(rx.received) == 1, 5, "the resent alert")
        await second.stop()
        assert rx.received[0]["title"] == alert.title
        third = AlertEngine(settings, store)
        assert third.resend_pending() == 0  # delivered once: never again
    store.close()
