"""Issue 18 item 7 on `liqwatch up` as a user runs it (the installed console script, venues on 127.0.0.1 that refuse):
`--duration` and Ctrl-C stop promptly, the messages keep their `[venues.x]` text, the totals read as prose."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _local import free_port
from test_up import VENUES, write_config

pytestmark = pytest.mark.timeout(120)
LIQWATCH = str(Path(sys.executable).with_name("liqwatch"))
STOP_BOUND_S = 6.0  # generous: start-up plus the 2 s the issue asks for; before the fix a stop took ~10 s more


def offline_up(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    dead = free_port()  # nothing listens here: the venues stay unreachable, their instruments never load
    urls = {v: (f"ws://127.0.0.1:{dead}/ws", f"http://127.0.0.1:{dead}") for v in VENUES}
    config = write_config(tmp_path / "liqwatch.toml", urls)
    return subprocess.Popen(
        [LIQWATCH, "up", "--config", str(config), "--db", str(tmp_path / "x.duckdb"), "--no-view", "--no-web", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"COLUMNS": "200", "PATH": str(Path(LIQWATCH).parent)},
    )


def test_duration_stops_on_time_with_unreachable_venues(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = offline_up(tmp_path, "--duration", "2")
    out, err = proc.communicate(timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err
    assert elapsed < 2 + STOP_BOUND_S, f"--duration 2 took {elapsed:.1f} s"
    assert "stopped; stored nothing" in out
    assert "{" not in out.split("stopped;")[1]  # no raw dict
    assert "the URL is set by [venues.okx] rest_url" in " ".join(out.split())  # not swallowed as markup


def test_ctrl_c_stops_promptly(tmp_path: Path) -> None:
    proc = offline_up(tmp_path)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("liqwatch up:"), line
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < STOP_BOUND_S
    assert "Traceback" not in out + err
    assert "stopped; stored nothing" in out


def test_the_live_view_prints_log_lines_above_itself(tmp_path: Path) -> None:
    """In a terminal (a pty, 100×30), `up`'s live view is on: the venues' warnings go through the view's console (rich
    prints them above the live table), not to stderr underneath it, where they garbled the view."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    dead = free_port()
    urls = {v: (f"ws://127.0.0.1:{dead}/ws", f"http://127.0.0.1:{dead}") for v in VENUES}
    config = write_config(tmp_path / "liqwatch.toml", urls)
    leader, follower = pty.openpty()
    # 120 columns: the warning (logger liqwatch.feeds.venue_feed) fits one line, so its words are not wrapped apart
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [LIQWATCH, "up", "--config", str(config), "--db", str(tmp_path / "x.duckdb"), "--no-web", "--duration", "9"],  # the first warnings come after ~5 s
        stdin=follower, stdout=follower, stderr=subprocess.PIPE, text=False,
        env={"TERM": "xterm", "PATH": str(Path(LIQWATCH).parent)},
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 0, err
    text = screen.decode(errors="replace")
    assert "WARNING liqwatch.feeds.venue_feed" not in err
    assert "WARNING liqwatch.feeds.venue_feed" in text and "instruments request failed" in text, (err, text[-3000:])
    assert "liqwatch —" in text  # the live table itself
    assert "stored: nothing · queue 0 · write errors 0" in text  # its footer in words, not a Python dict
    assert "writer: {" not in text
