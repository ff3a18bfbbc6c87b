"""Every scale-out role says why it cannot reach the bus or the store, keeps retrying, and stops at once when told.

The installed console script runs against a closed port (nothing listens: connection refused) and is stopped by
SIGTERM, SIGINT or --duration; it must exit within a few seconds, cleanly, and its first stderr line must say
why, naming the server without its password.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from liqwatch.sim.local_servers import free_port

LIQWATCH = str(Path(sys.executable).with_name("liqwatch"))


def _start(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    err = tmp_path / "stderr.txt"
    proc = subprocess.Popen([LIQWATCH, *args], stdout=subprocess.DEVNULL, stderr=err.open("wb"), env={**os.environ, "COLUMNS": "200"})
    return proc, err


def _first_line(err: Path, proc: subprocess.Popen[bytes], timeout_s: float = 20) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = err.read_text()
        if "\n" in text:
            return text.splitlines()[0]
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"nothing on stderr within {timeout_s} s (exit {proc.poll()}): {err.read_text()!r}")


def _role_args(role: str, bus: str, tmp_path: Path) -> list[str]:
    db = str(tmp_path / "r.duckdb")
    return {
        "ingest": ["ingest", "--bus", bus, "--store", db],
        "collect": ["collect", "--bus", bus, "--venue", "bybit"],
        "serve": ["serve", "--bus", bus, "--store", db, "--port", str(free_port())],
    }[role]


@pytest.mark.parametrize(
    ("role", "how"),
    [("ingest", "SIGTERM"), ("ingest", "SIGINT"), ("ingest", "duration"), ("collect", "SIGINT"), ("collect", "duration"),
     ("serve", "SIGTERM"), ("serve", "duration")],
)  # fmt: skip
def test_a_role_with_an_unreachable_bus_says_why_and_stops_when_told(role: str, how: str, tmp_path: Path) -> None:
    port = free_port()
    if role == "serve":
        from liqwatch.storage import open_store

        open_store(tmp_path / "r.duckdb").close()  # serve reads an existing file
    args = _role_args(role, f"nats://alice:hunter2secret@127.0.0.1:{port}", tmp_path)
    if how == "duration":
        args += ["--duration", "2"]
    proc, err = _start(args, tmp_path)
    first = _first_line(err, proc)
    assert f"cannot reach NATS at nats://127.0.0.1:{port}" in first and "refused" in first.lower(), first
    if how == "duration":
        started = time.monotonic()  # the role is up (it said why): --duration 2 counts from about here
    else:
        time.sleep(1.0)  # retrying by now
        proc.send_signal(getattr(signal, how))
        started = time.monotonic()
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"{role} ignored {how}: still running 8 s later")
    stopped_after = time.monotonic() - started
    assert stopped_after < 5, stopped_after  # a few seconds after the signal or the end of --duration 2
    text = err.read_text()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "hunter2secret" not in text


def test_ingest_with_an_unreachable_store_says_why_without_the_password_and_stops_on_sigterm(tmp_path: Path) -> None:
    store = f"postgresql://alice:hunter2secret@127.0.0.1:{free_port()}/liq"
    proc, err = _start(["ingest", "--bus", f"nats://127.0.0.1:{free_port()}", "--store", store], tmp_path)
    first = _first_line(err, proc)
    assert "cannot open the store" in first and "postgresql://alice:***@127.0.0.1" in first, first
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("ingest ignored SIGTERM while the store was unreachable")
    text = err.read_text()
    assert proc.returncode == 0 and "Traceback" not in text and "hunter2secret" not in text, text
