"""Issue 18 item 7, the way a person meets it: the installed `liqwatch` console script run as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def liqwatch(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("liqwatch") or str(Path(sys.executable).parent / "liqwatch")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={"COLUMNS": "100", "PATH": str(Path(exe).parent), "HOME": str(Path.home())})


@pytest.mark.parametrize("command", [["stats"], ["liquidations"], ["oi"], ["up"], ["demo"]])
def test_help_shows_flags_without_a_type(command: list[str]) -> None:
    done = liqwatch(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert "--help" in done.stdout
    assert "<bool>" not in done.stdout


def test_demo_prints_bracketed_text_literally(tmp_path: Path) -> None:
    """Rich markup would swallow `[web]` (as in "pip install 'liqwatch[web]'"); the demo's lines show it."""
    db = tmp_path / "[web]" / "demo.duckdb"
    db.parent.mkdir()
    done = liqwatch("demo", "--hours", "0.1", "--speed", "3600", "--no-web", "--no-view", "--db", str(db), timeout=300)
    assert done.returncode == 0, done.stderr
    flat = done.stdout.replace("\n", "")
    assert f"store: {db}" in flat
    assert f"store {db}" in flat


@pytest.fixture(scope="module")
def market_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import market_day as md
    from liqwatch.storage import open_store

    path = tmp_path_factory.mktemp("details") / "day.duckdb"
    store = open_store(path)
    store.write(md.build().events)
    store.close()
    return path


def test_liquidations_table_shows_a_page_and_says_how_many_more(market_db: Path) -> None:
    args = ("liquidations", "--since", "2025-11-01T00:00:00Z", "--until", "2025-11-06T00:00:00Z", "--db", str(market_db))
    everything = liqwatch(*args, "--json")
    assert everything.returncode == 0, everything.stderr
    total = len(everything.stdout.splitlines())
    assert total > 50
    done = liqwatch(*args)
    assert done.returncode == 0, done.stderr
    assert f"50 liquidations (the newest 50 of {total:,})" in done.stdout
    assert f"{total - 50:,} older liquidations not shown" in done.stdout
    assert sum(1 for line in done.stdout.splitlines() if line.startswith("│ 2025-11-")) == 50
    limited = liqwatch(*args, "--limit", "60")
    assert "60 liquidations" in limited.stdout and "not shown" not in limited.stdout


def test_stats_table_has_the_by_margin_and_top_lists(market_db: Path) -> None:
    import json

    from liqwatch.cli.query import _usd

    args = ("stats", "--at", "2025-11-04T20:00:00Z", "--window", "24h", "--db", str(market_db))
    data = json.loads(liqwatch(*args, "--json").stdout)
    assert set(data["by_margin"]) == {"coin", "stablecoin"} and len(data["top"]) == 5
    done = liqwatch(*args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "by margin" in done.stdout and "largest 5" in done.stdout
    for margin, block in data["by_margin"].items():
        row = next(line for line in lines if line.startswith(f"│ {margin} "))
        assert _usd(block["total_usd"]) in row and f"{block['count']:,}" in row
    for r in data["top"]:
        row = next(line for line in lines if line.startswith(f"│ {r['ts']} "))
        assert r["venue"] in row and _usd(r["notional_usd"]) in row


def test_study_names_the_stored_candles_when_they_are_outside_its_window(market_db: Path) -> None:
    done = liqwatch("study", "--db", str(market_db))  # default --since 365d: the 2025-11 market day is older
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())
    assert "No candles stored" not in flat
    assert "No BTC candles between" in flat
    assert "(stored: 2025-09-04T00:00:00.000Z to 2025-11-04T23:59:00.000Z): set --since/--until around them." in flat


def test_study_sentence_with_too_few_events_for_an_interval_prints_no_nan() -> None:
    from liqwatch.analytics.study import sentence

    one = {"n": 1, "mean": 0.012, "median": 0.012, "hit_rate": 1.0, "t_stat": None, "ci95": None}
    result = {"horizons": {"24h": {"events": one, "controls": {"n": 0, "mean": None}, "difference": {"mean": None}}}}
    text = sentence(result, signal="long-cluster", coin="BTC", horizon="24h")
    assert "nan" not in text
    assert text == "after 1 long-cluster events, BTC's 24h return averaged +1.20% (too few events for a 95% CI; hit rate 100%)"
