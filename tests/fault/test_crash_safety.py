"""Crash safety: `kill -9` a real `liqwatch up` mid-ingest at a high rate, then open the file and restart.

The local exchange pushes numbered Binance forceOrder frames (frame i has trade time BASE_MS + i) at
~10k frames/s. After SIGKILL the DuckDB file must open, hold every frame that was flushed exactly once and as
one unbroken run 0..k-1 (a flush is all-or-nothing), and k must cover every frame sent more than one flush
interval (plus scheduling slack on this shared VM) before the kill: the documented loss window.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from test_up import DASHBOARD, Output, ThreadedServer, api_liquidations, poll

from liqwatch.storage import open_store

pytestmark = pytest.mark.timeout(90)
VENUE = "binance-usdm"
BASE_MS = 1_700_000_000_000
FLUSH_INTERVAL_S = 0.25
SLACK_S = 1.5  # receive backlog + one DuckDB write + a busy shared CPU
ROOT = Path(__file__).resolve().parents[2]


def frame(i: int) -> bytes:
    ms = BASE_MS + i
    return (
        f'{{"stream":"btcusdt@forceOrder","data":{{"e":"forceOrder","E":{ms},"o":{{"s":"BTCUSDT","S":"SELL","o":"LIMIT",'
        f'"f":"IOC","q":"0.010","p":"30000.00","ap":"30000.00","X":"FILLED","l":"0.010","z":"0.010","T":{ms}}}}}}}'
    ).encode()


def start_up(config: Path, db: Path, seconds: float | None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    duration = ["--duration", str(seconds)] if seconds is not None else []
    return subprocess.Popen(
        [sys.executable, "-m", "liqwatch", "up", "--config", str(config), "--db", str(db), *duration, "--no-view"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def stored_sequence(db: Path) -> list[int]:
    store = open_store(db)
    try:
        rows = store.liquidations()
    finally:
        store.close()
    return sorted(int(r["ts_event"]) // 1_000_000 - BASE_MS for r in rows)


def test_kill_9_mid_ingest_keeps_every_flushed_event_once_and_restarts(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    with ThreadedServer() as exchange:
        s = exchange.server
        config = tmp_path / "liqwatch.toml"
        config.write_text(
            f'[feeds]\nvenues = ["{VENUE}"]\nliquidation_silence_s = 0\n'
            f"[store]\nflush_interval_s = {FLUSH_INTERVAL_S}\nbatch_size = 1000000\n"
            f'[venues."{VENUE}"]\nws_url = "{s.ws_url(VENUE)}"\nrest_url = "{s.rest_url(VENUE)}"\n'
            "[web]\nport = 0\n"
        )
        proc = start_up(config, db, seconds=60)
        try:
            exchange.call(s.wait_subscribed(VENUE, timeout_s=30))
            counters = s.counters(VENUE)
            sent_at: list[tuple[float, int]] = []  # (monotonic time, frames sent so far)

            async def push(lo: int, hi: int) -> None:
                for i in range(lo, hi):
                    await s.push(VENUE, frame(i))

            i, chunk = 0, 500
            while i < 20_000:  # 500 frames every 50 ms (~10k/s when the CPU is free), then kill while still pushing
                exchange.call(push(i, i + chunk))
                i += chunk
                sent_at.append((time.monotonic(), counters.frames_sent))
                time.sleep(0.05)
            killed_at = time.monotonic()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
        assert proc.returncode == -signal.SIGKILL

        seq = stored_sequence(db)  # the file opens after a kill -9 (DuckDB replays its WAL)
        assert seq, "nothing was flushed in 2 s with a 0.25 s flush interval"
        assert len(seq) == len(set(seq)), "an event was stored twice"
        assert seq == list(range(len(seq))), "flushed events are one unbroken run: no batch was half-written"
        sent_before_window = max((n for t, n in sent_at if t <= killed_at - FLUSH_INTERVAL_S - SLACK_S), default=0)
        assert sent_before_window > 1000, "the test pushed too little to say anything"
        assert len(seq) >= sent_before_window, (
            f"lost events older than the loss window: stored {len(seq)}, sent {sent_before_window} more than "
            f"{FLUSH_INTERVAL_S + SLACK_S} s before the kill"
        )
        first_k = len(seq)

        # restart on the same file: the frames sent again (a venue re-sending after a reconnect) are not stored twice
        subscribed = counters.subscribe_messages
        proc = start_up(config, db, seconds=None)  # stopped with Ctrl-C once the new frames are stored
        output = Output(proc)
        try:
            exchange.call(s.wait_subscribed(VENUE, count=subscribed + 1, timeout_s=30))
            exchange.call(push(first_k - 200, first_k + 100))
            dashboard = poll("the dashboard URL", lambda: next((m.group(1) for m in map(DASHBOARD.search, output.out) if m), None))
            since_ns = (BASE_MS + first_k) * 1_000_000 - 1  # the API's since is exclusive
            poll(
                "the 100 new frames stored",
                lambda: True if len(api_liquidations(dashboard, since_ns=since_ns)) >= 100 else None,
            )
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=40)
        finally:
            proc.kill()
            _, err = output.join()
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    seq = stored_sequence(db)
    assert len(seq) == len(set(seq))
    assert seq[: first_k + 100] == list(range(first_k + 100))
