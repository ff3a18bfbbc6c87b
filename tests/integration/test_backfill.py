"""Backfill against a local history server: real response shapes, pagination, resume after failure, idempotence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from liqwatch.backfill.runner import BackfillRunner, gaps, merge
from liqwatch.model import ContractType
from liqwatch.model.time import NS_PER_MS, now_ns
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.venues import _wire

HOUR_MS = 3_600_000


class HistoryServer:
    """Serve OKX, HTX and Binance history pages; fail every venue's later pages with 500 while `failing`."""

    def __init__(self, since_ms: int, until_ms: int) -> None:
        self.failing = False
        self.log: list[tuple[str, tuple[tuple[str, str], ...], int]] = []
        self.served: dict[str, int] = {}
        # OKX: 7 liquidations in the last 12 h, alternately long (sell) and short (buy)
        self.okx: list[dict[str, Any]] = [
            {"bkLoss": "0", "bkPx": str(60_000 + k), "ccy": "", "posSide": "net", "side": "sell" if k % 2 else "buy",
             "sz": str(k + 1), "ts": str(until_ms - k * HOUR_MS - 1000)}
            for k in range(7)
        ]
        # HTX: 10 liquidations spread over 3 days (two 48 h windows)
        self.htx: list[dict[str, Any]] = [
            {"query_id": 1000 + k, "contract_code": "BTC-USDT", "symbol": "USDT", "direction": "sell" if k % 3 else "buy",
             "offset": "close", "volume": 10 * (k + 1), "price": 50_000.0 + k, "created_at": since_ms + (k + 1) * 6 * HOUR_MS,
             "amount": 0.01 * (k + 1), "trade_turnover": 0.01 * (k + 1) * (50_000.0 + k), "business_type": "swap",
             "pair": "BTC-USDT"}
            for k in range(10)
        ]
        # Binance: 5-minute OI points over the range (more than one 500-row window)
        self.binance: list[dict[str, Any]] = [
            {"symbol": "BTCUSDT", "sumOpenInterest": f"{1000 + k}.5", "sumOpenInterestValue": f"{(1000 + k + 0.5) * 60000}",
             "timestamp": t}
            for k, t in enumerate(range(since_ms + 300_000, until_ms + 1, 300_000))
        ]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/okx/api/v5/public/liquidation-orders", self._okx)
        app.router.add_get("/htx/linear-swap-api/v3/swap_liquidation_orders", self._htx)
        app.router.add_get("/binance/futures/data/openInterestHist", self._binance)
        return app

    def _gate(self, venue: str, request: web.Request) -> web.Response | None:
        query = tuple(sorted(request.query.items()))
        if self.failing and self.served.get(venue, 0) >= 1:
            self.log.append((request.path, query, 500))
            return web.Response(status=500, text="maintenance")
        self.log.append((request.path, query, 200))
        self.served[venue] = self.served.get(venue, 0) + 1
        return None

    async def _okx(self, request: web.Request) -> web.Response:
        if (fail := self._gate("okx", request)) is not None:
            return fail
        assert request.query["instType"] == "SWAP" and request.query["instFamily"] == "BTC-USDT"
        after = int(request.query["after"])
        page = [d for d in self.okx if int(d["ts"]) < after][:3]  # newest first, 3 per page
        data = [{"details": page, "instFamily": "BTC-USDT", "instId": "BTC-USDT-SWAP", "instType": "SWAP", "uly": "BTC-USDT"}] if page else []
        return web.json_response({"code": "0", "msg": "", "data": data})

    async def _htx(self, request: web.Request) -> web.Response:
        if (fail := self._gate("htx", request)) is not None:
            return fail
        start, end = int(request.query["start_time"]), int(request.query["end_time"])
        assert end - start <= 48 * HOUR_MS and request.query["direct"] == "next"
        from_id = int(request.query.get("from_id", "0"))
        rows = [r for r in self.htx if start <= r["created_at"] <= end and r["query_id"] > from_id][:2]
        return web.json_response({"code": 200, "msg": "", "data": rows, "ts": 1604312615051})

    async def _binance(self, request: web.Request) -> web.Response:
        if (fail := self._gate("binance", request)) is not None:
            return fail
        start, end, limit = int(request.query["startTime"]), int(request.query["endTime"]), int(request.query["limit"])
        assert request.query["period"] == "5m" and limit <= 500
        return web.json_response([r for r in self.binance if start <= r["timestamp"] <= end][:limit])


