"""`liqwatch map`, `heatmap` (+ calibrate), `stress` and `study` on a real DuckDB file: JSON content and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from factories import T0, make_liquidation
from heatmap_scenario import MIN, bar_events
from liqwatch.cli import app
from liqwatch.errors import ConfigError
from liqwatch.model import Signal
from liqwatch.model.time import ns_to_iso
from liqwatch.storage.duckdb_store import DuckDBStore

runner = CliRunner()
MODEL = ["--leverages", "10,50", "--weights", "1,1", "--entry", "close", "--split", "even"]
PRICES = [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 90, 95), (95, 110, 95, 108)]
AT = ns_to_iso(T0 + 3 * MIN)
H = 3_600 * 10**9


@pytest.fixture
def seeded(db_path: Path) -> Path:
    store = DuckDBStore(db_path)
    store.write(bar_events([(*p, oi) for p, oi in zip(PRICES, [10, 12, 9, 9, 9], strict=True)], start=T0))
    store.write(bar_events([(*p, oi) for p, oi in zip(PRICES, [100, 110, 110, 110, 110], strict=True)], start=T0,
                           venue="okx", symbol="BTC-USDT-SWAP"))
    store.write([make_liquidation(ts_event=T0 + 4 * MIN - 10**9, price=90.4, quantity=10.0)])
    store.close()
    return db_path


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_map_json(seeded: Path) -> None:
    m = _json("map", "--coin", "btc", "--at", AT, "--lookback", "1h", *MODEL, "--bucket", "1", "--db", str(seeded))
    assert m["price"] == 100.0 and m["cumulative_long"] == [[98.5, 287.5], [90.5, 575.0]]
    assert m["assumptions"]["weights"] == [1.0, 1.0] and m["assumptions"]["bucket_usd"] == 1.0


def test_map_table_and_flat_mmr(seeded: Path) -> None:
    result = runner.invoke(app, ["map", "--at", AT, "--lookback", "1h", *MODEL, "--mmr", "0", "--db", str(seeded)])
    assert result.exit_code == 0, result.output
    assert "within ±2%" in result.output and "max pain" in result.output
    m = _json("map", "--at", AT, "--lookback", "1h", *MODEL, "--mmr", "0", "--bucket", "1", "--db", str(seeded))
    assert [b["price"] for b in m["buckets"]] == [90.5, 98.5, 102.5, 110.5]  # 90/98 and 102/110 land in those buckets
    assert m["assumptions"]["mmr_source"].startswith("flat 0.000% (--mmr)")


def test_weights_come_from_the_heatmap_config_section(seeded: Path) -> None:
    env = {"LIQWATCH__HEATMAP__LEVERAGES": "10,50", "LIQWATCH__HEATMAP__WEIGHTS": "3,1", "LIQWATCH__HEATMAP__MMR": "0.004"}
    result = runner.invoke(app, ["map", "--at", AT, "--lookback", "1h", "--entry", "close", "--split", "even", "--json",
                                 "--db", str(seeded)], env=env)
    assert result.exit_code == 0, result.output
    a = json.loads(result.output)["assumptions"]
    assert a["tiers"] == [{"leverage": 10.0, "share": 0.75}, {"leverage": 50.0, "share": 0.25}]
    assert a["mmr_source"].startswith("flat 0.400% ([heatmap] mmr)")


def test_stress_to_move_and_cascade(seeded: Path) -> None:
    base = ["stress", "--at", AT, "--lookback", "1h", *MODEL, "--db", str(seeded)]
    r = _json(*base, "--to", "95")
    assert r["side"] == "long" and r["total_usd"] == pytest.approx(287.5)
    assert r["venues"] == {"okx": pytest.approx(250.0), "bybit": pytest.approx(37.5)}
    # all weight on 10x → the 98.5 (50x) bucket empties; all on 50x → it doubles
    assert r["range"]["low_usd"] < 287.5 < r["range"]["high_usd"]
    assert _json(*base, "--move=-2%")["target"] == pytest.approx(98.0)
    up = _json(*base, "--move=+10%")
    assert up["side"] == "short" and up["total_usd"] == pytest.approx(575.0)
    # the 50x long (98.5) sits in the $0.1 bucket [98.5, 98.6), counted at its mid 98.55; impact 2% per $1M:
    # 287.5 USD pushes 98.5 down by 0.02 × 287.5e-6, which reaches nothing more
    c = _json(*base, "--to", "98.5", "--cascade", "--impact", "0.02")["cascade"]
    assert c["converged"] and c["total_usd"] == pytest.approx(287.5)
    assert c["final_price"] == pytest.approx(98.5 * (1 - 0.02 * 287.5e-6), rel=1e-12)
    bad = runner.invoke(app, [*base, "--to", "95", "--move=-5%"])
    assert isinstance(bad.exception, ConfigError)


def test_heatmap_json_and_calibrate(seeded: Path) -> None:
    until = ns_to_iso(T0 + 5 * MIN)
    g = _json("heatmap", "--coin", "BTC", "--range", "5m", "--until", until, *MODEL, "--bucket", "1", "--db", str(seeded))
    assert g["column_s"] == 60 and len(g["x_axis"]) == 5 and len(g["candles"]) == 5
    assert sum(c[2] for c in g["cells"] if c[0] == 1) == pytest.approx(1200.0)
    r = _json("heatmap", "calibrate", "--range", "2m", "--until", until, "--horizon", "2m", *MODEL, "--db", str(seeded))
    assert r["venues"]["bybit"]["recall"] == 1.0 and r["venues"]["bybit"]["zones_hit"] == 1


def test_heatmap_html_figure(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "heat.html"
    result = runner.invoke(app, ["heatmap", "--range", "5m", "--until", ns_to_iso(T0 + 5 * MIN), *MODEL,
                                 "--html", str(out), "--db", str(seeded)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert '"type":"candlestick"' in text and '"type":"heatmap"' in text and len(text) > 1_000_000  # plotly.js inline


@pytest.mark.skipif(shutil.which("chromium") is None, reason="PNG export needs a Chromium")
def test_map_png_figure(seeded: Path, tmp_path: Path) -> None:
    pytest.importorskip("kaleido")
    out = tmp_path / "map.png"
    result = runner.invoke(app, ["map", "--at", AT, "--lookback", "1h", *MODEL, "--png", str(out), "--db", str(seeded)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_study_recovers_a_planted_effect_from_stored_signals(db_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 200 * 24
    log = np.cumsum(rng.normal(0, 0.004, n))
    events = [T0 + (d * 24 + 6) * H for d in range(5, 195, 9)]
    for e in events:
        i = (e - T0) // H
        log[i + 1 :] += np.log(1.03)  # +3% in the hour after each signal
    closes = 100 * np.exp(log)
    store = DuckDBStore(db_path)
    store.write(bar_events([(c, c, c, c, None) for c in closes], start=T0 - H, interval_s=3600))
    store.write([Signal(kind="long-cluster", coin="BTC", timeframe="1h", direction="bullish", message="test",
                        inputs="{}", ts_event=e, ts_recv=e) for e in events])
    store.close()
    out = _json("study", "--signal", "long-cluster", "--coin", "BTC", "--horizons", "1h,24h", "--since",
                ns_to_iso(T0 - 2 * H), "--until", ns_to_iso(T0 + n * H), "--db", str(db_path))
    r = out["signals"]["long-cluster"]
    assert r["source"] == "signals" and r["events"] == len(events) == 22
    h1 = r["horizons"]["1h"]
    assert h1["events"]["mean"] == pytest.approx(0.03, abs=0.005) and h1["difference"]["effect"]
    assert r["summary"]["1h"].startswith("after 22 long-cluster events, BTC's 1h return averaged +3.")
    table = runner.invoke(app, ["study", "--signal", "all", "--since", ns_to_iso(T0 - 2 * H), "--db", str(db_path)])
    assert table.exit_code == 0, table.output
    assert "after oi-flush" in table.output.replace("\n", " ") or "oi-flush" in table.output
