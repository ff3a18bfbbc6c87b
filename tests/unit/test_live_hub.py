"""The live hub: a liquidation after a quiet spell is pushed at once; a burst right after waits out the push interval
and goes as one message (at most one message per interval per browser)."""

from __future__ import annotations

import asyncio
import json
import time

from factories import T0, make_liquidation
from liqwatch.bus.local import Bus
from liqwatch.web.live import Client, LiveHub


def _events(message: bytes) -> list[dict[str, object]]:
    kind, _, data = message.partition(b"\ndata: ")
    assert kind == b"event: liquidations"
    return json.loads(data)["events"]  # type: ignore[no-any-return]


async def test_a_quiet_spell_is_pushed_at_once_and_a_burst_waits_out_the_interval() -> None:
    bus = Bus()
    hub = LiveHub(bus, push_interval_s=1.0)
    client = Client(16)
    hub.clients.add(client)
    hub.start()
    try:
        await asyncio.sleep(0.05)
        published = time.monotonic()
        bus.publish([make_liquidation(ts_event=T0, ts_recv=T0, venue_event_id="a")])
        first = await asyncio.wait_for(client.queue.get(), 5)
        first_at = time.monotonic()
        assert first_at - published < 0.5  # not held for the 1 s interval (it was, before)
        assert [e["ts_event"] for e in _events(first)] == [T0]
        bus.publish([make_liquidation(ts_event=T0 + 1, ts_recv=T0, venue_event_id="b")])
        bus.publish([make_liquidation(ts_event=T0 + 2, ts_recv=T0, venue_event_id="c")])
        second = await asyncio.wait_for(client.queue.get(), 5)
        assert time.monotonic() - first_at >= 0.9  # the burst waited out the interval since the last push ...
        assert [e["ts_event"] for e in _events(second)] == [T0 + 1, T0 + 2]  # ... and came as one message
        assert client.queue.empty()
    finally:
        await hub.stop()


async def test_close_streams_ends_every_open_stream_instead_of_leaving_it_to_be_cancelled() -> None:
    """What the web server does before it stops: each browser's stream returns (a cancelled one printed a traceback)."""
    hub = LiveHub(Bus())

    async def connected() -> bool:
        return False

    async def read(stream: object) -> list[bytes]:
        return [chunk async for chunk in stream]  # type: ignore[attr-defined]

    readers = [asyncio.create_task(read(hub.stream(connected))) for _ in range(2)]
    while len(hub.clients) < 2:
        await asyncio.sleep(0.01)
    hub.broadcast(b"event: status\ndata: {}\n\n")
    hub.close_streams()
    received = await asyncio.wait_for(asyncio.gather(*readers), 5)  # both returned, none cancelled
    for chunks in received:
        assert chunks[0].startswith(b"retry: 2000\n") and chunks[1:] == [b"event: status\ndata: {}\n\n"]
    assert not hub.clients
    assert await read(hub.stream(connected)) == []  # a stream opened while closing ends at once
