"""`liqwatch collect`: venues (live feeds, or recorded files) → normalised events → NATS JetStream.

A collector keeps no store. It runs the same Feeds as `liqwatch up` (or pushes recorded frames through the
same parsers), publishes every event and each venue's contract specs, and keeps every message until
JetStream acknowledged it, so a NATS restart only delays events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from liqwatch.bus.jetstream import NatsPublisher
from liqwatch.capture.playback import is_instruments_file, load_instruments, replay_events, resolve_venue
from liqwatch.config import Settings
from liqwatch.feeds.parse import FrameCounters
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Event, InstrumentIndex
from liqwatch.model.time import now_ns
from liqwatch.roles._feeds import build_feeds, venue_state

logger = logging.getLogger(__name__)


class Collector:
    """Feeds → NatsPublisher, for the venues of [feeds] venues."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.publisher = NatsPublisher(settings.bus)
        self.instruments = InstrumentIndex()
        self.feeds: list[Feed] = []
        self.started_ns = now_ns()
        self._published_specs: dict[str, int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self) -> None:
        """Connect to NATS, then start the publisher and every feed."""
        await self.publisher.connect("liqwatch-collect")
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, sock_connect=10))
        self.feeds = build_feeds(self.settings, self._session, self.instruments, self.publisher.publish)
        self._tasks = [asyncio.create_task(self.publisher.run(), name="publisher")]
        self._tasks += [asyncio.create_task(f.run(), name=f"feed-{f.name}") for f in self.feeds]
        self._tasks.append(asyncio.create_task(self._specs_forever(), name="instruments"))

    async def _specs_forever(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self.publish_specs()

    def publish_specs(self) -> None:
        """Publish each venue's contract specs after every (re)load, so the store can cache them."""
        for feed in self.feeds:
            if self._published_specs.get(feed.name) != feed.instrument_loads:
                self._published_specs[feed.name] = feed.instrument_loads
                self.publisher.publish_instruments(feed.name, self.instruments.for_venue(feed.name))

    async def shutdown(self, flush_timeout_s: float = 10.0) -> None:
        """Stop the feeds, send what is queued (up to `flush_timeout_s`), close."""
        for feed in self.feeds:
            feed.stop()
        feeds = [t for t in self._tasks if t.get_name().startswith("feed-")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*feeds, return_exceptions=True), timeout=10)
        self.publish_specs()
        self.publisher.stop()
        if not await self.publisher.flush(flush_timeout_s):
            logger.error("%d events not acknowledged by NATS at shutdown", self.publisher.pending)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self.publisher.close()

    def status(self) -> dict[str, Any]:
        """Return each feed's state and the publisher's counts."""
        return {
            "uptime_s": (now_ns() - self.started_ns) / 1e9,
            "feeds": {f.name: venue_state(f) for f in self.feeds},
            "bus": self.publisher.stats(),
        }


async def replay_to_bus(
    settings: Settings, files: list[Path], *, venue: str | None = None, rate: float | None = None, batch: int = 200
) -> dict[str, Any]:
    """Push recorded files through the parsers onto the bus (specs first); wait for every ack; return a report.

    `rate` paces the events (per second) so a replay behaves like a live collector.
    """
    batch = batch or (max(1, int(rate / 20)) if rate else 500)  # paced: 20 small bursts a second, like a live feed
    publisher = NatsPublisher(settings.bus)
    await publisher.connect("liqwatch-collect-replay")
    runner = asyncio.create_task(publisher.run())
    index = InstrumentIndex()
    counters = FrameCounters()
    events_by_type: Counter[str] = Counter()
    start = time.monotonic()
    sent = 0
    try:
        for path in sorted(files, key=lambda p: not is_instruments_file(p)):
            module = resolve_venue(path, venue)
            if is_instruments_file(path):
                specs = load_instruments(path, module, counters)
                index.update(specs)
                publisher.publish_instruments(module.SPEC.name, specs)
                continue
            pending: list[Event] = []
            for _, events in replay_events(path, module, index, counters):
                pending.extend(events)
                if len(pending) >= batch:
                    sent = await _send(publisher, pending, events_by_type, sent, rate, start)
                    pending = []
            sent = await _send(publisher, pending, events_by_type, sent, rate, start)
        publisher.stop()
        await publisher.flush()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await publisher.close()
    return {"frames": counters.frames, "events": dict(events_by_type), "skipped": dict(counters.skipped), "bus": publisher.stats()}


async def _send(publisher: NatsPublisher, events: list[Event], counts: Counter[str], sent: int, rate: float | None, start: float) -> int:
    publisher.publish(events)
    counts.update(type(e).__name__ for e in events)
    sent += len(events)
    if rate:
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0:
            await asyncio.sleep(ahead)
    else:
        await asyncio.sleep(0)  # let the publisher send
    return sent
