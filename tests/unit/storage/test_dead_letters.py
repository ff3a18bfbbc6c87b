"""No event stops the store writer: what the store refuses becomes a dead letter with the reason, the rest is stored."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import msgspec
import pytest

from factories import T0, make_liquidation, make_open_interest
from golden import recorded_dir
from liqwatch.bus.local import Bus, DropPolicy
from liqwatch.errors import StorageError
from liqwatch.model import Event
from liqwatch.storage import open_store
from liqwatch.storage.dead_letters import DeadLetterSink, letter_for, read_file, write_isolating
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.storage.writer import StoreWriter
from liqwatch.web.metrics import render


def _good(n: int, tag: str = "g") -> list[Event]:
    return [make_liquidation(venue_event_id=f"{tag}{k}", ts_event=T0 + k, ts_recv=T0 + k, price=100.0 + k) for k in range(n)]


async def _run_writer(writer: StoreWriter, bus: Bus, batches: list[list[Event]], until: int) -> None:
    task = asyncio.create_task(writer.run())
    for batch in batches:
        bus.publish(batch)
        await asyncio.sleep(0)
    for _ in range(500):
        if sum(writer.stored.values()) + writer.dead_letters.total >= until or task.done():
            break
        await asyncio.sleep(0.01)
    writer.stop()
    await asyncio.wait_for(task, 10)


def test_an_event_beyond_int64_is_dead_lettered_and_every_other_event_is_stored(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "w.duckdb")
    good = _good(300)
    too_late = msgspec.structs.replace(good[0], venue_event_id="late", ts_event=10**20)  # a Binance "T" of 10**17 ms
    oi = make_open_interest(ts_event=10**19)  # beyond int64, within uint64
    bus = Bus()
    writer = StoreWriter(store, bus.subscribe("store", policy=DropPolicy.DROP_NEWEST), flush_interval_s=0.02, batch_size=1000)
    later = _good(50, "after")  # published after the poison: the writer is still alive
    asyncio.run(_run_writer(writer, bus, [[*good[:150], too_late, *good[150:], oi], later], until=352))

    stored = {r["venue_event_id"] for r in store.liquidations()}
    assert stored == {e.venue_event_id for e in good + later}  # type: ignore[union-attr]
    letters = store.dead_letters(since=0, until=2**63 - 1)
    assert sorted(d["type"] for d in letters) == ["liquidation", "open_interest"]
    by_type = {d["type"]: d for d in letters}
    assert by_type["liquidation"]["reason"].startswith("OverflowError")
    assert json.loads(by_type["liquidation"]["payload"])["ts_event"] == 10**20  # the event itself, to re-import or inspect
    assert by_type["liquidation"]["venue"] == "bybit" and by_type["liquidation"]["source"] == "writer"
    stats = writer.stats()
    assert stats["dead_letters"] == 2 and stats["errors"] >= 1 and "refused by the store" in str(stats["last_error"])
    metrics = render({"writer": stats}, {})
    assert "liqwatch_dead_letters_total 2" in metrics
    assert "liqwatch_writer_errors_total 0" not in metrics
    store.close()


def test_a_transient_store_failure_is_retried_whole_never_dead_lettered(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "t.duckdb")
    store.execute("ALTER TABLE liquidations RENAME TO liquidations_away")  # the store fails, not the data
    bus = Bus()
    writer = StoreWriter(store, bus.subscribe("store", policy=DropPolicy.DROP_NEWEST), flush_interval_s=0.02, batch_size=1000)
    events = _good(40)

    async def main() -> None:
        task = asyncio.create_task(writer.run())
        bus.publish(events)
        for _ in range(500):
            if writer.errors >= 2:
                break
            await asyncio.sleep(0.01)
        assert writer.errors >= 2 and sum(writer.stored.values()) == 0  # retried, nothing isolated
        with writer.lock:
            store.execute("ALTER TABLE liquidations_away RENAME TO liquidations")
        for _ in range(500):
            if writer.stored["liquidations"] == 40:
                break
            await asyncio.sleep(0.01)
        writer.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    assert writer.stored["liquidations"] == 40 and writer.dead_letters.total == 0
    assert store.count("liquidations") == 40 and store.count("dead_letters") == 0
    store.close()


def test_dead_letters_go_to_a_file_beside_the_store_when_the_store_cannot_take_them(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "f.duckdb")
    store.execute("DROP TABLE dead_letters")  # the store refuses the dead letters too
    sink = DeadLetterSink(store)
    bad = msgspec.structs.replace(make_liquidation(), ts_event=-(10**20))
    sink.record([letter_for(bad, OverflowError("int too big to convert"), "replay")])
    assert sink.file == tmp_path / "f.duckdb.dead-letters.jsonl"
    kept = read_file(sink.file)
    assert len(kept) == 1 and kept[0].reason == "OverflowError: int too big to convert" and kept[0].source == "replay"
    assert json.loads(kept[0].payload)["ts_event"] == -(10**20)
    assert sink.stats() == {"dead_letters": 1, "dead_letters_in_file": 1, "dead_letters_lost": 0,
                            "last_dead_letter": f"bybit liquidation: {kept[0].reason}"}  # fmt: skip
    store.close()


def test_the_same_dead_letter_twice_is_kept_once_and_an_old_file_opened_read_only_shows_none(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "d.duckdb")
    letter = letter_for(make_open_interest(ts_event=10**19), OverflowError("x"), "writer")
    store.write_dead_letters([letter])
    store.write_dead_letters([msgspec.structs.replace(letter, ts_recorded=letter.ts_recorded + 1)])  # a replay, again
    assert store.count("dead_letters") == 1
    store.execute("DROP TABLE dead_letters")  # a file written before the table existed
    store.close()
    old = open_store(tmp_path / "d.duckdb", read_only=True)
    assert old.dead_letters(since=0, until=2**62) == []
    old.close()


def test_write_isolating_splits_only_around_the_bad_items_and_raises_transient_errors() -> None:
    calls: list[list[int]] = []

    def write(items: list[int]) -> int:
        calls.append(items)
        if any(i in (13, 77) for i in items):
            raise OverflowError(f"bad in {len(items)}")
        return len(items)

    written: list[int] = []
    bad = write_isolating(write, list(range(100)), written.append)
    assert [item for item, _ in bad] == [13, 77] and sum(written) == 98
    assert len(calls) <= 2 * 2 * 7 + 1  # about 2·k·log2(n) writes, not n

    def disk_full(items: list[int]) -> int:
        raise StorageError("disk full")

    with pytest.raises(StorageError, match="disk full"):
        write_isolating(disk_full, list(range(10)), written.append)


def test_replay_stores_the_rest_of_a_batch_with_an_event_the_store_refuses(tmp_path: Path) -> None:
    from liqwatch.roles.replay import store_batch

    store = DuckDBStore(tmp_path / "r.duckdb")
    good = _good(20, "r")
    stored, dead = store_batch(store, [*good[:7], msgspec.structs.replace(good[0], venue_event_id="x", ts_recv=10**21), *good[7:]])
    assert stored == {"liquidations": 20} and dead == 1
    assert [(d["source"], d["type"]) for d in store.dead_letters(since=0, until=2**63 - 1)] == [("replay", "liquidation")]
    store.close()


RECORDED = recorded_dir()


def test_liqwatch_replay_of_a_line_received_in_the_year_33658_keeps_it_as_a_dead_letter_not_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    line = json.loads((RECORDED / "BINANCE_FUTURES.liquidations.jsonl").read_text().splitlines()[0])
    frame = json.loads(line["raw"])
    lines = []
    for k, recv in enumerate((1_700_000_000.0, 1e12, 1_700_000_002.0)):  # recv_ts 1e12 s = 10**21 ns, beyond int64
        frame["data"]["o"]["T"] = 1_700_000_000_000 + k
        lines.append(json.dumps({"recv_ts": recv, "raw": json.dumps(frame)}))
    recording = tmp_path / "BINANCE_FUTURES.liquidations.jsonl"
    recording.write_text("\n".join(lines) + "\n")
    db = tmp_path / "replay.duckdb"
    result = subprocess.run(
        [sys.executable, "-m", "liqwatch", "replay", str(RECORDED / "BINANCE_FUTURES.rest_instruments.jsonl"), str(recording),
         "--db", str(db), "--json"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    report = json.loads(result.stdout)[1]
    # the parse boundary may skip the line as malformed (range-checked) or the store path dead-letters it: never both lost
    assert report["stored"] == {"liquidations": 2}
    assert report["dead_letters"] + report["skipped"].get("malformed", 0) == 1, report
    store = open_store(db, read_only=True)
    assert store.count("liquidations") == 2
    store.close()


def test_liqwatch_venues_shows_the_dead_letters_of_the_last_24h(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "v.duckdb"
    store = DuckDBStore(db)
    bad = msgspec.structs.replace(make_liquidation(venue="okx"), ts_event=10**20)
    store.write_dead_letters([letter_for(bad, OverflowError("Python int too large to convert to C long"), "writer")])
    store.close()
    run = [sys.executable, "-m", "liqwatch", "venues", "--db", str(db)]
    rows = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    by_venue = {r["venue"]: r for r in rows}
    assert by_venue["okx"]["dead_letters_24h"] == 1 and by_venue["bybit"]["dead_letters_24h"] == 0
    assert by_venue["okx"]["last_dead_letter"] == "liquidation: OverflowError: Python int too large to convert to C long"
    text = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True, env={**os.environ, "COLUMNS": "250"}).stdout
    assert "okx: 1 event(s) the store refused in the last 24h, kept in dead_letters" in text
