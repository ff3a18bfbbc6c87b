"""Read commands while `liqwatch up` holds the store: the installed `liqwatch` asks the running process, and prints
exactly what it prints from the file once `up` has stopped (issue 18, item 4).

The store starts with tests/market_day.py's two days (candles, liquidations, OI, funding, an outage), `up` collects
from local venue servers on top, and every read command runs twice with pinned times: against the running process,
then against a copy of the file after `up` stopped. Their stdout must be byte for byte the same.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from test_up import VENUES, Output, ThreadedServer, _all_subscribed, frame_topic, poll, write_config

import liqwatch
import market_day
from liqwatch.capture.format import RecordedLine, read_recording
from liqwatch.model.time import ns_to_iso
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.storage import open_store
from liqwatch.storage.runtime import Runtime, runtime_path

pytestmark = pytest.mark.timeout(300)

LIQWATCH = str(Path(sys.executable).with_name("liqwatch"))  # the installed console script
ENV = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
AT = ns_to_iso(market_day.DAY + 22 * market_day.H)
SINCE = ns_to_iso(market_day.PRIOR)
FAR = ns_to_iso(market_day.DAY + 2 * market_day.D)


def read_commands(out_dir: Path) -> dict[str, list[str]]:
    """Every read command, with its times pinned (so both runs see the same window)."""
    return {
        "stats": ["stats", "--at", AT, "--json"],
        "stats-table": ["stats", "--at", AT, "--coin", "BTC"],
        "liquidations": ["liquidations", "--since", SINCE, "--until", FAR, "--json"],
        "liquidations-table": ["liquidations", "--since", SINCE, "--until", AT, "--coin", "ETH", "--limit", "40"],
        "oi": ["oi", "--at", AT, "--json"],
        "oi-between": ["oi", "--from", ns_to_iso(market_day.DAY), "--to", AT, "--json"],
        "price": ["price", "BTC", "--at", AT, "--json"],
        "funding": ["funding", "--at", AT, "--json"],
        "signals": ["signals", "--at", AT, "--window", "48h", "--json"],
        "sessions": ["sessions", "--at", AT, "--json"],
        "brief": ["brief", "--at", AT],
        "brief-json": ["brief", "--at", AT, "--format", "json"],
        "heatmap": ["heatmap", "--coin", "BTC", "--until", AT, "--json"],
        "map": ["map", "--coin", "BTC", "--at", AT, "--json"],
        "stress": ["stress", "--coin", "BTC", "--at", AT, "--move=-5%", "--json"],
        "study": ["study", "--coin", "BTC", "--since", SINCE, "--until", FAR, "--json"],
        "export": ["export", "liquidations", "--out", str(out_dir / "liq.csv"), "--format", "csv", "--since", SINCE],
        "alerts": ["alerts", "recent", "--since", SINCE, "--until", AT],
        "instruments": ["instruments", "list", "--venue", "okx", "--json"],
    }


def run(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LIQWATCH, *args, "--db", str(db)], capture_output=True, text=True, env=ENV, timeout=120)


@pytest.fixture
def exchange() -> Iterator[ThreadedServer]:
    with ThreadedServer() as t:
        yield t


def seed_store(db: Path) -> None:
    store = open_store(db)
    store.write(market_day.build().events)
    store.close()
    evaluated = run(["signals", "--at", AT, "--window", "48h", "--evaluate", "--json"], db)  # stored signals to read
    assert evaluated.returncode == 0 and "leverage-flush" in evaluated.stdout, evaluated.stderr


def start_up(config: Path, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LIQWATCH, "up", "--config", str(config), "--db", str(db), "--no-view", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )


def stop(proc: subprocess.Popen[str], output: Output) -> str:
    """Ctrl-C `up` and return its stderr (killed if it does not stop)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return output.join()[1]


def assert_clean_exit(proc: subprocess.Popen[str], err: str) -> None:
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


def live_runtime_file(db: Path) -> Runtime:
    def check() -> Runtime | None:
        path = runtime_path(db)
        return msgspec.json.decode(path.read_bytes(), type=Runtime) if path.exists() else None

    return poll("the runtime file", check)


