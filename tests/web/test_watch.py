"""`liqwatch watch` as a user runs it: a real process reading a running dashboard's API and live stream."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from test_dashboard import liquidation

from liqwatch.model import PositionSide

pytestmark = pytest.mark.timeout(60)


def test_watch_shows_totals_feed_and_venues_live(dashboard: Any) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "watch", "--url", dashboard.url, "--duration", "6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "160"},
    )
    hub = dashboard.app.state.hub
    opened = hub.connections
    deadline = time.monotonic() + 20
    while hub.connections == opened and time.monotonic() < deadline:  # the watch process is streaming
        time.sleep(0.05)
    dashboard.publish([liquidation("WATCH", PositionSide.LONG, 321_000.0, symbol="[bold]WATCHUSDT")])
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "[bold]WATCHUSDT" in out  # venue strings are printed verbatim, not as markup
    assert "$321.00k" in out
    for label in ("1h", "4h", "12h", "24h"):
        assert f"│ {label} " in out
    assert "venues" in out


def test_watch_says_when_nothing_listens() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "liqwatch", "watch", "--url", "http://127.0.0.1:9", "--duration", "1"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in proc.stderr and "liqwatch up" in proc.stderr


def test_watch_reconnects_when_the_server_restarts(tmp_path: Any) -> None:
    """Issue 18: `watch` kept running through a restart of `liqwatch up` (same port) and shows what came after it."""
    from test_serve_dashboard import free_port

    from liqwatch import config
    from liqwatch.storage import open_store
    from liqwatch.web.background import BackgroundDashboard

    port = free_port()
    settings = config.load(environ={}, web__port=port, store__flush_interval_s=0.1)
    store = open_store(str(tmp_path / "w.duckdb"))
    first = BackgroundDashboard(store, settings).start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "watch", "--url", first.url, "--duration", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "160"},
    )
    try:
        hub = first.app.state.hub
        deadline = time.monotonic() + 20
        while hub.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.stop()
        time.sleep(1.0)
        second = BackgroundDashboard(store, settings).start()
        hub = second.app.state.hub
        deadline = time.monotonic() + 20
        while hub.connections == 0 and time.monotonic() < deadline:  # the watch process came back
            time.sleep(0.05)
        assert hub.connections >= 1
        second.publish([liquidation("AFTER", PositionSide.SHORT, 654_000.0, symbol="AFTERUSDT")])
        out, err = proc.communicate(timeout=30)
        second.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
        store.close()
    assert proc.returncode == 0, err
    assert "AFTERUSDT" in out and "$654.00k" in out


def test_watch_fits_80_by_24_with_a_time_column() -> None:
    """The view the terminal shows fits 80×24 with twelve venues and a full feed; the feed has a time column."""
    from rich.console import Console

    from liqwatch.cli._terminal import WatchState

    state = WatchState()
    state.connected = True
    window = {"total_usd": 1e6, "long_usd": 6e5, "short_usd": 4e5, "long_share": 0.6, "count": 10,
              "coverage": {"sampled": ["binance-usdm", "okx", "bitget", "gate"]}}
    state.totals = {w: window for w in ("1h", "4h", "12h", "24h")}
    state.venues = [{"venue": f"venue-{i}", "state": "live", "connections": []} for i in range(12)]
    ts = 1_762_300_800 * 10**9 + 3_723 * 10**9  # 01:02:03 UTC
    for i in range(30):
        state.apply("liquidations", {"count": 1, "events": [
            {"venue": "bybit", "symbol": "BTCUSDT", "side": "long", "price": 100_000.0, "usd": 1000.0 + i, "ts_event": ts}]})
    console = Console(width=80, height=24, record=True, force_terminal=False)
    console.print(state.render(23))
    text = console.export_text()
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 23, text
    assert all(len(line) <= 80 for line in lines)
    assert "01:02:03" in text and "time" in text
    assert "venue-11" in text  # every venue is named, on one wrapped line
