"""Scale-out end to end on real servers: collectors → nats-server (JetStream) → ingester → PostgreSQL.

Two `liqwatch collect --replay` processes publish different venues' recorded sessions; `liqwatch ingest`
writes them into one PostgreSQL database. The stored rows must equal, table by table and value by value,
what the embedded path (replay straight into DuckDB) stores from the same files: every event exactly once,
also when the ingester is SIGKILLed mid-stream and restarted, and when nats-server restarts under the
collectors and the ingester.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

import liqwatch
from factories import make_liquidation
from golden import recorded_dir
from liqwatch import config
from liqwatch.bus.jetstream import NatsPublisher, connect, decode_event, encode, subject_for
from liqwatch.model import Candle, Liquidation
from liqwatch.roles.ingest import Ingester, _delivered
from liqwatch.roles.replay import replay_files
from liqwatch.roles.serve import ServeRole
from liqwatch.sim.local_servers import LocalNats
from liqwatch.storage import open_store
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.storage.schema import ALL_TABLES, EVENT_TABLES

pytestmark = pytest.mark.postgres
RECORDED = recorded_dir()
SRC = str(Path(liqwatch.__file__).resolve().parents[1])
GROUP_A = ("BYBIT", "OKX", "BINANCE_FUTURES", "BINANCE_DELIVERY", "BITMEX", "HTX")
GROUP_B = ("BITGET", "DERIBIT", "GATEIO_FUTURES", "KRAKEN_FUTURES", "DYDX_V4", "HYPERLIQUID")


def files(prefixes: tuple[str, ...], kinds: tuple[str, ...] = ()) -> list[Path]:
    out = [p for p in sorted(RECORDED.glob("*.jsonl")) if p.name.split(".")[0] in prefixes]
    return [p for p in out if not kinds or p.name.split(".")[1] in kinds]


def bus_env(nats: LocalNats) -> dict[str, str]:
    """A private stream, subject prefix and consumer for one test, on the session's nats-server."""
    tag = uuid.uuid4().hex[:10]
    return {
        "LIQWATCH__BUS__URL": nats.url,
        "LIQWATCH__BUS__STREAM": f"T{tag}",
        "LIQWATCH__BUS__SUBJECT_PREFIX": f"t{tag}",
        "LIQWATCH__BUS__CONSUMER": f"ingest-{tag}",
        "LIQWATCH__BUS__ACK_WAIT_S": "2",  # a killed ingester's batch comes back after 2 s
    }


def liqwatch_cmd(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "liqwatch", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **env, "PYTHONPATH": SRC, "COLUMNS": "200"},
    )  # fmt: skip


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    return out


def expected_store(tmp_path: Path, paths: list[Path]) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "expected.duckdb")
    replay_files(store, paths)
    return store


def table_rows(store: Any, table: str) -> list[tuple[Any, ...]]:
    key = "venue, symbol" if table == "instruments" else "event_id"
    cols = ", ".join(f'"{n}"' for n, _ in next(t for t in ALL_TABLES if t.name == table).columns if n != "ts_updated")
    rows = store.execute(f"SELECT {cols} FROM {table} ORDER BY {key}")
    return [tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in r) for r in rows]  # NaN == NaN here


def assert_same_content(expected: DuckDBStore, pg_url: str) -> dict[str, int]:
    counts = {}
    with psycopg.connect(pg_url) as con:
        for table in EVENT_TABLES:
            n, distinct = con.execute(f"SELECT count(*), count(DISTINCT event_id) FROM {table.name}").fetchone()  # type: ignore[misc]
            assert n == distinct, f"{table.name}: {n} rows but {distinct} event ids (something doubled)"
    pg = open_store(pg_url)
    try:
        for table in ALL_TABLES:
            want, got = table_rows(expected, table.name), table_rows(pg, table.name)
            assert len(got) == len(want), f"{table.name}: stored {len(got)}, expected {len(want)}"
            assert got == want, f"{table.name}: rows differ"
            counts[table.name] = len(got)
    finally:
        pg.close()
    return counts


async def venues_in_stream(env: dict[str, str]) -> set[str]:
    """Return the venues with events (not only instruments) in the test's stream so far."""
    settings = config.load(environ=env).bus
    nc = await connect(settings, name="probe")
    try:
        info = await nc.jetstream().stream_info(settings.stream, subjects_filter=">")
        return {s.split(".")[2] for s in (info.state.subjects or {}) if ".instruments." not in s}
    finally:
        await nc.close()


