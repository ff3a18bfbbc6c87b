"""`liqwatch demo` as a user runs it (the installed console script) and its dashboard in the real browser.

While the demo runs, the overview shows the demo's market, not today's empty one: the 1h/24h totals are non-zero and
equal the API's, the largest liquidations are listed, the cascade hour's long-cluster alert is shown, the coins have
candles and the liquidation chart has bars. When the scenario ends the dashboard stays up (and `liqwatch watch` reads
the same totals; the collectors have stopped) until SIGINT, which ends the process with status 0 and no traceback, with a
browser still connected.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(180)
HOURS, SPEED = 6, 480  # 6 simulated hours in 45 s; the cascade hour (02:00-03:00) closes after 22.5 s


def console_script() -> str:
    found = shutil.which("liqwatch", path=str(Path(sys.executable).parent)) or shutil.which("liqwatch")
    if found is None:
        pytest.skip("the liqwatch console script is not installed")
    return found


class Demo:
    """The demo process; its output lines are read by a thread (so a full pipe never blocks it)."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [console_script(), "demo", "--db", str(db), "--port", "0", "--hours", str(HOURS), "--speed", str(SPEED)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"},
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._new.put(line)

    def wait_line(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        for line in list(self.lines):
            if m := re.search(pattern, line):
                return m
        while time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.lines)
                continue
            if m := re.search(pattern, line):
                return m
        raise AssertionError(f"no line matching {pattern!r} in {timeout_s} s:\n{''.join(self.lines)}")

    @property
    def output(self) -> str:
        return "".join(self.lines)


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read())


def until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s} s")


def card(page: Any, window: str) -> float:
    return float(page.eval_on_selector(f'#totals .card[data-window="{window}"] .total', "c => c.dataset.usd"))


def totals_agree(page: Any, url: str) -> bool:
    """Return whether the page's 1h and 24h totals (as last pushed) equal the API's at the page's `at`."""
    at = page.eval_on_selector("#totals", "t => t.dataset.at")
    shown = {w: card(page, w) for w in ("1h", "24h")}
    served = api(f"{url}/api/overview?windows=1h,24h&at={at}")["windows"]
    return all(served[w]["total_usd"] == pytest.approx(shown[w], rel=1e-9) for w in shown)


def test_the_demo_dashboard_shows_the_demo_and_stays_up_until_sigint(tmp_path: Path, browser: Any, screenshots: Path) -> None:
    demo = Demo(tmp_path / "demo.duckdb")
    page = None
    try:
        url = demo.wait_line(r"dashboard: (http://127\.0\.0\.1:\d+)", 60).group(1)
        # the cascade hour's long-cluster alert, fired on the scenario's clock, is found by the API's default window
        alerts = until(lambda: [a for a in api(f"{url}/api/alerts") if (a["rule"], a["subject"]) == ("demo-long-cluster", "BTC")],
                       60, "the BTC long-cluster alert")
        assert alerts[0]["ts"].startswith("2025-11-04T03:00") and "$364" in alerts[0]["body"]
        assert "demo finished" not in demo.output  # still running

        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']")
        assert card(page, "1h") > 0 and card(page, "24h") > 1e8  # the $364M BTC hour is in the last 24 h
        until(lambda: totals_agree(page, url), 20, "the page's totals equal the API's")
        top = page.eval_on_selector_all("#top tbody tr", "rows => rows.map(r => Number(r.cells[4].dataset.value))")
        assert len(top) == 10 and top[0] >= 10_000_000  # the $47.9M HTX whale long
        shown_alerts = page.eval_on_selector_all("#alerts tbody tr", "rows => rows.map(r => r.dataset.subject)")
        assert "BTC" in shown_alerts
        prices = page.eval_on_selector_all("#coins tbody tr", "rows => rows.map(r => [r.dataset.coin, r.cells[1].title])")
        assert {c for c, _ in prices} >= {"BTC", "ETH", "SOL"}
        assert all("1m close at 2025-11-04" in title for _, title in prices), prices  # candles of the scenario's day
        page.wait_for_function("() => document.getElementById('liq-chart').dataset.ready === '1'")
        assert float(page.eval_on_selector("#liq-chart", "c => c.dataset.long")) > 1e8
        page.screenshot(path=str(screenshots / "demo-running.png"), full_page=True)

        # the scenario ends; the dashboard stays up on the kept store, at the scenario's end
        demo.wait_line(r"demo finished: the dashboard stays up at .*Ctrl-C", 90)
        assert demo.proc.poll() is None
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        overview = api(f"{url}/api/overview?windows=1h,24h")
        assert overview["at"] == "2025-11-04T06:00:00.000Z"
        # the collectors stopped with the market (so no drift warnings about silent venues); the venues page says so
        assert {v["state"] for v in api(f"{url}/api/venues")["venues"]} == {"stopped"}
        assert card(page, "24h") == pytest.approx(overview["windows"]["24h"]["total_usd"], rel=1e-12)
        assert card(page, "1h") == pytest.approx(overview["windows"]["1h"]["total_usd"], rel=1e-12)
        chart_long = float(page.eval_on_selector("#liq-chart", "c => c.dataset.long"))
        assert chart_long == pytest.approx(overview["windows"]["24h"]["long_usd"], rel=1e-9)

        # `liqwatch watch` (not a terminal: one view at the end) reads the same 24h total
        watched = subprocess.run([console_script(), "watch", "--url", url, "--duration", "1"], capture_output=True, text=True,
                                 timeout=60, env={**os.environ, "COLUMNS": "200"})
        assert watched.returncode == 0, watched.stderr
        total = overview["windows"]["24h"]["total_usd"]
        assert f"${total / 1e6:,.2f}M" in watched.stdout, watched.stdout

        # Ctrl-C with the browser's live stream still connected: exit 0, no traceback
        page.wait_for_function("() => document.getElementById('conn').textContent === 'live'")
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(30) == 0, demo.output
        time.sleep(0.2)
        assert "Traceback" not in demo.output and "CancelledError" not in demo.output, demo.output
        assert "ERROR" not in demo.output and "WARNING" not in demo.output, demo.output
    finally:
        if page is not None:
            page.close()
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait(10)
