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