async def stream_messages(env: dict[str, str]) -> int:
    """Return how many messages the test's stream holds (events and instrument specs)."""
    settings = config.load(environ=env).bus
    nc = await connect(settings, name="probe")
    try:
        info = await nc.jetstream().stream_info(settings.stream)
        return int(info.state.messages)
    finally:
        await nc.close()


def pg_total(pg_url: str) -> int:
    with psycopg.connect(pg_url) as con:
        row = con.execute("SELECT (SELECT count(*) FROM candles) + (SELECT count(*) FROM mark_prices) + (SELECT count(*) FROM open_interest)").fetchone()
        return int(row[0]) if row else 0  # type: ignore[call-overload]


def test_two_collectors_one_ingester_killed_and_restarted_store_every_event_once(
    tmp_path: Path, pg_url: str, nats_server: LocalNats
) -> None:
    env = bus_env(nats_server)
    a, b = files(GROUP_A), files(GROUP_B)
    expected = expected_store(tmp_path, a + b)
    want_total = sum(expected.count(t) for t in ("candles", "mark_prices", "open_interest"))
    collectors = [liqwatch_cmd("collect", "--replay", *map(str, f), "--json", env=env) for f in (a, b)]
    reports = [json.loads(finish(p)) for p in collectors]
    assert all(r["bus"]["pending"] == 0 and r["bus"]["dropped"] == 0 for r in reports)
    published = sum(sum(r["events"].values()) for r in reports)
    assert published >= sum(expected.count(t.name) for t in EVENT_TABLES)

    # the ingester writes small batches; SIGKILL it while the stream is half stored
    first = liqwatch_cmd("ingest", "--store", pg_url, "--batch-size", "10", env=env)
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline:
        stored = pg_total(pg_url) if _tables_exist(pg_url) else 0
        if stored > 0:
            break
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    at_kill = pg_total(pg_url)
    assert 0 < at_kill < want_total, f"the kill was not mid-stream ({at_kill} of {want_total} stored)"

    second = liqwatch_cmd("ingest", "--store", pg_url, "--until-idle", "1.5", "--json", env=env)
    stats = json.loads(finish(second).strip().splitlines()[-1])
    assert stats["malformed"] == 0 and stats["write_errors"] == 0
    # it resumed where the durable consumer stopped, not from the start: its first deliveries are fewer than the
    # stream holds (events and instrument messages; a redelivery of the killed ingester's unacknowledged batch
    # is counted in "redelivered")
    assert stats["messages"] - stats["redelivered"] < asyncio.run(stream_messages(env))
    counts = assert_same_content(expected, pg_url)
    assert counts["candles"] > 500 and counts["liquidations"] >= 10 and counts["instruments"] > 1000
    expected.close()


def _tables_exist(pg_url: str) -> bool:
    with psycopg.connect(pg_url) as con:
        return con.execute("SELECT to_regclass('public.candles') IS NOT NULL").fetchone() == (True,)


def test_nats_restart_collectors_reconnect_and_catch_up(tmp_path: Path, pg_url: str, nats_server: LocalNats) -> None:
    env = {**bus_env(nats_server), "LIQWATCH__BUS__ACK_TIMEOUT_S": "0.5"}  # shorter than the outage: publishes are retried
    kinds = ("rest_instruments", "liquidations", "open_interest", "tickers")
    a, b = files(("BYBIT", "OKX", "DERIBIT"), kinds), files(("BITGET", "HTX"), kinds)  # 192 and 457 events
    expected = expected_store(tmp_path, a + b)
    ingester = liqwatch_cmd("ingest", "--store", pg_url, "--batch-size", "50", env=env)
    collectors = [liqwatch_cmd("collect", "--replay", *map(str, f), "--rate", "100", "--json", env=env) for f in (a, b)]
    deadline = time.monotonic() + 30
    while not {"bybit", "bitget"} <= asyncio.run(venues_in_stream(env)) and time.monotonic() < deadline:
        time.sleep(0.05)  # both are publishing events (about 2 s and 4.6 s of them at 100/s)
    assert all(p.poll() is None for p in collectors)
    nats_server.restart(down_s=1.0)
    reports = [json.loads(finish(p, timeout=90)) for p in collectors]
    assert all(r["bus"]["pending"] == 0 and r["bus"]["dropped"] == 0 for r in reports)
    assert all(r["bus"]["reconnects"] >= 1 for r in reports), [(r["bus"]["reconnects"], r["bus"]["retries"]) for r in reports]
    deadline = time.monotonic() + 60
    want = sum(expected.count(t.name) for t in EVENT_TABLES)
    while time.monotonic() < deadline and sum(open_store(pg_url).count(t.name) for t in EVENT_TABLES) < want:
        time.sleep(0.2)
    ingester.send_signal(signal.SIGTERM)
    finish(ingester)
    counts = assert_same_content(expected, pg_url)
    assert counts["mark_prices"] > 100 and counts["liquidations"] > 0
    expected.close()


