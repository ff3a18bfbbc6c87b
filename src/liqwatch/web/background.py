"""The dashboard over a store, with its own bus and writer, on an event loop in a background thread.

For embedding (notebooks, a read-side process, tests and benchmarks): `publish()` is thread-safe and takes the same
path as live data (bus → writer → store, bus → live hub → browsers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from liqwatch.analytics.live import LiveAnalytics
from liqwatch.bus.local import Bus, DropPolicy
from liqwatch.config import Settings
from liqwatch.model import Event
from liqwatch.model.time import now_ns
from liqwatch.storage.base import EventStore
from liqwatch.storage.writer import StoreWriter
from liqwatch.web.asgi import WebServer, create_app

T = TypeVar("T")


class BackgroundDashboard:
    """Serve `store` on `[web] host:port` from a thread; events published here are stored and pushed live."""

    def __init__(self, store: EventStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.bus = Bus()
        self.writer = StoreWriter(
            store,
            self.bus.subscribe("store", maxsize=2_000_000, policy=DropPolicy.DROP_NEWEST),
            flush_interval_s=settings.store.flush_interval_s,
            batch_size=settings.store.batch_size,
        )
        self.analytics = LiveAnalytics()  # live totals, as in `liqwatch up`
        self.bus.on_events(self.analytics.on_events)
        self.started_ns = now_ns()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="liqwatch-web", daemon=True)
        self.app = create_app(store, self.bus, self.status, settings, store_lock=self.writer.lock, analytics=self.analytics)
        self.server = WebServer(self.app, host=settings.web.host, port=settings.web.port)
        self._writer_task: concurrent.futures.Future[None] | None = None

    def status(self) -> dict[str, Any]:
        """Return the status the venues page and /metrics show (no feeds in this process)."""
        return {"uptime_s": (now_ns() - self.started_ns) / 1e9, "feeds": {}, "writer": self.writer.stats(), "bus": self.bus.stats()}

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        """Run a coroutine on the dashboard's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> BackgroundDashboard:
        """Start the thread, the writer and the web server; return once it listens."""
        with self.writer.lock:
            self.analytics.seed(self.store)
        self.thread.start()
        self._writer_task = asyncio.run_coroutine_threadsafe(self.writer.run(), self.loop)
        self.call(self.server.start())
        return self

    @property
    def url(self) -> str:
        return self.server.url

    def publish(self, events: list[Event]) -> None:
        """Publish events on the bus from any thread."""
        self.loop.call_soon_threadsafe(self.bus.publish, events)

    def stop(self) -> None:
        """Stop the server, flush the writer and stop the thread (the store stays open)."""
        self.call(self.server.stop())
        self.writer.stop()
        if self._writer_task is not None:
            self._writer_task.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def __enter__(self) -> BackgroundDashboard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
