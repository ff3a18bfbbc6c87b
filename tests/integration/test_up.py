"""`liqwatch up`, the main job, as a user runs it: a real process against the local exchange server (or nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _local import free_port

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import DIALECTS
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(120)
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


def up(config: Path, db: Path, seconds: float | None) -> subprocess.Popen[str]:
    duration = ["--duration", str(seconds)] if seconds is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "up", "--config", str(config), "--db", str(db), *duration, "--no-view"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def exchange() -> Iterator[ThreadedServer]:
    with ThreadedServer() as t:
        yield t


async def _all_subscribed(server: VenueServer, topics: dict[str, str]) -> bool:
    return all(DIALECTS[v].subscribed_to(server.subscribed_topics(v), t) for v, t in topics.items())


DASHBOARD = re.compile(r"dashboard: (http://\S+?)/? ")
OKX_SWAP_LIQ = (
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
    b'"ccy":"","posSide":"long","side":"sell","sz":"5","ts":"1700000000000"}],"instFamily":"BTC-USDT",'
    b'"instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
)


class Output:
    """Read a process's stdout and stderr in threads (a full pipe would block it), lines as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True)
            for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err))
        ]
        for t in self.threads:
            t.start()

    @staticmethod
    def _drain(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def join(self) -> tuple[str, str]:
        for t in self.threads:
            t.join(10)
        return "".join(self.out), "".join(self.err)


def poll(what: str, check: Callable[[], T | None], timeout_s: float = 45.0) -> T:
    """Call `check` every 50 ms until it returns something, or fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got is not None:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def frame_topic(venue: str, frame: bytes) -> str:
    topic = DIALECTS[venue].topic_of(frame)
    assert topic is not None
    return topic


def api_liquidations(base_url: str, since_ns: int = 10**18) -> list[dict[str, Any]]:
    url = f"{base_url}/api/liquidations?since={since_ns}&limit=10000"
    with urllib.request.urlopen(url, timeout=10) as r:
        rows: list[dict[str, Any]] = json.loads(r.read())
    return rows


def test_up_collects_from_three_venues_into_one_store(exchange: ThreadedServer, tmp_path: Path) -> None:
    s = exchange.server
    config = write_config(tmp_path / "liqwatch.toml", {v: (s.ws_url(v), s.rest_url(v)) for v in VENUES})
    db = tmp_path / "up.duckdb"
    binance_file, bybit_file = DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.liquidations.jsonl", DEFAULT_RECORDED_DIR / "BYBIT.liquidations.jsonl"
    pippin = next(r.frame for r in read_recording(bybit_file) if isinstance(r, RecordedLine) and b"PIPPINUSDT" in r.frame)
    (binance_frame,) = (r.frame for r in read_recording(binance_file) if isinstance(r, RecordedLine))
    # the topics the pushed frames need: Bybit subscribes ~80 messages of 10 topics, the first one is not enough
    needed = {"binance-usdm": frame_topic("binance-usdm", binance_frame), "bybit": frame_topic("bybit", pippin),
              "okx": frame_topic("okx", OKX_SWAP_LIQ)}  # fmt: skip
    proc = up(config, db, seconds=None)  # stopped with Ctrl-C (SIGINT) once the pushed events are stored
    output = Output(proc)
    try:
        poll("every needed topic subscribed", lambda: exchange.call(_all_subscribed(s, needed)) or None)
        assert exchange.call(s.replay_file("binance-usdm", binance_file)) == 1
        assert exchange.call(s.replay_file("bybit", bybit_file)) >= 1
        exchange.call(s.push("okx", OKX_SWAP_LIQ))
        dashboard = poll("the dashboard URL", lambda: next((m.group(1) for m in map(DASHBOARD.search, output.out) if m), None))

        def stored() -> bool | None:
            rows = api_liquidations(dashboard)
            venues = Counter(r["venue"] for r in rows)
            has_pippin = any(r["symbol"] == "PIPPINUSDT" for r in rows)
            return True if venues["binance-usdm"] >= 1 and venues["okx"] >= 1 and has_pippin else None

        poll("the pushed liquidations stored", stored)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
    finally:
        proc.kill()
        out, err = output.join()
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
