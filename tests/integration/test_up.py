"""`liqwatch up`, the main job, as a user runs it: a real process against the local exchange server (or nothing)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _local import free_port

from liqwatch.sim import VenueServer
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
VENUES = ("binance-usdm", "bybit", "okx")


class ThreadedServer:
    """A VenueServer on its own event loop in a thread, so a subprocess can talk to it while the test drives it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = VenueServer(VENUES)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def write_config(path: Path, urls: dict[str, tuple[str, str]]) -> Path:
    lines = ["[feeds]", f"venues = {list(urls)!r}", "stale_after_s = 30", "[store]", "flush_interval_s = 0.2", "[web]", "port = 0"]
    for venue, (ws, rest) in urls.items():
        lines += [f'[venues."{venue}"]', f'ws_url = "{ws}"', f'rest_url = "{rest}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def up(config: Path, db: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "up", "--config", str(config), "--db", str(db), "--duration", str(seconds), "--no-view"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def exchange() -> Iterator[ThreadedServer]:
    with ThreadedServer() as t:
        yield t


OKX_SWAP_LIQ = (
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
    b'"ccy":"","posSide":"long","side":"sell","sz":"5","ts":"1700000000000"}],"instFamily":"BTC-USDT",'
    b'"instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
)


def test_up_collects_from_three_venues_into_one_store(exchange: ThreadedServer, tmp_path: Path) -> None:
    s = exchange.server
    config = write_config(tmp_path / "liqwatch.toml", {v: (s.ws_url(v), s.rest_url(v)) for v in VENUES})
    db = tmp_path / "up.duckdb"
    proc = up(config, db, seconds=10)
    try:
        for venue in VENUES:
            exchange.call(s.wait_subscribed(venue, timeout_s=15))
        assert exchange.call(s.replay_file("binance-usdm", DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.liquidations.jsonl")) == 1
        assert exchange.call(s.replay_file("bybit", DEFAULT_RECORDED_DIR / "BYBIT.liquidations.jsonl")) >= 1
        exchange.call(s.push("okx", OKX_SWAP_LIQ))
        out, err = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    store = open_store(db)
    rows = store.liquidations()
    by_venue = {v: [r for r in rows if r["venue"] == v] for v in VENUES}
    (binance,) = by_venue["binance-usdm"]
    assert binance["position_side"] == "short" and binance["notional_usd"] == pytest.approx(0.014 * 4706.04)
    pippin = [r for r in by_venue["bybit"] if r["symbol"] == "PIPPINUSDT"]
    assert len(pippin) == 1 and pippin[0]["position_side"] == "short"
    (okx,) = by_venue["okx"]
    # 5 contracts × 0.01 BTC (BTC-USDT-SWAP ctVal, recorded instruments) at the bankruptcy price 30,000
    assert okx["position_side"] == "long" and okx["quantity"] == pytest.approx(0.05) and okx["notional_usd"] == pytest.approx(1500.0)
    # the instruments fetched over REST were cached for the next, offline start
    assert len(store.load_instruments("okx")) > 100 and len(store.load_instruments("bybit")) > 500
    assert store.count("feed_status") >= 3  # CONNECTING/CONNECTED per connection are stored as data
    store.close()
    assert "stored" in out


def test_up_without_network_says_which_venues_are_unreachable_and_keeps_trying(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens here
    urls = {v: (f"ws://127.0.0.1:{dead}/ws", f"http://127.0.0.1:{dead}") for v in VENUES}
    proc = up(write_config(tmp_path / "liqwatch.toml", urls), tmp_path / "dead.duckdb", seconds=4)
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    text = " ".join(out.split())
    for venue in VENUES:
        assert f"{venue}: unreachable" in text
    assert f"127.0.0.1:{dead}" in text and "retrying" in text
