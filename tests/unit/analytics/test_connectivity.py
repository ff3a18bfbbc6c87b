"""Whole-window connectivity per venue from seeded feed_status rows in a real DuckDB file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import T0, make_liquidation
from liqwatch.analytics.connectivity import venue_connectivity
from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.cli import app
from liqwatch.model import FeedState, FeedStatus
from liqwatch.model.time import ns_to_iso
from liqwatch.storage.duckdb_store import DuckDBStore

S = 1_000_000_000
SINCE, UNTIL = T0, T0 + 3600 * S  # a one-hour window


def status(venue: str, conn: str, state: FeedState, at_s: float, detail: str = "") -> FeedStatus:
    ts = T0 + int(at_s * S)
    return FeedStatus(venue=venue, connection_id=conn, state=state, detail=detail, ts_event=ts, ts_recv=ts)


SEED = [
    # bybit: connected long before the window, never left it → whole window
    status("bybit", "bybit-linear-0", FeedState.CONNECTING, -7200),
    status("bybit", "bybit-linear-0", FeedState.CONNECTED, -7199),
    # okx: stale 10 min into the window, back 90 s later → one 90 s gap
    status("okx", "okx-swap-0", FeedState.CONNECTED, -60),
    status("okx", "okx-swap-0", FeedState.STALE, 600, "no message for 60 s"),
    status("okx", "okx-swap-0", FeedState.DISCONNECTED, 601, "retrying"),
    status("okx", "okx-swap-0", FeedState.CONNECTING, 680),
    status("okx", "okx-swap-0", FeedState.CONNECTED, 690),
    # binance-usdm: connected throughout, but its stream is sampled
    status("binance-usdm", "binance-usdm-0", FeedState.CONNECTED, -5),
    # bitget: down when the window opens (gap overlaps the start), connected 2 min in
    status("bitget", "bitget-0", FeedState.DISCONNECTED, -30, "connection refused"),
    status("bitget", "bitget-0", FeedState.CONNECTED, 120),
    # kraken-futures: a connection retired by an orderly stop, then a fresh connection → whole window
    status("kraken-futures", "kraken-futures-1", FeedState.DISCONNECTED, -900, "stopped"),
    status("kraken-futures", "kraken-futures-0", FeedState.CONNECTED, -800),
    # deribit: first ever status inside the window → down from the start until connected
    status("deribit", "deribit-0", FeedState.CONNECTING, 1800),
    status("deribit", "deribit-0", FeedState.CONNECTED, 1801),
    # gate: one of two connections stops at the very end → gap reaches the window end
    status("gate", "gate-usdt", FeedState.CONNECTED, -10),
    status("gate", "gate-btc", FeedState.CONNECTED, -10),
    status("gate", "gate-btc", FeedState.DISCONNECTED, 3540, "stopped"),
    # dydx: its gap lies entirely after the window → whole window
    status("dydx", "dydx-0", FeedState.CONNECTED, -10),
    status("dydx", "dydx-0", FeedState.STALE, 3700),
]
LIQUIDATIONS = [
    make_liquidation(venue="bybit", ts_event=T0 + 100 * S),
    make_liquidation(venue="okx", symbol="BTC-USDT-SWAP", ts_event=T0 + 200 * S),
    make_liquidation(venue="binance-usdm", symbol="BTCUSDT", ts_event=T0 + 300 * S),
    make_liquidation(venue="htx", symbol="BTC-USDT", ts_event=T0 + 400 * S),  # no status recorded
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cov.duckdb"
    store = DuckDBStore(path)
    store.write([*SEED, *LIQUIDATIONS])
    store.close()
    yield path


def test_venue_connectivity_from_the_stored_rows(db: Path) -> None:
    store = DuckDBStore(db, read_only=True)
    try:
        per_venue = venue_connectivity(store.feed_status_changes(since=SINCE, until=UNTIL), since=SINCE, until=UNTIL)
    finally:
        store.close()
    whole = {v for v, c in per_venue.items() if c["whole_window"]}
    assert whole == {"bybit", "binance-usdm", "kraken-futures", "dydx"}
    assert per_venue["okx"] == {"whole_window": False, "gaps": 1, "gap_s": 90.0, "connected_share": pytest.approx(1 - 90 / 3600)}
    assert per_venue["bitget"]["gap_s"] == 120.0 and per_venue["bitget"]["gaps"] == 1
    assert per_venue["deribit"]["gap_s"] == 1801.0
    assert per_venue["gate"]["gap_s"] == 60.0
    assert per_venue["bybit"] == {"whole_window": True, "gaps": 0, "gap_s": 0.0, "connected_share": 1.0}


def test_liquidation_stats_coverage_names_whole_window_venues_and_sampled_ones(db: Path) -> None:
    store = DuckDBStore(db, read_only=True)
    try:
        cov = liquidation_stats(store, since=SINCE, until=UNTIL)["coverage"]
    finally:
        store.close()
    assert cov["connected_whole_window"] == ["binance-usdm", "bybit", "dydx", "kraken-futures"]
    assert cov["with_gaps"] == ["bitget", "deribit", "gate", "okx"]
    assert cov["no_status"] == ["htx"]
    assert cov["sampled"] == ["binance-usdm", "okx"] and cov["lower_bound"] is True
    assert cov["connectivity"]["okx"]["gap_s"] == 90.0


def test_a_window_before_any_gap_is_whole_for_okx(db: Path) -> None:
    store = DuckDBStore(db, read_only=True)
    try:
        cov = liquidation_stats(store, since=SINCE, until=SINCE + 500 * S)["coverage"]
    finally:
        store.close()
    assert "okx" in cov["connected_whole_window"] and "deribit" not in cov["connectivity"]


def test_stats_cli_json_and_table_caption(db: Path) -> None:
    runner = CliRunner()
    args = ["stats", "--window", "1h", "--at", ns_to_iso(UNTIL), "--db", str(db)]
    out = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["coverage"]["with_gaps"] == ["bitget", "deribit", "gate", "okx"]
    table = runner.invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    text = " ".join(table.output.split())
    assert "connected the whole window: binance-usdm, bybit, dydx, kraken-futures" in text
    assert "okx (1.5m down)" in text and "deribit (30.0m down)" in text
    assert "no connection status recorded: htx" in text
    assert "sampled (lower bounds): binance-usdm, okx" in text
