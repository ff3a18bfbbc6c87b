"""`liqwatch study` and its store queries give the same answer on DuckDB and on PostgreSQL (real server).

Six generated days (tests/market_day.py's two days, repeated twice two days later: a long-liquidation cluster and
an OI flush at 09:00 on every second day) plus stored signals go into both stores. Floats must agree to 1e-12
relative (sums are added in a different order by each engine); everything else exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

import market_day
from liqwatch.analytics import occurrences as occ
from liqwatch.model import Liquidation, Signal
from liqwatch.model.time import ns_to_iso
from liqwatch.sim.local_servers import LocalPostgres
from liqwatch.storage import open_store
from liqwatch.storage.duckdb_store import DuckDBStore

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]
H, D = market_day.H, market_day.D
SINCE, UNTIL = market_day.PRIOR, market_day.PRIOR + 6 * D
CLUSTERS = [market_day.DAY + k * 2 * D + market_day.CLUSTER_HOUR * H for k in range(3)]


def _six_days() -> list[Any]:
    out: list[Any] = []
    for k in range(3):
        shift = k * 2 * D
        for e in market_day.build().events:
            changes: dict[str, Any] = {"ts_event": e.ts_event + shift, "ts_recv": e.ts_recv + shift}
            if isinstance(e, Liquidation) and e.venue_event_id:
                changes["venue_event_id"] = f"{e.venue_event_id}-{k}"  # the id is the dedup key: one per copy
            out.append(msgspec.structs.replace(e, **changes))
    out += [
        Signal(kind="long-cluster", coin="BTC", timeframe="1h", direction="bearish", message="BTC longs liquidated",
               inputs="{}", ts_event=t + H, ts_recv=t + H)
        for t in CLUSTERS
    ]
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, pg_server: LocalPostgres) -> Iterator[tuple[Path, str]]:
    events = _six_days()
    db = tmp_path_factory.mktemp("study") / "study.duckdb"
    url = pg_server.create_database("study_stores")
    for target in (str(db), url):
        store = open_store(target)
        for i in range(0, len(events), 5000):
            store.write(events[i : i + 5000])
        store.close()
    yield db, url


def same(a: Any, b: Any, where: str = "$") -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert np.isclose(a, b, rtol=1e-12, atol=1e-12), f"{where}: {a!r} != {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def test_occurrence_queries_are_identical(stores: tuple[Path, str]) -> None:
    db, url = stores
    duck, pg = DuckDBStore(db, read_only=True), open_store(url)
    try:
        for coin in ("BTC", "ETH"):
            d_liq = occ._hourly_liquidations(duck, coin, SINCE, UNTIL)
            p_liq = occ._hourly_liquidations(pg, coin, SINCE, UNTIL)  # type: ignore[arg-type]
            assert d_liq[0].shape[0] == 6 * 24 and d_liq[0].tolist() == p_liq[0].tolist()
            np.testing.assert_allclose(d_liq[1], p_liq[1], rtol=1e-12)
            np.testing.assert_allclose(d_liq[2], p_liq[2], rtol=1e-12)
            d_oi, p_oi = occ._hourly_oi_change(duck, coin, SINCE, UNTIL), occ._hourly_oi_change(pg, coin, SINCE, UNTIL)  # type: ignore[arg-type]
            assert d_oi[0].shape[0] > 100 and d_oi[0].tolist() == p_oi[0].tolist()
            np.testing.assert_allclose(d_oi[1], p_oi[1], rtol=1e-12)
            assert d_oi[1].min() < -0.02  # the flush hours
            for kind in ("long-cluster", "short-cluster", "oi-flush"):
                found = occ.detect(duck, kind=kind, coin=coin, since=SINCE, until=UNTIL)
                assert found == occ.detect(pg, kind=kind, coin=coin, since=SINCE, until=UNTIL), (coin, kind)  # type: ignore[arg-type]
        detected = occ.detect(pg, kind="long-cluster", coin="BTC", since=SINCE, until=UNTIL)  # type: ignore[arg-type]
        assert CLUSTERS[-1] + H in detected  # the third day's cluster hour, closed, with 48 h of history before it
        d_px, p_px = occ.price_series(duck, coin="BTC", since=SINCE, until=UNTIL), occ.price_series(pg, coin="BTC", since=SINCE, until=UNTIL)  # type: ignore[arg-type]
        assert d_px[0].shape[0] > 5000 and d_px[0].tolist() == p_px[0].tolist() and d_px[2] == p_px[2]
        np.testing.assert_array_equal(d_px[1], p_px[1])
        assert occ.from_signals(pg, kind="long-cluster", coin="BTC", since=SINCE, until=UNTIL) == [t + H for t in CLUSTERS]  # type: ignore[arg-type]
    finally:
        duck.close()
        pg.close()


def _study(db: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "liqwatch", "study", "--json", "--db", db, "--coin", "BTC", "--since", ns_to_iso(SINCE),
         "--until", ns_to_iso(UNTIL), "--horizons", "1h,4h,12h", "--controls", "3", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    return msgspec.json.decode(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("args", [("--signal", "all", "--source", "detect"), ("--signal", "long-cluster", "--source", "signals")])
def test_study_command_is_identical(stores: tuple[Path, str], args: tuple[str, ...]) -> None:
    db, url = stores
    on_duck, on_pg = _study(str(db), *args), _study(url, *args)
    same(on_duck, on_pg)
    cluster = on_pg["signals"]["long-cluster"]
    assert cluster["events"] >= 1 and cluster["horizons"]["1h"]["events"]["n"] >= 1
    assert on_pg["price_series"]["bars"] > 5000


def test_store_commands_take_a_postgresql_url(stores: tuple[Path, str]) -> None:
    """`--db postgresql://…` reaches PostgreSQL (it once became a DuckDB file named `postgresql:/…`)."""
    db, url = stores
    out = []
    for target in (str(db), url):
        proc = subprocess.run(
            [sys.executable, "-m", "liqwatch", "stats", "--json", "--window", "24h", "--at", ns_to_iso(UNTIL - D), "--db", target],
            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.returncode == 0, proc.stderr
        out.append(msgspec.json.decode(proc.stdout))
    same(out[0], out[1])
    assert out[1]["count"] > 1000 and not Path("postgresql:").exists()


AT = market_day.DAY + 4 * D + 20 * H  # inside the third generated day, after its cluster
CLI = {
    "liquidations": ["liquidations", "--json", "--since", ns_to_iso(SINCE), "--until", ns_to_iso(UNTIL), "--coin", "BTC", "--limit", "300"],
    "oi": ["oi", "--json", "--at", ns_to_iso(AT)],
    "price": ["price", "BTC", "--json", "--at", ns_to_iso(AT)],
    "signals": ["signals", "--json", "--window", "7d", "--at", ns_to_iso(AT)],
    "brief": ["brief", "--json", "--window", "24h", "--at", ns_to_iso(AT)],
    "heatmap": ["heatmap", "--json", "--coin", "BTC", "--range", "24h", "--until", ns_to_iso(AT)],
    "map": ["map", "--json", "--coin", "ETH", "--at", ns_to_iso(AT)],
    "sessions": ["sessions", "--json", "--coin", "BTC", "--at", ns_to_iso(AT)],
    "funding": ["funding", "--json", "--at", ns_to_iso(AT)],
    "stress": ["stress", "--json", "--coin", "BTC", "--move", "-5%", "--at", ns_to_iso(AT)],
}


@pytest.mark.parametrize("command", list(CLI))
def test_cli_commands_answer_the_same_on_both_stores(stores: tuple[Path, str], command: str) -> None:
    db, url = stores
    out = []
    for target in (str(db), url):
        proc = subprocess.run(
            [sys.executable, "-m", "liqwatch", *CLI[command], "--db", target],
            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out.append([msgspec.json.decode(line) for line in proc.stdout.splitlines() if line.strip()])  # JSON or JSON lines
    same(out[0], out[1])
    assert out[1] and out[1][0], f"{command} printed nothing to compare"
