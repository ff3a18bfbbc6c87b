"""Issue 18 item 6: one store, one time — the brief, `liqwatch oi --json`, `liqwatch stats --json` (the installed
console script), the API and the dashboard's coin table (what the live views read) give the same numbers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import market_day as md
from liqwatch import config
from liqwatch.analytics.brief import build_brief
from liqwatch.analytics.numbers import tidy
from liqwatch.model.time import ns_to_iso
from liqwatch.storage import open_store

AT = md.DAY + 20 * md.H
AT_ISO = ns_to_iso(AT)
WINDOW = 24 * md.H


def liqwatch(*args: str) -> Any:
    exe = shutil.which("liqwatch") or str(Path(sys.executable).parent / "liqwatch")
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from liqwatch.web.background import BackgroundDashboard

    db = tmp_path_factory.mktemp("same") / "day.duckdb"
    store = open_store(db)
    store.write(md.build().events)
    store.close()
    out: dict[str, Any] = {
        "oi": liqwatch("oi", "--at", AT_ISO, "--json", "--db", str(db)),
        "stats": liqwatch("stats", "--at", AT_ISO, "--window", "24h", "--json", "--db", str(db)),
        "brief_cli": liqwatch("brief", "--at", AT_ISO, "--window", "24h", "--format", "json", "--db", str(db)),
    }
    store = open_store(db)
    out["brief"] = tidy(build_brief(store, at=AT, window_ns=WINDOW).to_dict())  # as it is shown
    settings = config.load(environ={}, web__port=0, store__flush_interval_s=0.1)
    with BackgroundDashboard(store, settings) as d:
        for name, path in (("api_oi", "/api/oi"), ("api_stats", "/api/stats"), ("coins", "/api/coins")):
            sep = "&" if "?" in path else "?"
            with urllib.request.urlopen(f"{d.url}{path}{sep}at={AT_ISO}&window=24h", timeout=30) as r:
                out[name] = json.loads(r.read())
    store.close()
    yield out


def test_oi_change_is_one_number(outputs: dict[str, Any]) -> None:
    oi_cli = outputs["oi"]["coins"]
    assert set(oi_cli) == {"BTC", "ETH"}
    coins = {row["coin"]: row for row in outputs["coins"]["coins"]}
    for coin in ("BTC", "ETH"):
        want = oi_cli[coin]["total"]["changes"]["24h"]
        assert want["coin_change"] is not None and want["usd_change"] is not None
        assert outputs["api_oi"]["coins"][coin]["total"]["changes"]["24h"] == want
        assert outputs["brief"]["coins"][coin]["oi"]["total"]["changes"]["24h"] == want
        assert outputs["brief_cli"]["coins"][coin]["oi"]["total"]["changes"]["24h"] == want
        assert (coins[coin]["oi_usd_change_24h"], coins[coin]["oi_coin_change_24h"]) == (want["usd_change"], want["coin_change"])
        assert coins[coin]["oi_usd"] == oi_cli[coin]["total"]["oi_usd"]


def test_brief_sentences_use_coin_terms_for_cme(outputs: dict[str, Any]) -> None:
    brief = outputs["brief"]
    for coin in ("BTC", "ETH"):
        cme = brief["coins"][coin]["oi"]["venues"].get("cme")
        if cme is None:
            continue
        ch = cme["changes"]["24h"]
        lines = [t for t in brief["takeaways"] if t.startswith(f"CME {coin} open interest")]
        assert len(lines) == 1
        if ch["coin_change"] is not None:
            assert "needs two settlement days" not in lines[0]
            assert "in coin terms" in lines[0]
    assert not any("no symbol present at both ends" in t for t in brief["takeaways"])


def test_liquidation_totals_are_one_number(outputs: dict[str, Any]) -> None:
    stats = outputs["stats"]
    assert stats["count"] > 0
    for other in (outputs["api_stats"], outputs["brief"]["stats"], outputs["brief_cli"]["stats"]):
        assert (other["total_usd"], other["long_usd"], other["short_usd"], other["count"]) == (
            stats["total_usd"], stats["long_usd"], stats["short_usd"], stats["count"])
        assert other["by_coin"] == stats["by_coin"]


def test_json_floats_are_tidy(outputs: dict[str, Any]) -> None:
    def floats(x: Any) -> Iterator[float]:
        if isinstance(x, float):
            yield x
        elif isinstance(x, dict):
            for v in x.values():
                yield from floats(v)
        elif isinstance(x, list):
            for v in x:
                yield from floats(v)

    for name in ("oi", "stats", "brief_cli", "api_oi", "api_stats"):
        for f in floats(outputs[name]):
            assert len(repr(abs(f)).split("e")[0].replace(".", "").lstrip("0")) <= 13, (name, f)
