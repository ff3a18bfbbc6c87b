"""Web fixtures: a store seeded by replaying the recorded frames (tests/data/recorded), the dashboard over it, one chromium per session."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
import pytest

import market_day as md
from liqwatch import config
from liqwatch.alerts.history import Alert, alert_id, ensure_tables, insert
from liqwatch.model.events import Signal
from liqwatch.model.time import ns_to_iso
from liqwatch.roles.replay import replay_files
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store
from liqwatch.storage.base import EventStore

RECORDED = Path(DEFAULT_RECORDED_DIR)
FAMILIES = ("rest_instruments", "liquidations", "klines", "open_interest", "tickers")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HISTORY_WINDOWS = ("1h", "24h", "3650d")

def recorded_files() -> list[Path]:
    return sorted(p for fam in FAMILIES for p in RECORDED.glob(f"*.{fam}.jsonl"))


def seed(path: Path) -> int:
    """Replay the recordings into a DuckDB file; return the newest liquidation's time."""
    store = open_store(str(path))
    try:
        replay_files(store, recorded_files())
        at = int(store.execute("SELECT max(ts_event) FROM liquidations")[0][0])  # type: ignore[attr-defined]
        store.write([seeded_signal(at)])
        return at
    finally:
        store.close()


def cli_stats(db: Path, window: str, at: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "stats", "--json", "--window", window, "--at", ns_to_iso(at), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def seeded_signal(at: int) -> Signal:
    """One stored signal (as `liqwatch signals --evaluate` writes them) an hour before the newest liquidation."""
    t = at - 3600 * 10**9
    return Signal(kind="long-cluster", coin="BTC", timeframe="1h", direction="bearish", message="BTC longs liquidated",
                  inputs='{"long_usd": 1000000.0}', ts_event=t, ts_recv=t)


class Seeded(msgspec.Struct):
    db: Path
    at: int
    stats: dict[str, dict[str, Any]]  # window → `liqwatch stats --json` output, taken before the dashboard opened the file


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    db = tmp_path_factory.mktemp("web") / "seeded.duckdb"
    at = seed(db)
    out = {}
    for window in HISTORY_WINDOWS:  # DuckDB: one process per file, so one at a time and before serving
        proc = cli_stats(db, window, at)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        out[window] = msgspec.json.decode(stdout)
    return Seeded(db=db, at=at, stats=out)


@pytest.fixture(scope="session")
def store(seeded: Seeded) -> Iterator[EventStore]:
    s = open_store(str(seeded.db))
    yield s
    s.close()


@pytest.fixture(scope="session")
def dashboard(store: EventStore) -> Iterator[Any]:
    from liqwatch.web.background import BackgroundDashboard

    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1, web__big_usd=100_000)
    with BackgroundDashboard(store, settings) as d:
        yield d


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("LIQWATCH_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def checked_page(browser: Any, url: str) -> Iterator[Any]:
    """A fresh browser page that fails the test on a JavaScript error or a request off `url`'s host."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    offhost: list[str] = []
    pg.on("request", lambda r: offhost.append(r.url) if not r.url.startswith(url) else None)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not offhost, f"requests off the dashboard's host: {offhost}"


@pytest.fixture
def page(browser: Any, dashboard: Any) -> Iterator[Any]:
    with checked_page(browser, dashboard.url) as pg:
        yield pg


# -- a generated market day (tests/market_day.py): two days of 1m candles, ATH history, OI, liquidations, funding ------
MARKET_AT = md.DAY + 20 * md.H  # the day's 20:00 UTC: 24h change, drawdown, heatmap and map all have data
BTC_LEVELS = {"levels": [104_000.0, 108_000.0], "zones": [[101_500.0, 102_500.0]]}
ALERT_FIELDS = dict(rule="btc-longs", rule_type="liquidations", venue="", title="BTC longs liquidated: $2.50M in 1h",
                    body="BTC longs liquidated", values='{"long_usd": 2500000.0}', coverage="Coverage: complete")


def market_alerts() -> list[Alert]:
    """Two stored alerts (as the alerts engine writes them): one about BTC, one about the OKX feed."""
    out = []
    for subject, rule_type, ts in (("BTC", "liquidations", MARKET_AT - 2 * md.H), ("okx", "feed-down", MARKET_AT - md.H)):
        ident = alert_id("r-" + subject, subject, ts)
        params = {"venue": subject} if rule_type == "feed-down" else {"coin": subject}
        link = "http://127.0.0.1:8000/?" + urlencode({**params, "t": ns_to_iso(ts), "alert": ident})
        fields = {**ALERT_FIELDS, "rule": "r-" + subject, "rule_type": rule_type, "title": f"{subject}: {rule_type}"}
        out.append(Alert(alert_id=ident, subject=subject, ts_trigger=ts, ts_fired=ts + 10**9, link=link, **fields))
    return out


@pytest.fixture(scope="session")
def market_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The dashboard over a store holding the market day, with configured BTC levels and two stored alerts."""
    from liqwatch.web.background import BackgroundDashboard

    store = open_store(str(tmp_path_factory.mktemp("market") / "market.duckdb"))
    store.write(md.build().events)
    ensure_tables(store)  # type: ignore[arg-type]
    for alert in market_alerts():
        insert(store, alert, destinations=1)  # type: ignore[arg-type]
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1, signals__levels={"BTC": BTC_LEVELS})
    with BackgroundDashboard(store, settings) as d:
        yield d
    store.close()


@pytest.fixture
def market_page(browser: Any, market_dashboard: Any) -> Iterator[Any]:
    with checked_page(browser, market_dashboard.url) as pg:
        yield pg

