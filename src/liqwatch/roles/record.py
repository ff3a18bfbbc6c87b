"""`liqwatch record` without a store: the same feeds as `liqwatch up`, every frame and REST body to files.

Events are still parsed (and counted per venue, a health signal for the run) but not stored;
`liqwatch record --store` runs the full `App` with a recorder instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from liqwatch.capture.tap import RecordingWriter
from liqwatch.config import Settings
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Event, FeedStatus, InstrumentIndex
from liqwatch.model.time import now_ns
from liqwatch.roles._feeds import build_feeds, venue_state


class RecordOnly:
    """Feeds → recording files; instruments always come from the venues' REST APIs, so they are recorded too."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.recorder = RecordingWriter(directory)
        self.recorder.prepare()
        self.instruments = InstrumentIndex()
        self.events: Counter[str] = Counter()
        self.feeds: list[Feed] = []
        self.started_ns = now_ns()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _count(self, events: list[Event]) -> None:
        for event in events:
            if not isinstance(event, FeedStatus):
                self.events[event.venue] += 1

    async def start(self) -> None:
        """Start every feed as a task."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, sock_connect=10))
        self.feeds = build_feeds(self.settings, self._session, self.instruments, self._count, self.recorder)
        self._tasks = [asyncio.create_task(f.run(), name=f"feed-{f.name}") for f in self.feeds]

    async def shutdown(self) -> None:
        """Stop the feeds, close the session and the files."""
        for feed in self.feeds:
            feed.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout=10)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self.recorder.close()

    def status(self) -> dict[str, Any]:
        """Return a snapshot of every feed and the recording."""
        return {
            "uptime_s": (now_ns() - self.started_ns) / 1e9,
            "feeds": {f.name: venue_state(f) for f in self.feeds},
            "recording": self.recorder.stats(),
            "events": dict(self.events),
        }
