"""`liqwatch serve` (the scale-out read side) serving the dashboard: a real subprocess over a PostgreSQL store, live
events from nats-server, the overview in chromium. The API answers from the store; the live push from the bus."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_dashboard import card, liquidation

import liqwatch
from conftest import checked_page, recorded_files
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.analytics.numbers import tidy
from liqwatch.model import PositionSide
from liqwatch.model.time import now_ns, ns_to_iso
from liqwatch.roles.replay import replay_files
from liqwatch.storage import open_store

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
SRC = str(Path(liqwatch.__file__).resolve().parents[1])
H = 3600 * 10**9


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return msgspec.json.decode(r.read())


class Served(msgspec.Struct):
    url: str
    env: dict[str, str]
    at: int  # the newest replayed liquidation
    stats: dict[str, dict[str, Any]]  # window → liquidation_stats at `at`, read from PostgreSQL before serving
    recent_24h: dict[str, Any]  # liquidation_stats of the 24 h before the server started


@pytest.fixture
def served(pg_url: str, nats_server: Any) -> Iterator[Served]:
    store = open_store(pg_url)
    try:
        replay_files(store, recorded_files())
        at = int(store.execute("SELECT max(ts_event) FROM liquidations")[0][0])  # type: ignore[attr-defined]
        earlier = [liquidation("BTC", PositionSide.LONG, 90_000.0), liquidation("ETH", PositionSide.SHORT, 4_000.0, venue="okx")]
        store.write([msgspec.structs.replace(e, ts_event=e.ts_event - 2 * H, ts_recv=e.ts_recv - 2 * H) for e in earlier])
        stats = {w: liquidation_stats(store, since=at - n, until=at) for w, n in (("1h", H), ("24h", 24 * H), ("3650d", 3650 * 24 * H))}
        recent = liquidation_stats(store, since=now_ns() - 24 * H, until=now_ns())
    finally:
        store.close()
    tag = uuid.uuid4().hex[:10]
    env = {"LIQWATCH__BUS__URL": nats_server.url, "LIQWATCH__BUS__STREAM": f"S{tag}", "LIQWATCH__BUS__SUBJECT_PREFIX": f"s{tag}",
           "LIQWATCH__BUS__CONSUMER": f"serve-{tag}"}
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "serve", "--store", pg_url, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env, "PYTHONPATH": SRC},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                get_json(url + "/api/stats?window=1h")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "liqwatch serve did not answer within 30 s"
                time.sleep(0.2)
        yield Served(url=url, env=env, at=at, stats=stats, recent_24h=recent)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_serve_answers_from_the_store_and_renders_the_overview(served: Served, browser: Any, screenshots: Path) -> None:
    for window, expected in served.stats.items():
        got = get_json(f"{served.url}/api/stats?window={window}&at={ns_to_iso(served.at)}")
        assert got == tidy(msgspec.json.decode(msgspec.json.encode({**expected, "window": window})))  # JSON: 12 digits
    assert served.stats["3650d"]["count"] > 5
    with checked_page(browser, served.url) as page:
        page.goto(f"{served.url}/?at={served.at}&windows=1h,24h,3650d")
        page.wait_for_selector("body[data-ready='1']")
        for window, expected in served.stats.items():
            shown = card(page, window)
            assert (shown["total"], shown["count"]) == (tidy(expected["total_usd"]), expected["count"])
        page.screenshot(path=str(screenshots / "serve-overview.png"), full_page=True)


def test_serve_pushes_bus_events_and_live_totals_to_the_page(served: Served, browser: Any) -> None:
    from liqwatch import config
    from liqwatch.bus.jetstream import NatsPublisher

    with checked_page(browser, served.url) as page:
        page.goto(f"{served.url}/")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
        before = card(page, "24h")
        assert before["count"] == served.recent_24h["count"] == 2  # the two written 2 h ago (from PostgreSQL)
        event = liquidation("SOL", PositionSide.LONG, 123_456.0, venue="bybit")

        async def publish() -> None:
            publisher = NatsPublisher(config.load(environ=served.env).bus)
            await publisher.connect()
            runner = asyncio.create_task(publisher.run())
            publisher.publish([event])
            publisher.stop()
            assert await publisher.flush(10)
            await runner
            await publisher.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
            pool.submit(asyncio.run, publish()).result(30)
        page.wait_for_function("() => [...document.querySelectorAll('#feed tbody tr')].some(r => r.dataset.coin === 'SOL')")
        row = page.eval_on_selector("#feed tbody tr[data-coin='SOL']", "r => [r.dataset.venue, Number(r.dataset.usd)]")
        assert row == ["bybit", 123_456.0]
        # live totals (the serve role's LiveAnalytics: seeded from PostgreSQL, then fed by the bus) count it without a reload
        page.wait_for_function("() => Number(document.querySelector('#totals .card[data-window=\"24h\"] .count').dataset.value) === 3",
                               timeout=15_000)
        after = card(page, "24h")
        assert after["total"] == pytest.approx(before["total"] + 123_456.0)
        assert after["longs"] == pytest.approx(before["longs"] + 123_456.0)


def test_serve_refuses_a_public_address_without_a_token() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "liqwatch", "serve", "--host", "0.0.0.0", "--bus", "nats://127.0.0.1:1", "--store", "/nonexistent.duckdb"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.returncode != 0
    assert "token" in proc.stderr and "0.0.0.0" in proc.stderr
