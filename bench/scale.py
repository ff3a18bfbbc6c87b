"""Scale-out benchmarks: collectors → JetStream → PostgreSQL sustained events/s (the 24h stats query at N rows
on PostgreSQL is bench/store_pg.py).

Each case starts its own nats-server and PostgreSQL on 127.0.0.1 (liqwatch.sim.local_servers) and reports the
embedded mode (DuckDB file, same events) beside it as the anchor "embedded duckdb".
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Case, Row
from liqwatch import config
from liqwatch.bus.jetstream import NatsPublisher
from liqwatch.model import ContractType, Liquidation, PositionSide, PriceKind
from liqwatch.roles.ingest import Ingester
from liqwatch.sim.local_servers import LocalNats, LocalPostgres, ServerUnavailable
from liqwatch.storage import open_store
from liqwatch.storage.duckdb_store import DuckDBStore

T0 = 1_762_214_400_000_000_000
DAY = 86_400 * 10**9
VENUES = ("bybit", "okx", "binance-usdm", "htx", "gate", "bitget", "deribit", "dydx")
COINS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX")


def liquidations(n: int, days: int, seed: int = 1) -> list[Liquidation]:
    """Return n seeded liquidations spread over `days` days on 8 venues and 8 coins."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        coin, price, qty = rng.choice(COINS), rng.uniform(0.1, 100_000), rng.expovariate(1 / 3)
        out.append(
            Liquidation(
                venue=rng.choice(VENUES), symbol=f"{coin}USDT", market=f"{coin}-USDT-PERP", coin=coin,
                ts_event=T0 + rng.randrange(days * DAY), ts_recv=T0, position_side=rng.choice((PositionSide.LONG, PositionSide.SHORT)),
                venue_side="x", price=price, price_kind=PriceKind.FILL, quantity=qty, contracts=qty, notional_usd=price * qty,
                contract_type=ContractType.LINEAR, venue_event_id=f"b{seed}-{i}",
            )
        )  # fmt: skip
    return out


def _src_env() -> dict[str, str]:
    import liqwatch

    return {**os.environ, "PYTHONPATH": str(Path(liqwatch.__file__).resolve().parents[1])}


def bus_to_postgres(quick: bool) -> Row:
    n = 20_000 if quick else 100_000
    events = liquidations(n, days=3)
    row = Row(case="collectors → JetStream → PostgreSQL (sustained)", n=n, unit="events/s", liqwatch=0.0)
    try:
        pg, nats = LocalPostgres().start(), LocalNats().start()
    except ServerUnavailable as exc:
        row.notes.append(f"skipped: {exc}")
        return row
    try:
        url = pg.create_database("bench")
        env = {"LIQWATCH__BUS__URL": nats.url, "LIQWATCH__BUS__ACK_WAIT_S": "60"}
        settings = config.load(environ=env)
        open_store(url).close()  # migrations before the clock starts
        ingest = subprocess.Popen(
            [sys.executable, "-m", "liqwatch", "ingest", "--store", url, "--batch-size", "5000", "--until-idle", "2", "--json"],
            env={**_src_env(), **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

        async def publish(part: list[Liquidation]) -> None:
            pub = NatsPublisher(settings.bus)
            await pub.connect()
            task = asyncio.create_task(pub.run())
            pub.publish(part)
            pub.stop()
            await task
            await pub.close()

        async def two_collectors() -> None:
            await asyncio.gather(publish(events[: n // 2]), publish(events[n // 2 :]))

        start = time.perf_counter()
        asyncio.run(two_collectors())
        published = time.perf_counter() - start
        store = open_store(url)
        while store.count("liquidations") < n:
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        store.close()
        ingest.terminate()
        ingest.communicate(timeout=30)
        row.liqwatch = n / elapsed
        row.checks.append(("every event stored once", True, f"{n:,} rows"))
        row.notes.append(f"two publishers in one process (JetStream acks, window {NatsPublisher(settings.bus).window}) took {published:.2f} s = {n / published:,.0f} ev/s")
        row.notes.append("one `liqwatch ingest` process (batch 5000, binary COPY + ON CONFLICT); time until the last row is in PostgreSQL")
        with tempfile.TemporaryDirectory() as tmp:
            duck = DuckDBStore(Path(tmp) / "b.duckdb")
            start = time.perf_counter()
            for i in range(0, n, 5000):
                duck.write(events[i : i + 5000])
            row.anchors["embedded duckdb"] = n / (time.perf_counter() - start)
            duck.close()
    finally:
        nats.cleanup()
        pg.cleanup()
    return row


def bus_stages(quick: bool) -> Row:
    """One publisher alone (until every event is acknowledged), then one in-process ingester draining it into PostgreSQL."""
    n = 20_000 if quick else 100_000
    events = liquidations(n, days=3, seed=7)
    row = Row(case="JetStream stages alone: one ingester → PostgreSQL", n=n, unit="events/s", liqwatch=0.0)
    try:
        pg, nats = LocalPostgres().start(), LocalNats().start()
    except ServerUnavailable as exc:
        row.notes.append(f"skipped: {exc}")
        return row
    try:
        url = pg.create_database("stages")
        settings = config.load(environ={"LIQWATCH__BUS__URL": nats.url, "LIQWATCH__BUS__ACK_WAIT_S": "60"})
        store = open_store(url)

        async def publish() -> None:
            pub = NatsPublisher(settings.bus)
            await pub.connect()
            task = asyncio.create_task(pub.run())
            pub.publish(events)
            pub.stop()
            await task
            await pub.close()

        start = time.perf_counter()
        asyncio.run(publish())
        published = time.perf_counter() - start
        ingester = Ingester(store, settings.bus)
        idle = 0.3
        start = time.perf_counter()
        asyncio.run(ingester.run(until_idle_s=idle))
        ingested = time.perf_counter() - start - idle
        row.liqwatch = n / ingested
        row.checks.append(("every event stored once", store.count("liquidations") == n, f"{store.count('liquidations'):,} rows"))
        row.notes.append(f"one publisher alone, every event acknowledged: {n / published:,.0f} ev/s")
        row.notes.append(f"then one ingester (batch {ingester.batch_size}) draining the stream into PostgreSQL: {n / ingested:,.0f} ev/s")
        store.close()
    finally:
        nats.cleanup()
        pg.cleanup()
    return row


CASES = [
    Case("collectors → JetStream → PostgreSQL (sustained)", bus_to_postgres, "scale-out"),
    Case("JetStream stages alone: one ingester → PostgreSQL", bus_stages, "scale-out"),
]
