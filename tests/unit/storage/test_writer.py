"""The batching writer: its own thread at a lower scheduling priority, every event stored once, a last flush on stop."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from factories import T0, make_liquidation
from liqwatch.bus.local import Bus, DropPolicy
from liqwatch.storage import open_store
from liqwatch.storage.writer import WRITER_NICE, StoreWriter


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="thread priorities are a Linux/Unix feature")
def test_the_writer_flushes_in_its_own_lower_priority_thread_and_stores_everything(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "w.duckdb"))
    seen: list[tuple[str, int, int]] = []
    write = store.write

    def observed(events):  # type: ignore[no-untyped-def]
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), len(events)))
        return write(events)

    store.write = observed  # type: ignore[method-assign]
    loop_nice = os.getpriority(os.PRIO_PROCESS, 0)
    events = [make_liquidation(ts_event=T0 + k, ts_recv=T0 + k, venue_event_id=f"w{k}") for k in range(2500)]

    async def main() -> None:
        bus = Bus()
        writer = StoreWriter(store, bus.subscribe("store", maxsize=10_000, policy=DropPolicy.DROP_NEWEST),
                             flush_interval_s=0.05, batch_size=1000)
        task = asyncio.create_task(writer.run())
        for k in range(0, 2000, 100):
            bus.publish(events[k : k + 100])
            await asyncio.sleep(0)
        while writer.stored["liquidations"] < 2000:
            await asyncio.sleep(0.01)
        bus.publish(events[2000:])  # still queued when stop() comes: the last flush stores it
        writer.stop()
        await task

    asyncio.run(main())
    threaded = [s for s in seen if s[0].startswith("liqwatch-writer")]
    assert threaded, seen
    expected = min(loop_nice + WRITER_NICE, 19)
    assert {nice for _, nice, _ in threaded} == {expected}
    assert sum(n for _, _, n in seen) == 2500
    assert sorted(r["venue_event_id"] for r in store.liquidations(since=T0 - 1, until=T0 + 10_000)) == sorted(
        e.venue_event_id for e in events
    )
    store.close()
