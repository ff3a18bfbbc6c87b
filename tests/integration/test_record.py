"""`liqwatch record` and `liqwatch up --record` as real processes against the local exchange, then `liqwatch replay`.

Both processes receive the same pushed frames (the server sends each frame to every subscribed connection):
the recordings, replayed into fresh DuckDB files, store exactly the liquidations the live `up` run stored.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from typer.testing import CliRunner

from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.cli import app
from liqwatch.cli.record import load_settings
from liqwatch.errors import ConfigError
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, InstrumentIndex
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import DIALECTS
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(90)
T = TypeVar("T")
VENUES = ("binance-usdm", "okx", "htx")
PREFIX = {"binance-usdm": "BINANCE_FUTURES", "okx": "OKX", "htx": "HTX"}
CHANNELS = frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST})  # = the config's [feeds] channels
SRC = str(Path(__file__).resolve().parents[2] / "src")
OKX_SWAP_LIQ = (
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
    b'"ccy":"","posSide":"long","side":"sell","sz":"5","ts":"1700000000000"}],"instFamily":"BTC-USDT",'
    b'"instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"}]}'
)


class ThreadedServer:
    """A VenueServer on its own loop in a thread, so subprocesses can talk to it while the test drives it."""

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

    def subscribes(self, venue: str) -> int:
        return self.server.counters(venue).subscribe_messages

    def wait_subscribes(self, at_least: dict[str, int], timeout_s: float = 60) -> None:
        """Wait until every venue saw `at_least[venue]` subscribe messages in total."""
        deadline = time.monotonic() + timeout_s
        while True:
            now = {v: self.subscribes(v) for v in at_least}
            if all(now[v] >= n for v, n in at_least.items()):
                return
            assert time.monotonic() < deadline, f"subscribe messages {now}, wanted {at_least}"
            time.sleep(0.05)


async def subscribe_messages(server: VenueServer) -> dict[str, int]:
    """Return how many subscribe messages one process sends per venue: what a Feed of the config plans."""
    out = {}
    async with aiohttp.ClientSession() as session:
        for venue in VENUES:
            feed = Feed(
                get_venue(venue), session=session, ws_url=server.ws_url(venue), rest_url=server.rest_url(venue),
                channels=CHANNELS, instruments=InstrumentIndex(), coins=None, emit=lambda events: None,
            )
            await feed.load_instruments()
            connections = feed.venue.ws_connections(feed.selected(), feed.channels, feed.ws_url)
            out[venue] = sum(len(c.subscribe) for c in connections)
    return out


def recorded_frames(directory: Path) -> list[bytes]:
    """Return every websocket frame recorded so far under `directory` (gzip frames decompressed)."""
    out = []
    for path in directory.glob("*.2*.jsonl"):
        for line in read_recording(path):
            if isinstance(line, RecordedLine):
                out.append(gzip.decompress(line.frame) if line.frame[:2] == b"\x1f\x8b" else line.frame)
    return out


def cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-m", "liqwatch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def write_config(path: Path, server: VenueServer) -> Path:
    lines = ["[feeds]", f"venues = {list(VENUES)!r}", 'channels = ["liquidations", "open_interest"]', "[store]", "flush_interval_s = 0.2"]
    for venue in VENUES:
        lines += [f'[venues."{venue}"]', f'ws_url = "{server.ws_url(venue)}"', f'rest_url = "{server.rest_url(venue)}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def liquidations(db: Path) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        rows = store.liquidations()
    finally:
        store.close()
    return sorted((r["venue"], r["symbol"], r["position_side"], round(r["notional_usd"], 6), r["ts_event"]) for r in rows)


def replay(files: list[Path], db: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["replay", *map(str, files), "--db", str(db), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    reports: list[dict[str, Any]] = json.loads(result.output)
    return reports


@pytest.fixture
def exchange() -> Iterator[ThreadedServer]:
    with ThreadedServer() as t:
        yield t


def test_recordings_replay_to_what_up_stored(exchange: ThreadedServer, tmp_path: Path) -> None:
    s = exchange.server
    config = write_config(tmp_path / "liqwatch.toml", s)
    live_db, up_dir, rec_dir = tmp_path / "live.duckdb", tmp_path / "up-rec", tmp_path / "rec"
    up = cli("up", "--config", str(config), "--db", str(live_db), "--no-view", "--record", str(up_dir))
    procs = [up]
    try:
        # exact counts, not a quiet period: HTX subscribes in ~180 messages, and under load pauses between them
        per_process = exchange.call(subscribe_messages(s))
        exchange.wait_subscribes(per_process)
        rec = cli("record", "--config", str(config), "--venues", ",".join(VENUES), "--out", str(rec_dir))
        procs.append(rec)
        exchange.wait_subscribes({v: 2 * n for v, n in per_process.items()})  # the same subscriptions again
        sent_before = {v: s.counters(v).frames_sent for v in VENUES}
        binance_file, htx_file = DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.liquidations.jsonl", DEFAULT_RECORDED_DIR / "HTX.liquidations.jsonl"
        htx_topics, htx_dialect = s.subscribed_topics("htx"), DIALECTS["htx"]
        frames = [r.frame for r in read_recording(binance_file) if isinstance(r, RecordedLine)] + [OKX_SWAP_LIQ]
        frames += [
            r.frame for r in read_recording(htx_file)
            if isinstance(r, RecordedLine) and (t := htx_dialect.topic_of(r.frame)) is not None and htx_dialect.subscribed_to(htx_topics, t)
        ]  # fmt: skip
        assert exchange.call(s.replay_file("binance-usdm", binance_file)) == 1
        exchange.call(s.push("okx", OKX_SWAP_LIQ))
        htx = exchange.call(s.replay_file("htx", htx_file))
        assert htx >= 1 and len(frames) == 2 + htx
        pushed = {"binance-usdm": 1, "okx": 1, "htx": htx}
        deadline = time.monotonic() + 60
        while any(s.counters(v).frames_sent - sent_before[v] < 2 * pushed[v] for v in VENUES):  # both processes got each
            assert time.monotonic() < deadline, "frames not sent"
            time.sleep(0.05)
        # sent is not read: wait until both processes recorded every pushed frame (the tap runs before the parse)
        deadline = time.monotonic() + 60
        while not all(set(frames) <= set(recorded_frames(d)) for d in (up_dir, rec_dir)):
            assert time.monotonic() < deadline, "pushed frames not recorded by both processes"
            time.sleep(0.1)
        for p in procs:  # Ctrl-C: both close their files cleanly
            p.send_signal(signal.SIGINT)
        rec_out, rec_err = rec.communicate(timeout=30)
        up_out, up_err = up.communicate(timeout=30)
    finally:
        for p in procs:
            p.kill()
    assert rec.returncode == 0, rec_err
    assert up.returncode == 0, up_err
    assert "Traceback" not in rec_err + up_err
    assert "recorded" in rec_out and "recorded" in up_out

    live = liquidations(live_db)
    venues = {row[0] for row in live}
    assert venues == set(VENUES), live  # HTX arrived gzip-compressed
    okx = [row for row in live if row[0] == "okx"]
    assert okx == [("okx", "BTC-USDT-SWAP", "long", 1500.0, 1_700_000_000_000_000_000)]

    for directory in (up_dir, rec_dir):
        files = sorted(directory.glob("*.jsonl"))
        names = {f.name for f in files}
        for venue in VENUES:
            assert f"{PREFIX[venue]}.rest_instruments.jsonl" in names
            assert any(n.startswith(f"{PREFIX[venue]}.2") for n in names), names  # PREFIX.YYYYMMDD.jsonl
        assert any(".rest_poll." in n for n in names)  # Binance and HTX poll open interest over REST
        for f in files:  # every line is a recording line read_recording understands
            lines = list(read_recording(f))
            assert lines and all(isinstance(line, RecordedLine) for line in lines), f
        htx_frames = next(f for f in files if f.name.startswith("HTX.2"))
        raw = [json.loads(line) for line in htx_frames.read_text().splitlines()]
        assert all("raw_b64" in r and base64.b64decode(r["raw_b64"])[:2] == b"\x1f\x8b" for r in raw)
        assert all(r["url"].startswith("ws://127.0.0.1") for r in raw)

        db = tmp_path / f"replayed-{directory.name}.duckdb"
        reports = replay(files, db)
        assert all(r["skipped"].get("parser_bug", 0) == 0 for r in reports)
        assert liquidations(db) == live, directory.name

    # the same process recorded every poll body it parsed: replay stores the open interest the live run stored
    # (the live poller drops unchanged values from a second round, so compare distinct readings)
    sql = "SELECT DISTINCT venue, symbol, raw_value FROM open_interest ORDER BY ALL"
    replayed, stored = open_store(tmp_path / "replayed-up-rec.duckdb"), open_store(live_db)
    try:
        live_oi = stored.execute(sql)
        assert live_oi and {row[0] for row in live_oi} == {"binance-usdm", "htx"}
        assert replayed.execute(sql) == live_oi
    finally:
        replayed.close()
        stored.close()


def test_record_to_an_unusable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["record", "--out", str(blocker / "rec"), "--venues", "okx", "--duration", "1"])
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(f"cannot record to {blocker / 'rec'}:")


def test_record_venues_option_takes_a_comma_list_and_rejects_unknown_names() -> None:
    assert load_settings(None, ["okx,htx", "bybit"], ["btc"]).feeds.venues == ["okx", "htx", "bybit"]
    with pytest.raises(ConfigError, match=r"bybitt.*bybit"):
        load_settings(None, ["okx,bybitt"], None)
