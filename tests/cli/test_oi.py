"""`liqwatch oi` JSON output and `liqwatch oi import-cme`, on a tmp DuckDB seeded with tests/oi_scenario.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from liqwatch.cli import app
from liqwatch.errors import ConfigError
from liqwatch.storage.duckdb_store import DuckDBStore
from oi_scenario import T_ISO, events

FIXTURE = Path(__file__).parents[1] / "fixtures" / "cme" / "synthetic_voi.csv"
approx = pytest.approx
runner = CliRunner()


@pytest.fixture
def seeded(db_path: Path) -> Path:
    store = DuckDBStore(db_path)
    store.write(events())
    store.close()
    return db_path


def _json(*args: str) -> Any:
    result = runner.invoke(app, ["oi", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_oi_json(seeded: Path) -> None:
    out = _json("--coin", "BTC", "--at", T_ISO, "--json", "--db", str(seeded))
    assert out["at"] == "2025-11-05T00:00:00.000Z"
    total = out["coins"]["BTC"]["total"]
    assert (total["oi_coin"], total["oi_usd"]) == (approx(143_000), approx(13_586_000_000))
    day = total["changes"]["24h"]
    assert day["usd_change"] == approx(12.635 / 13.0 - 1)
    assert day["coin_change"] == approx(3 / 130)
    assert day["price_change"] == approx(-0.05)
    assert out["coins"]["BTC"]["venues"]["bybit"]["usd_sources"] == {"mark": 1}


def test_oi_from_to(seeded: Path) -> None:
    out = _json("--from", "2025-11-04T00:00:00Z", "--to", T_ISO, "--json", "--db", str(seeded))
    ch = out["coins"]["BTC"]["total"]["changes"]["change"]
    assert (ch["coin_change"], ch["symbols"], ch["venues"]) == (approx(3 / 130), 2, 2)


def test_oi_table_runs(seeded: Path) -> None:
    result = runner.invoke(app, ["oi", "--at", T_ISO, "--db", str(seeded)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "total" in result.output and "bybit" in result.output


def test_import_cme_then_oi(seeded: Path) -> None:
    result = runner.invoke(app, ["oi", "import-cme", str(FIXTURE), "--db", str(seeded)])
    assert result.exit_code == 0, result.output
    assert "imported 5 CME end-of-day OI points (5 new)" in result.output
    btc = _json("--coin", "BTC", "--at", T_ISO, "--json", "--db", str(seeded))["coins"]["BTC"]
    cme = btc["venues"]["cme"]
    # BTC 16,000 × 5 (2025-11-04) + MBT 20,000 × 0.1 (2025-11-03); no settlement price, so no USD
    assert (cme["oi_coin"], cme["oi_usd"], cme["end_of_day"], cme["symbols_without_usd"]) == (
        approx(82_000),
        None,
        True,
        2,
    )
    cme_day = cme["changes"]["24h"]
    assert (cme_day["coin_change"], cme_day["usd_change"]) == (approx(80_000 / 75_000 - 1), None)
    assert cme_day["skipped"] == {"not_updated": 1}  # MBT has no newer report
    total = btc["total"]
    assert total["oi_coin"] == approx(225_000)
    assert total["oi_usd"] == approx(13_586_000_000)
    day = total["changes"]["24h"]
    assert (day["symbols"], day["symbols_usd"], day["venues"]) == (3, 2, 3)
    assert day["coin_change"] == approx(213_000 / 205_000 - 1)
    assert day["usd_change"] == approx(12.635 / 13.0 - 1)
    table = runner.invoke(
        app, ["oi", "--coin", "BTC", "--at", T_ISO, "--db", str(seeded)], env={"COLUMNS": "250"}
    )
    assert "end-of-day 2025-11-04" in table.output
    assert cme["changes"]["1h"]["skipped"] == {"end_of_day": 2}  # daily figures make no 1h change


def test_bad_options_are_config_errors(seeded: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["oi", "--to", T_ISO, "--db", str(seeded)])
    assert isinstance(result.exception, ConfigError) and "--from" in str(result.exception)
    bad = tmp_path / "bad.csv"
    bad.write_text("Product,Volume\nBTC,1\n")
    result = runner.invoke(app, ["oi", "import-cme", str(bad), "--db", str(seeded)])
    assert isinstance(result.exception, ConfigError) and "Trade Date" in str(result.exception)
