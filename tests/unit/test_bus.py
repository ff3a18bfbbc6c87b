"""The in-process bus: bounded queues with explicit drop policies, and the writer's wait-for-a-batch."""

from __future__ import annotations

import asyncio
import time

from factories import T0, make_liquidation
from liqwatch.bus.local import Bus, DropPolicy


def test_a_full_queue_drops_by_its_policy_and_counts_it() -> None:
    bus = Bus()
    newest = bus.subscribe("live", maxsize=3, policy=DropPolicy.DROP_OLDEST)
    oldest = bus.subscribe("store", maxsize=3, policy=DropPolicy.DROP_NEWEST)
    events = [make_liquidation(ts_event=T0 + i) for i in range(5)]
    bus.publish(events[:2])
    bus.publish(events[2:])
    assert newest.drain() == events[2:] and newest.dropped == 2
    assert oldest.drain() == events[:3] and oldest.dropped == 2
    assert bus.published == 5


async def test_wait_for_depth_wakes_on_a_full_batch_or_the_timeout() -> None:
    bus = Bus()
    sub = bus.subscribe("store")
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, bus.publish, [make_liquidation(ts_event=T0 + i) for i in range(3)])
    t0 = time.monotonic()
    await sub.wait_for_depth(3, timeout_s=5.0)
    assert time.monotonic() - t0 < 2.0 and sub.depth == 3
    bus.publish([make_liquidation(ts_event=T0 + 10)])  # 4 queued, 10 wanted: returns at the timeout
    t0 = time.monotonic()
    await sub.wait_for_depth(10, timeout_s=0.1)
    assert 0.05 < time.monotonic() - t0 < 2.0
    assert len(sub.drain(3)) == 3 and sub.depth == 1 and len(sub.drain()) == 1 and sub.delivered == 4
