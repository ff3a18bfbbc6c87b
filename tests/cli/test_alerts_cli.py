"""`liqwatch alerts test|list|recent` as a user runs them, against local receivers and a real DuckDB file."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import msgspec

from alert_receiver import Receiver
from factories import T0, make_liquidation
from liqwatch.alerts.engine import AlertEngine
from liqwatch.config.alerts import AlertSettings
from liqwatch.storage.duckdb_store import DuckDBStore

SECRET = "s3cretTOKEN42"
RULES = """
[[alerts.rules]]
type = "liquidation"
name = "btc-big"
coin = "BTC"
min_usd = 1000000
[[alerts.rules]]
type = "oi-change"
name = "oi-5pct"
pct = 5
window = "1h"
"""


async def _liqwatch(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liqwatch", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_alerts_test_sends_to_every_destination_and_says_which_failed(tmp_path: Path) -> None:
    async with Receiver() as good, Receiver(status=500) as bad:
        config = tmp_path / "c.toml"
        config.write_text(f'[alerts]\nurls = ["{good.url()}", "{bad.url()}"]\ntimeout_s = 2\n{RULES}')
        code, out, err = await _liqwatch("alerts", "test", "--config", str(config))
    assert code == 1
    assert [b["title"] for b in good.received] == ["liqwatch: test message"] and len(bad.requests) == 1
    lines = out.splitlines()
    assert lines[0] == f"ok     json://127.0.0.1:{good.port}/***/***"
    assert lines[1].startswith(f"FAILED json://127.0.0.1:{bad.port}/***/***")
    assert err.strip() == "error: 1 of 2 destinations did not accept the test message; check the URLs above"
    assert SECRET not in out + err


async def test_alerts_test_without_destinations_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(RULES)
    code, _, err = await _liqwatch("alerts", "test", "--config", str(config))
    assert code == 2 and "[alerts] urls" in err and len(err.strip().splitlines()) == 1


async def test_alerts_list_and_recent_show_rules_and_last_firing(tmp_path: Path) -> None:
    db = tmp_path / "lw.duckdb"
    config = tmp_path / "c.toml"
    config.write_text(f'[store]\npath = "{db}"\n[alerts]\nurls = ["json://127.0.0.1:9/hook/{SECRET}"]\nterminal = false\n{RULES}')
    settings = msgspec.convert(
        {"terminal": False, "rules": [{"type": "liquidation", "name": "btc-big", "coin": "BTC", "min_usd": 1_000_000}]}, AlertSettings, strict=False
    )
    store = DuckDBStore(db)
    AlertEngine(settings, store).observe([make_liquidation(notional_usd=2_000_000.0, ts_event=T0)])
    store.close()
    code, out, err = await _liqwatch("alerts", "list", "--config", str(config), "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["destinations"] == ["json://127.0.0.1:9/***/***"]
    big, oi = listed["rules"]
    assert (big["name"], big["type"], big["fired"], big["last_fired"]) == ("btc-big", "liquidation", 1, "2025-11-04T00:00:00.000Z")
    assert big["condition"] == "coin=BTC min_usd=1000000.0" and big["last_title"] == "liqwatch: BTC long liquidated: $2,000,000 on bybit"
    assert (oi["name"], oi["type"], oi["fired"], oi["last_fired"]) == ("oi-5pct", "oi-change", 0, None)
    code, out, err = await _liqwatch("alerts", "recent", "--config", str(config), "--since", "2025-11-03T00:00:00Z", "--json")
    assert code == 0, err
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["rule"], row["subject"], row["values"]["notional_usd"], row["pending"]) == ("btc-big", "BTC", 2_000_000.0, 0)
    code, out, _ = await _liqwatch("config", "show", "--config", str(config))
    assert code == 0 and SECRET not in out
