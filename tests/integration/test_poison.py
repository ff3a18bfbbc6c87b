"""Poison on real servers: one bad event or message among good ones never stops a collector, an ingester or a writer.

nats-server (JetStream) and PostgreSQL are started by the session fixtures. A poison message is stored as a dead
letter with the reason and terminated (never redelivered); everything else is stored and acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import msgspec
import psycopg
import pytest

from factories import T0, make_liquidation, make_open_interest
from liqwatch import config
from liqwatch.bus.jetstream import NatsPublisher, connect
from liqwatch.bus.local import Bus, DropPolicy
from liqwatch.model import Event
from liqwatch.roles.ingest import Ingester
from liqwatch.sim.local_servers import LocalNats
from liqwatch.storage import open_store
from liqwatch.storage.writer import StoreWriter

pytestmark = pytest.mark.postgres
BEYOND_INT64 = 2**63 + 5  # MessagePack carries it (uint64); no store column can


def _bus_settings(nats: LocalNats) -> config.BusSettings:
    tag = uuid.uuid4().hex[:10]
    env = {"LIQWATCH__BUS__URL": nats.url, "LIQWATCH__BUS__STREAM": f"P{tag}", "LIQWATCH__BUS__SUBJECT_PREFIX": f"p{tag}",
           "LIQWATCH__BUS__CONSUMER": f"ingest-{tag}", "LIQWATCH__BUS__ACK_WAIT_S": "1"}  # fmt: skip
    return config.load(environ=env).bus


async def _publish(settings: config.BusSettings, events: list[Event]) -> NatsPublisher:
    publisher = NatsPublisher(settings)
    await publisher.connect()
    runner = asyncio.create_task(publisher.run())
    publisher.publish(events)  # type: ignore[arg-type]
    publisher.stop()
    await asyncio.wait_for(runner, 20)
    await publisher.close()
    return publisher


async def test_collect_publishes_every_good_event_of_a_batch_with_an_unencodable_one(nats_server: LocalNats) -> None:
    settings = _bus_settings(nats_server)
    good = [make_liquidation(venue_event_id=f"c{i}") for i in range(10)]
    huge = msgspec.structs.replace(good[0], venue_event_id="huge", ts_event=10**20)  # beyond MessagePack's 64 bits
    publisher = await _publish(settings, [*good[:5], huge, *good[5:]])
    stats = publisher.stats()
    assert stats["acked"] == 10 and stats["unencodable"] == 1 and "OverflowError" in stats["last_error"]


async def test_ingest_dead_letters_and_terminates_poison_and_stores_the_rest(pg_url: str, nats_server: LocalNats) -> None:
    settings = _bus_settings(nats_server)
    good = [make_liquidation(venue_event_id=f"i{i}", price=100.0 + i) for i in range(30)]
    poison = msgspec.structs.replace(good[0], venue_event_id="poison", ts_event=BEYOND_INT64)
    oi = make_open_interest(ts_event=BEYOND_INT64)
    await _publish(settings, [*good[:10], poison, *good[10:20], oi, *good[20:]])
    raw = await connect(settings, name="garbage")
    await raw.jetstream().publish(f"{settings.subject_prefix}.liquidation.okx.BTC", b"\xc1 not an event")
    await raw.close()

    store = open_store(pg_url)
    ingester = Ingester(store, settings, batch_size=100)
    await asyncio.wait_for(ingester.run(until_idle_s=0.5), 60)  # returns: no crash, nothing left unacknowledged
    stats = ingester.stats()
    # (rows a split batch committed before another table's insert failed count as duplicates when written again)
    assert 0 < stats["stored"]["liquidations"] <= 30 and stats["messages"] == 33
    assert stats["malformed"] == 1 and stats["terminated"] == 3 and stats["dead_letters"] == 3 and stats["write_errors"] == 0
    assert sorted(r["price"] for r in store.liquidations()) == [100.0 + i for i in range(30)]
    letters = store.dead_letters(since=0, until=2**63 - 1)
    assert sorted((d["type"], d["venue"]) for d in letters) == [("liquidation", "bybit"), ("message", "okx"), ("open_interest", "binance-usdm")]
    liq = next(d for d in letters if d["type"] == "liquidation")
    assert json.loads(liq["payload"])["ts_event"] == BEYOND_INT64 and liq["source"] == "ingest"
    assert "base64" in json.loads(next(d for d in letters if d["type"] == "message")["payload"])

    again = Ingester(store, settings, batch_size=100)
    await asyncio.wait_for(again.run(until_idle_s=0.5), 30)
    assert again.messages == 0  # terminated, not redelivered: no crash loop
    store.close()


async def test_the_writer_on_postgresql_dead_letters_what_the_server_refuses(pg_url: str) -> None:
    store = open_store(pg_url)
    bus = Bus()
    writer = StoreWriter(store, bus.subscribe("store", policy=DropPolicy.DROP_NEWEST), flush_interval_s=0.02, batch_size=500)
    good = [make_liquidation(venue_event_id=f"w{i}", ts_event=T0 + i, ts_recv=T0 + i) for i in range(100)]
    bad = [msgspec.structs.replace(good[0], venue_event_id="far", ts_event=10**20),
           msgspec.structs.replace(good[0], venue_event_id="edge", ts_event=2**63 - 1),  # its day's partition ends past int64
           make_open_interest(ts_event=-(10**20))]  # fmt: skip
    task = asyncio.create_task(writer.run())
    bus.publish([*good[:50], *bad, *good[50:]])
    for _ in range(1000):
        if writer.stored["liquidations"] + writer.dead_letters.total >= 101 + 2 or task.done():
            break
        await asyncio.sleep(0.01)
    writer.stop()
    await asyncio.wait_for(task, 20)
    with psycopg.connect(pg_url) as con:
        (n,) = con.execute("SELECT count(*) FROM liquidations WHERE venue_event_id LIKE 'w%'").fetchone()  # type: ignore[misc]
        letters = con.execute("SELECT type, source, reason FROM dead_letters ORDER BY type, reason").fetchall()
    assert n == 100
    assert writer.dead_letters.total == len(letters) >= 2 and {t for t, _, _ in letters} >= {"liquidation", "open_interest"}
    assert all(source == "writer" and reason for _, source, reason in letters)
    store.close()
