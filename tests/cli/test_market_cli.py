"""price / sessions / funding / signals / brief / export on the CLI and the polars API, against the generated day."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import liqwatch
import market_day as md
from liqwatch.analytics.numbers import tidy_float
from liqwatch.cli import app
from liqwatch.model import Candle, Liquidation
from liqwatch.model.time import ns_to_iso
from liqwatch.storage import open_store

RUNNER = CliRunner()
AT = ns_to_iso(md.DAY + 20 * md.H)
CONFIG = """
[signals]
cluster_min_bars = 10
[signals.levels.BTC]
levels = [105000]
zones = [[104000, 106000]]
"""


def run(*args: str) -> str:
    result = RUNNER.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def day() -> md.MarketDay:
    return md.build()


@pytest.fixture(scope="module")
def db(day: md.MarketDay, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "day.duckdb"
    store = open_store(path)
    store.write(day.events)
    store.close()
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "liqwatch.toml"
    path.write_text(CONFIG)
    return path


def test_price_json_and_text(db: Path, day: md.MarketDay) -> None:
    ctx = json.loads(run("price", "ETH", "--at", AT, "--json", "--db", str(db)))
    closes = [c for c in day.of(Candle) if c.coin == "ETH" and c.interval_s == 60 and c.ts_event + md.M <= md.DAY + 20 * md.H]
    # --json floats are tidied to 12 significant digits (liqwatch.analytics.numbers)
    assert ctx["price"] == tidy_float(max(closes, key=lambda c: c.ts_event).close) and ctx["ath"] == md.ATH["ETH"]
    assert "ATH $4,900" in run("price", "ETH", "--at", AT, "--db", str(db))


def test_stats_coin_filter(db: Path, day: md.MarketDay) -> None:
    stats = json.loads(run("stats", "--coin", "eth", "--at", AT, "--json", "--db", str(db)))
    rows = [e for e in day.of(Liquidation) if e.coin == "ETH" and md.DAY - 4 * md.H < e.ts_event <= md.DAY + 20 * md.H]
    assert stats["count"] == len(rows) and list(stats["by_coin"]) == ["ETH"]
    assert stats["total_usd"] == pytest.approx(sum(e.notional_usd for e in rows))


def test_signals_evaluate_then_list(db: Path, config: Path) -> None:
    args = ("signals", "--window", "24h", "--at", AT, "--db", str(db), "--config", str(config))
    assert "new signals" in run(*args, "--evaluate")
    rows = [json.loads(line) for line in run(*args, "--json").splitlines()]
    assert {"long-cluster", "leverage-flush", "level-cross", "zone-lost"} <= {r["kind"] for r in rows}
    assert all(isinstance(r["inputs"], dict) for r in rows)
    assert "capitulation" in run(*args)


def test_brief_in_three_formats(db: Path, config: Path, tmp_path: Path) -> None:
    common = ("--at", AT, "--db", str(db), "--config", str(config))
    brief = json.loads(run("brief", "--format", "json", *common))
    stats = json.loads(run("stats", "--json", "--window", "24h", "--at", AT, "--db", str(db)))
    assert brief["stats"]["total_usd"] == stats["total_usd"] and brief["stats"]["largest"] == stats["largest"]
    md_text = run("brief", "--coin", "BTC", *common)
    assert md_text.startswith("# BTC liquidations reach") and "Not investment advice" in md_text
    out = tmp_path / "brief.html"
    assert "wrote" in run("brief", "--format", "html", "--out", str(out), *common)
    assert "Plotly.newPlot" in out.read_text()


def test_sessions_and_funding(db: Path) -> None:
    sessions = json.loads(run("sessions", "--coin", "BTC", "--at", AT, "--json", "--db", str(db)))
    assert set(sessions["sessions"]) == {"asia", "europe", "us"} and sessions["day"] == "2025-11-04"
    assert "europe" in run("sessions", "--at", AT, "--db", str(db))
    funding = json.loads(run("funding", "--at", AT, "--json", "--db", str(db)))
    assert set(funding["coins"]) == {"BTC", "ETH"}


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_round_trips(db: Path, day: md.MarketDay, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"liq.{fmt}"
    since, until = md.DAY, md.DAY + 12 * md.H
    run("export", "liquidations", "--since", ns_to_iso(since), "--until", ns_to_iso(until), "--format", fmt, "--out", str(out), "--db", str(db))
    frame = pl.read_parquet(out) if fmt == "parquet" else pl.read_csv(out)
    want = [e for e in day.of(Liquidation) if since < e.ts_event <= until]
    assert frame.height == len(want)
    assert frame["notional_usd"].sum() == pytest.approx(sum(e.notional_usd for e in want))


def test_python_api_returns_polars(db: Path, day: md.MarketDay, tmp_path: Path) -> None:
    copy = tmp_path / "copy.duckdb"  # the CLI commands above keep this process's writable connection to `db`
    shutil.copy(db, copy)
    lw = liqwatch.open(copy)
    try:
        frame = lw.liquidations(since=md.DAY, until=md.DAY + md.D, coin="BTC")
        want = [e for e in day.of(Liquidation) if e.coin == "BTC" and md.DAY < e.ts_event <= md.DAY + md.D]
        assert isinstance(frame, pl.DataFrame) and frame.height == len(want)
        by_venue = dict(frame.group_by("venue").agg(pl.col("notional_usd").sum()).iter_rows())
        for venue, total in by_venue.items():
            assert total == pytest.approx(sum(e.notional_usd for e in want if e.venue == venue))
        assert lw.stats(window="24h", at=AT)["count"] == json.loads(
            run("stats", "--json", "--at", AT, "--db", str(db))
        )["count"]
        assert lw.price("BTC", at=AT)["ath"] == md.ATH["BTC"]
        assert lw.brief(at=AT, coin="BTC").headline.startswith("BTC liquidations")
    finally:
        lw.close()