async def test_serve_gets_live_events_and_the_ingester_skips_garbage(pg_url: str, nats_server: LocalNats) -> None:
    env = bus_env(nats_server)
    settings = config.load(environ=env)
    role = ServeRole(settings, pg_url)
    await role.start()
    await role.nc.flush()
    publisher = NatsPublisher(settings.bus)
    await publisher.connect()
    runner = asyncio.create_task(publisher.run())
    liqs = [make_liquidation(venue_event_id=f"v{i}", price=100.0 + i) for i in range(5)]
    publisher.publish(liqs + liqs[:2])  # the repeats are dropped by JetStream's message-id dedupe
    raw = await connect(settings.bus, name="garbage")
    await raw.publish(f"{settings.bus.subject_prefix}.liquidation.bybit.BTC", b"\xc1not an event")
    await raw.flush()
    publisher.stop()
    assert await publisher.flush(10)
    assert publisher.stats()["duplicates"] == 2 and publisher.stats()["acked"] == 7
    for _ in range(100):
        if role.received >= 8:
            break
        await asyncio.sleep(0.02)
    got = role.bus.subscribe("check")  # live events reach the in-process bus of `serve`
    assert role.received == 7 and role.bus.published == 7  # the garbage is skipped

    ingester = Ingester(role.store, settings.bus, batch_size=100)
    await ingester.run(until_idle_s=0.5)
    assert ingester.stats()["malformed"] == 1 and ingester.stats()["stored"] == {"liquidations": 5}
    assert sorted(r["price"] for r in role.store.liquidations()) == [100.0, 101.0, 102.0, 103.0, 104.0]
    again = Ingester(role.store, settings.bus, batch_size=100)
    await again.run(until_idle_s=0.3)
    assert again.messages == 0  # the garbage was terminated, not redelivered; everything else acknowledged
    del got
    runner.cancel()
    await publisher.close()
    await raw.close()
    await role.shutdown()


async def test_publishes_made_while_nats_is_down_are_retried_until_acknowledged(nats_server: LocalNats) -> None:
    env = {**bus_env(nats_server), "LIQWATCH__BUS__ACK_TIMEOUT_S": "0.3"}
    settings = config.load(environ=env)
    publisher = NatsPublisher(settings.bus)
    await publisher.connect()
    runner = asyncio.create_task(publisher.run())
    liqs = [make_liquidation(venue_event_id=f"d{i}") for i in range(10)]
    publisher.publish(liqs[:5])
    assert await publisher.flush(5)
    await asyncio.to_thread(nats_server.stop)
    publisher.publish(liqs[5:])
    await asyncio.sleep(1.0)
    assert publisher.retries > 0 and publisher.acked == 5  # nothing acknowledged while the server is down
    await asyncio.to_thread(nats_server.start)
    assert await publisher.flush(20)
    assert publisher.reconnects >= 1 and publisher.acked >= 10
    publisher.stop()
    await runner
    await publisher.close()
    nc = await connect(settings.bus, name="probe")
    info = await nc.jetstream().stream_info(settings.bus.stream)
    assert info.state.messages == 10  # every event once: the ones sent twice were deduplicated by message id
    await nc.close()