def _instruments(store: DuckDBStore) -> None:
    specs = [
        ("okx", "BTC-USDT-SWAP", 0.01, "SWAP"),
        ("htx", "BTC-USDT", 0.001, ""),
        ("binance-usdm", "BTCUSDT", 1.0, ""),
    ]
    store.write_instruments(
        [
            _wire.make_instrument(venue=v, symbol=s, base="BTC", quote="USDT", settle="USDT",
                                  contract_type=ContractType.LINEAR, contract_size=size, category=cat)
            for v, s, size, cat in specs
        ],
        now_ns(),
    )


async def _run(store: DuckDBStore, base: str, since_ns: int, until_ns: int) -> Any:
    runner = BackfillRunner(
        store, since_ns=since_ns, until_ns=until_ns, venues=["okx", "htx", "binance-usdm"],
        kinds=["liquidations", "open_interest"], coins=["BTC"], max_attempts=1, show_progress=False,
        rest_urls={"okx": f"{base}/okx", "htx": f"{base}/htx", "binance-usdm": f"{base}/binance"},
    )
    return await runner.run()


async def test_backfill_resumes_after_failure_and_stores_nothing_twice(tmp_path: Path) -> None:
    until_ns = (now_ns() // (300_000 * NS_PER_MS)) * 300_000 * NS_PER_MS - HOUR_MS * NS_PER_MS
    since_ns = until_ns - 3 * 24 * HOUR_MS * NS_PER_MS
    server = HistoryServer(since_ns // NS_PER_MS, until_ns // NS_PER_MS)
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    store = DuckDBStore(tmp_path / "bf.duckdb")
    _instruments(store)
    try:
        server.failing = True
        first = await _run(store, base, since_ns, until_ns)
        assert not first.ok and {j.venue for j in first.jobs if j.error} == {"okx", "htx", "binance-usdm"}
        assert ("binance-usdm", "liquidations", "no public REST history: /fapi/v1/allForceOrders was removed on 2021-04-27") in first.unavailable
        completed = {(p, q) for p, q, status in server.log if status == 200}
        assert store.count("liquidations") > 0 and store.count("open_interest") > 0

        server.failing = False
        mark = len(server.log)
        second = await _run(store, base, since_ns, until_ns)
        assert second.ok, [j.error for j in second.jobs]
        repeated = [(p, q) for p, q, _ in server.log[mark:] if (p, q) in completed]
        assert repeated == []  # resumed from the saved cursors

        liqs = store.liquidations()
        okx = [r for r in liqs if r["venue"] == "okx"]
        htx = [r for r in liqs if r["venue"] == "htx"]
        assert len(okx) == 7 and len(htx) == 10
        assert sum(r["position_side"] == "long" for r in okx) == sum(d["side"] == "sell" for d in server.okx)
        assert sum(r["position_side"] == "long" for r in htx) == sum(d["direction"] == "sell" for d in server.htx)
        expected_okx = sum(float(d["sz"]) * 0.01 * float(d["bkPx"]) for d in server.okx)
        assert sum(r["notional_usd"] for r in okx) == pytest.approx(expected_okx)
        assert sum(r["notional_usd"] for r in htx) == pytest.approx(sum(float(d["trade_turnover"]) for d in server.htx))
        assert store.count("open_interest") == len(server.binance)
        oi = store.execute("SELECT min(open_interest), max(open_interest_usd) FROM open_interest")[0]
        assert oi[0] == pytest.approx(1000.5) and oi[1] == pytest.approx((1000 + len(server.binance) - 1 + 0.5) * 60000)

        # a third run over the same range asks for nothing and stores nothing
        counts = (store.count("liquidations"), store.count("open_interest"))
        mark = len(server.log)
        third = await _run(store, base, since_ns, until_ns)
        assert third.ok and server.log[mark:] == []
        assert (store.count("liquidations"), store.count("open_interest")) == counts
        assert sum(j.stored for j in second.jobs) + sum(j.stored for j in first.jobs) == sum(counts)
    finally:
        store.close()
        await runner.cleanup()


def test_gaps_and_merge() -> None:
    assert gaps(0, 10, None) == [(0, 10)]
    assert gaps(0, 10, (3, 7)) == [(0, 3), (7, 10)]
    assert gaps(4, 6, (3, 7)) == []
    assert merge((3, 7), (7, 10)) == (3, 10)
    assert merge((3, 7), (8, 10)) == (8, 10)