def test_every_read_command_while_up_runs_prints_what_it_prints_from_the_file(exchange: ThreadedServer, tmp_path: Path) -> None:
    s = exchange.server
    db = tmp_path / "live.duckdb"
    seed_store(db)
    config = write_config(tmp_path / "liqwatch.toml", {v: (s.ws_url(v), s.rest_url(v)) for v in VENUES})
    proc = start_up(config, db)
    output = Output(proc)
    live_dir, copy_dir = tmp_path / "live-out", tmp_path / "copy-out"
    live_dir.mkdir()
    copy_dir.mkdir()
    try:
        info = live_runtime_file(db)
        assert info.pid == proc.pid and info.db == str(db) and info.url.startswith("http://127.0.0.1:")
        assert stat.S_IMODE(runtime_path(db).stat().st_mode) == 0o600  # it holds the key
        # the live collection reaches the store too, and a read command sees it while `up` runs
        bybit_file = DEFAULT_RECORDED_DIR / "BYBIT.liquidations.jsonl"
        pippin_frame = next(r.frame for r in read_recording(bybit_file) if isinstance(r, RecordedLine) and b"PIPPINUSDT" in r.frame)
        needed = {"bybit": frame_topic("bybit", pippin_frame)}
        poll("the PIPPIN topic subscribed", lambda: exchange.call(_all_subscribed(s, needed)) or None)
        assert exchange.call(s.replay_file("bybit", bybit_file)) >= 1

        def pippin() -> bool | None:
            got = run(["liquidations", "--venue", "bybit", "--json"], db)
            assert got.returncode == 0, got.stderr
            return True if "PIPPINUSDT" in got.stdout else None

        poll("the live liquidation readable while up runs", pippin)
        live = {name: run(args, db) for name, args in read_commands(live_dir).items()}
        lw = liqwatch.open(db)  # the notebook API, while `up` runs
        lw_stats = lw.stats(window="24h", at=AT)
        lw_frame = lw.liquidations(since=SINCE, until=AT)
        lw.close()
        # writing still needs `up` stopped, and says so in one line naming the process
        written = run(["replay", str(DEFAULT_RECORDED_DIR / "BYBIT.liquidations.jsonl")], db)
        assert written.returncode != 0 and f"liqwatch (pid {proc.pid}" in written.stderr
        assert "Traceback" not in written.stderr and len(written.stderr.strip().splitlines()) == 1
    finally:
        err = stop(proc, output)
    assert_clean_exit(proc, err)
    assert not runtime_path(db).exists()  # removed on a clean exit
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(db, copy)
    direct = {name: run(args, copy) for name, args in read_commands(copy_dir).items()}
    for name, got in live.items():
        assert got.returncode == 0, f"{name}: {got.stderr}"
        assert direct[name].returncode == 0, f"{name}: {direct[name].stderr}"
        assert got.stdout.replace(str(live_dir), str(copy_dir)) == direct[name].stdout, name  # export names its file
        assert got.stdout.strip(), f"{name} printed nothing"
    # real content, not two empty answers
    stats = msgspec.json.decode(live["stats"].stdout)
    assert stats["count"] > 100 and stats["total_usd"] > 0
    assert msgspec.json.decode(live["oi"].stdout)["coins"]
    assert (live_dir / "liq.csv").read_bytes() == (copy_dir / "liq.csv").read_bytes()
    assert len((live_dir / "liq.csv").read_text().splitlines()) > 100
    # liqwatch.open() while `up` ran = liqwatch.open() on the file
    after = liqwatch.open(copy)
    assert lw_stats == after.stats(window="24h", at=AT) and lw_stats["count"] == stats["count"]
    assert lw_frame.equals(after.liquidations(since=SINCE, until=AT)) and lw_frame.height > 100
    after.close()


def test_reads_work_with_the_dashboard_off_and_a_stale_runtime_file_is_ignored(tmp_path: Path) -> None:
    db = tmp_path / "noweb.duckdb"
    seed_store(db)
    dead = Runtime(pid=2**22 + 12345, url="http://127.0.0.1:9", key="x", db=str(db), started_at="2026-01-01T00:00:00Z")
    runtime_path(db).write_bytes(msgspec.json.encode(dead))
    direct = run(["stats", "--at", AT, "--json"], db)  # the lock is free: the stale file is removed, the file read
    assert direct.returncode == 0, direct.stderr
    assert not runtime_path(db).exists()
    runtime_path(db).write_bytes(msgspec.json.encode(dead))
    urls = {v: ("ws://127.0.0.1:9/ws", "http://127.0.0.1:9") for v in VENUES}  # nothing listens: offline
    proc = start_up(write_config(tmp_path / "liqwatch.toml", urls), db, "--no-web")
    output = Output(proc)
    try:
        info = poll("up's own runtime file", lambda: (i if (i := live_runtime_file(db)).pid == proc.pid else None))
        assert info.dashboard is None
        got = run(["stats", "--at", AT, "--json"], db)
        assert got.returncode == 0, got.stderr
        assert got.stdout == direct.stdout
    finally:
        err = stop(proc, output)
    assert_clean_exit(proc, err)
    assert not runtime_path(db).exists()


def test_a_store_locked_by_a_process_that_serves_no_reads_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    seed_store(db)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        got = run(["stats", "--json"], db)
        assert got.returncode == 1 and "in use by another process" in got.stderr
        assert "Traceback" not in got.stderr and len(got.stderr.strip().splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_read_command_while_the_demo_runs(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    proc = subprocess.Popen(
        [LIQWATCH, "demo", "--db", str(db), "--no-view", "--port", "0", "--no-alerts", "--speed", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )
    output = Output(proc)
    try:
        info = live_runtime_file(db)
        assert info.pid == proc.pid

        def stored() -> dict[str, object] | None:
            got = run(["stats", "--at", "2025-11-06T00:00:00Z", "--window", "7d", "--json"], db)
            assert got.returncode == 0, got.stderr
            result: dict[str, object] = msgspec.json.decode(got.stdout)
            return result if int(str(result["count"])) > 0 else None

        result = poll("the demo's liquidations read while it runs", stored, timeout_s=120)
        assert float(str(result["total_usd"])) > 0
        assert proc.poll() is None  # read while the demo was still running
    finally:
        stop(proc, output)
    assert not runtime_path(db).exists()