async def test_pipelined_publisher_bounds_its_window_and_the_ingester_stores_every_event_once(
    tmp_path: Path, nats_server: LocalNats
) -> None:
    settings = config.load(environ=bus_env(nats_server))
    publisher = NatsPublisher(settings.bus, window=64)
    await publisher.connect()
    runner = asyncio.create_task(publisher.run())
    liqs = [make_liquidation(venue_event_id=f"w{i}", price=1000.0 + i) for i in range(3000)]
    publisher.publish(liqs)
    peak = 0
    while publisher.pending:
        peak = max(peak, publisher.in_flight)
        await asyncio.sleep(0)
    assert 1 < peak <= 64  # pipelined, and never more than the window unacknowledged
    assert publisher.stats()["acked"] == 3000 and publisher.stats()["duplicates"] == 0 and publisher.retries == 0
    publisher.publish(liqs[:100])  # sent again: acknowledged as duplicates, not stored twice
    publisher.stop()
    await runner
    assert publisher.stats()["duplicates"] == 100 and publisher.pending == 0

    store = DuckDBStore(tmp_path / "w.duckdb")
    ingester = Ingester(store, settings.bus, batch_size=700)  # 3000 = 4 full batches and a partial one, fetched ahead
    await ingester.run(until_idle_s=0.5)
    assert ingester.stats()["messages"] == 3000 and ingester.stats()["stored"] == {"liquidations": 3000}
    assert sorted(r["price"] for r in store.liquidations()) == [1000.0 + i for i in range(3000)]
    again = Ingester(store, settings.bus, batch_size=700)
    await again.run(until_idle_s=0.3)
    assert again.messages == 0  # everything was acknowledged after the commit
    store.close()
    await publisher.close()


def test_delivery_count_from_ack_subjects() -> None:
    assert _delivered("$JS.ACK.LIQ.ingest.3.10.9.1700000000000000000.0") == 3
    assert _delivered("$JS.ACK.hub.ABCDEF.LIQ.ingest.2.10.9.1700000000000000000.0.xyz") == 2
    assert _delivered("") == 1


def test_wire_format_subjects_and_ids() -> None:
    liq = make_liquidation(venue="binance-usdm", coin="1000PEPE", venue_event_id="x")
    assert subject_for("liqwatch", liq) == "liqwatch.liquidation.binance-usdm.1000PEPE"
    payload, msg_id = encode(liq)
    assert decode_event(payload) == liq and isinstance(decode_event(payload), Liquidation)
    assert encode(msgspec.structs.replace(liq, ts_recv=liq.ts_recv + 1))[1] == msg_id  # same event, same id
    bar = Candle(venue="okx", symbol="BTC-USDT-SWAP", market="BTC-USDT-PERP", coin="B.T*C", ts_event=1, ts_recv=1, interval_s=60,
                 open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0, volume_usd=None, closed=False)  # fmt: skip
    assert subject_for("p", bar) == "p.candle.okx.B_T_C"
    assert encode(bar)[1] != encode(msgspec.structs.replace(bar, close=2.0))[1]  # every version of a bar gets through
    with pytest.raises(msgspec.DecodeError):
        decode_event(msgspec.msgpack.encode({"type": "liquidation"}))
    nan = make_liquidation(price=float("nan"))
    assert math.isnan(decode_event(encode(nan)[0]).price)  # type: ignore[union-attr]


class _SlowStore:
    """A DuckDB store whose writes take longer than the consumer's ack_wait (a slow database, a loaded machine)."""

    def __init__(self, inner: DuckDBStore, write_s: float) -> None:
        self.inner, self.write_s = inner, write_s

    def write(self, events: list[Any]) -> dict[str, int]:
        time.sleep(self.write_s)  # in the ingester's worker thread
        return self.inner.write(events)

    def write_instruments(self, instruments: list[Any], ts: int) -> int:
        return self.inner.write_instruments(instruments, ts)


async def test_messages_held_longer_than_ack_wait_are_not_redelivered(tmp_path: Path, nats_server: LocalNats) -> None:
    settings = config.load(environ={**bus_env(nats_server), "LIQWATCH__BUS__ACK_WAIT_S": "1"})
    publisher = NatsPublisher(settings.bus)
    await publisher.connect()
    runner = asyncio.create_task(publisher.run())
    liqs = [make_liquidation(venue_event_id=f"s{i}", price=10.0 + i) for i in range(20)]
    publisher.publish(liqs)
    publisher.stop()
    await runner
    inner = DuckDBStore(tmp_path / "slow.duckdb")
    # two batches of 10, the second fetched ahead while the first is written: each is held over 2 × ack_wait
    ingester = Ingester(_SlowStore(inner, 2.2), settings.bus, batch_size=10)  # type: ignore[arg-type]
    await ingester.run(until_idle_s=0.5)
    stats = ingester.stats()
    assert stats["messages"] == 20 and stats["redelivered"] == 0 and stats["stored"] == {"liquidations": 20}
    assert stats["in_progress_acks"] > 0
    assert sorted(r["price"] for r in inner.liquidations()) == [10.0 + i for i in range(20)]
    inner.close()
    await publisher.close()
