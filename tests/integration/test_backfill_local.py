"""Backfill of dYdX liquidations, Bybit OI and klines and Binance klines from the local exchange's REST history.

Also the `liqwatch backfill` CLI in a subprocess: a partial run, then the full range (only the rest is fetched),
then the same again (nothing fetched, nothing stored, same row counts).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from liqwatch.backfill.runner import BackfillRunner
from liqwatch.model import Instrument
from liqwatch.model.time import NS_PER_MS, ns_to_iso
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import _history
from liqwatch.storage.duckdb_store import DuckDBStore

pytestmark = pytest.mark.timeout(60)

HOUR_NS = 3600 * 10**9
UNTIL = _history.DYDX_HISTORY_END_MS * NS_PER_MS
SINCE = UNTIL - 3 * HOUR_NS
ROOT = Path(__file__).resolve().parents[2]


async def _backfill(store: DuckDBStore, server: VenueServer, venues: list[str], kinds: list[str], since: int = SINCE) -> object:
    runner = BackfillRunner(
        store, since_ns=since, until_ns=UNTIL, venues=venues, kinds=kinds, coins=["BTC"], max_attempts=1,
        show_progress=False, rest_urls={v: server.rest_url(v) for v in venues},
    )
    return await runner.run()


def _btc(store: DuckDBStore, venue: str) -> list[Instrument]:
    return [i for i in store.load_instruments(venue) if i.coin == "BTC" and i.active]


def _counts(store: DuckDBStore) -> dict[str, int]:
    return {t: store.count(t) for t in ("liquidations", "open_interest", "candles")}


async def test_dydx_bybit_and_binance_klines_backfill_then_a_rerun_fetches_and_stores_nothing(tmp_path: Path) -> None:
    async with VenueServer(["dydx", "bybit", "binance-usdm"]) as server:
        store = DuckDBStore(tmp_path / "bf.duckdb")
        try:
            first = await _backfill(store, server, ["dydx", "bybit"], ["liquidations", "open_interest", "candles"])
            klines = await _backfill(store, server, ["binance-usdm"], ["candles"])
            assert first.ok and klines.ok, [j.error for j in first.jobs + klines.jobs]  # type: ignore[attr-defined]

            # dYdX: trades one a minute back from the end, every 5th a liquidation; 180 minutes in (since, until]
            liqs = store.liquidations(venue="dydx")
            assert len(liqs) == 36 and {r["symbol"] for r in liqs} == {"BTC-USD"}
            expected = [t for t in _history.dydx_trades("BTC-USD", None, 250) if t["type"] == "LIQUIDATED"][:36]
            assert sum(r["notional_usd"] for r in liqs) == pytest.approx(sum(float(t["size"]) * float(t["price"]) for t in expected))
            # the position closed is the opposite of the taker side that closed it: a SELL liquidates a long
            assert sum(r["position_side"] == "long" for r in liqs) == sum(t["side"] == "SELL" for t in expected)

            # Bybit: 36 five-minute OI points and 180 one-minute bars per BTC contract; OI halved to one side
            bybit = _btc(store, "bybit")
            assert bybit
            rows = store.execute("SELECT symbol, count(*) FROM open_interest WHERE venue = 'bybit' GROUP BY symbol")
            assert dict(rows) == {i.symbol: 36 for i in bybit}
            linear = next(i for i in bybit if i.symbol == "BTCUSDT")
            oi = store.execute(
                "SELECT open_interest, raw_value FROM open_interest WHERE venue = 'bybit' AND symbol = ? ORDER BY ts_event LIMIT 1",
                [linear.symbol],
            )[0]
            first_point_ms = SINCE // NS_PER_MS + 300_000
            assert oi == (pytest.approx(_history.open_interest(first_point_ms) / 2), pytest.approx(_history.open_interest(first_point_ms)))
            bars = store.execute("SELECT venue, count(*) FROM candles GROUP BY venue")
            binance = _btc(store, "binance-usdm")
            assert dict(bars) == {"bybit": 180 * len(bybit), "binance-usdm": 180 * len(binance)}
            bar = store.execute(
                "SELECT open, high, low, close, volume FROM candles WHERE venue = 'binance-usdm' AND symbol = 'BTCUSDT' "
                "ORDER BY ts_event LIMIT 1"
            )[0]
            assert bar == pytest.approx(_history.bar(SINCE // NS_PER_MS + 60_000))

            counts = _counts(store)
            requests = {v: server.counters(v).rest_requests for v in ("dydx", "bybit", "binance-usdm")}
            again = await _backfill(store, server, ["dydx", "bybit"], ["liquidations", "open_interest", "candles"])
            again_klines = await _backfill(store, server, ["binance-usdm"], ["candles"])
            assert again.ok and again_klines.ok  # type: ignore[attr-defined]
            assert {v: server.counters(v).rest_requests for v in requests} == requests
            assert _counts(store) == counts
            assert sum(j.stored for j in again.jobs + again_klines.jobs) == 0  # type: ignore[attr-defined]
        finally:
            store.close()



async def test_an_event_out_of_range_in_a_history_page_is_skipped_and_counted_and_the_rest_of_the_page_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the local dYdX indexer serves one liquidation whose trade id carries a control character: the venue parser
    # passes it, the range checks every parsed event passes (feeds.parse) do not; the page's 35 others are stored
    real = _history.dydx_trades

    def one_bad(ticker: str, before_or_at_height: int | None, limit: int) -> list[dict[str, object]]:
        trades = real(ticker, before_or_at_height, limit)
        for trade in trades:
            if trade["createdAtHeight"] == str(_history.DYDX_TOP_HEIGHT):  # the newest trade, a liquidation, once
                assert trade["type"] == "LIQUIDATED"
                trade["id"] = "BTC-USD-\x00bad"
        return trades

    monkeypatch.setattr(_history, "dydx_trades", one_bad)
    async with VenueServer(["dydx"]) as server:
        store = DuckDBStore(tmp_path / "bf.duckdb")
        try:
            report = await _backfill(store, server, ["dydx"], ["liquidations"])
            assert report.ok, [j.error for j in report.jobs]  # type: ignore[attr-defined]
            (job,) = report.jobs  # type: ignore[attr-defined]
            assert job.rejected == 1 and "venue_event_id" in job.rejected_detail, job
            liqs = store.liquidations(venue="dydx")
            assert len(liqs) == 35 and all("\x00" not in (r["venue_event_id"] or "") for r in liqs)
        finally:
            store.close()

async def _cli(*args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "liqwatch", "backfill", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 40)
    assert proc.returncode == 0, err.decode()
    result: dict[str, object] = json.loads(out)
    return result


def _stored(report: dict[str, object]) -> int:
    jobs = report["jobs"]
    assert isinstance(jobs, list)
    return sum(int(j["stored"]) for j in jobs)


async def test_backfill_cli_resumes_the_missing_range_and_is_idempotent(tmp_path: Path) -> None:
    async with VenueServer(["dydx"]) as server:
        config = tmp_path / "liqwatch.toml"
        config.write_text(f'[venues.dydx]\nrest_url = "{server.rest_url("dydx")}"\n')
        db = tmp_path / "cli.duckdb"
        common = ["--venue", "dydx", "--coin", "BTC", "--what", "liquidations", "--json", "--db", str(db), "--config", str(config)]
        mid = UNTIL - HOUR_NS

        partial = await _cli("--since", ns_to_iso(SINCE), "--until", ns_to_iso(mid), *common)
        assert _stored(partial) == 24  # 120 minutes, every 5th trade
        before = server.counters("dydx").rest_requests

        full = await _cli("--since", ns_to_iso(SINCE), "--until", ns_to_iso(UNTIL), *common)
        assert _stored(full) == 12  # only (mid, until] was missing
        assert server.counters("dydx").rest_requests - before == 1  # one page back from the newest reaches `mid`

        before = server.counters("dydx").rest_requests
        same = await _cli("--since", ns_to_iso(SINCE), "--until", ns_to_iso(UNTIL), *common)
        assert _stored(same) == 0 and server.counters("dydx").rest_requests == before

    store = DuckDBStore(db, read_only=True)
    try:
        rows = store.liquidations(venue="dydx")
    finally:
        store.close()
    assert len(rows) == 36 and len({r["ts_event"] for r in rows}) == 36
    assert min(r["ts_event"] for r in rows) > SINCE and max(r["ts_event"] for r in rows) == UNTIL
