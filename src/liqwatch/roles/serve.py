"""`liqwatch serve`: the read side of a scale-out deployment — the store for history, the bus for live events.

It opens the store (PostgreSQL, or a DuckDB file no other process holds) and subscribes to every event on
NATS, republishing them on an in-process Bus, exactly what the dashboard/API and alerts consume in
`liqwatch up`. The web application plugs in through `web_app_factory` (see WEB HOOK below).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from liqwatch.analytics.live import LiveAnalytics
from liqwatch.bus.jetstream import WireEvent, subscribe_live
from liqwatch.bus.local import Bus
from liqwatch.config import Settings
from liqwatch.model.time import now_ns
from liqwatch.redact import redact_url
from liqwatch.storage import EventStore, is_postgres_url, open_store

logger = logging.getLogger(__name__)

# WEB HOOK: the dashboard's `create_app(store, bus, status_provider, settings) -> ASGI app`, which `liqwatch serve`
# serves with uvicorn. None means the default, `liqwatch.web.asgi.create_app` (imported when first needed).
WebAppFactory = Callable[[EventStore, Bus, Callable[[], dict[str, Any]], Settings], Any]
web_app_factory: WebAppFactory | None = None


class ServeRole:
    """Store + live bus for readers (dashboard, API, alerts) in a process that collects nothing."""

    def __init__(self, settings: Settings, store_url: str, *, store: EventStore | None = None) -> None:
        self.settings = settings
        self.store_url = store_url
        # a DuckDB file is opened read-only (its writer is `liqwatch ingest` or `up` when stopped); PostgreSQL is shared
        self.store: EventStore = store if store is not None else open_store(store_url, read_only=not is_postgres_url(store_url))
        self.bus = Bus()
        self.analytics = LiveAnalytics()  # live totals for the dashboard, from the bus, seeded from the store at start
        self.bus.on_events(self.analytics.on_events)
        self.received = 0
        self.started_ns = now_ns()
        self.nc: Any = None

    async def start(self) -> None:
        """Seed the live totals from the store, then subscribe to every event on the bus."""
        self.analytics.seed(self.store)
        self.nc = await subscribe_live(self.settings.bus, self._on_event, name="liqwatch-serve")

    def _on_event(self, event: WireEvent) -> None:
        self.received += 1
        self.bus.publish([event])  # type: ignore[list-item]  # Signal travels too; Bus consumers match on type

    def web_app(self) -> Any | None:
        """Return the ASGI app from the web hook (default: the dashboard and API of `liqwatch.web`)."""
        if web_app_factory is not None:
            return web_app_factory(self.store, self.bus, self.status, self.settings)
        from liqwatch.web.asgi import create_app

        return create_app(self.store, self.bus, self.status, self.settings, analytics=self.analytics)

    def status(self) -> dict[str, Any]:
        """Return the store location, live events received, and the in-process bus's counts."""
        return {
            "store": getattr(self.store, "path", redact_url(self.store_url)),
            "bus_url": redact_url(self.settings.bus.url),
            "uptime_s": (now_ns() - self.started_ns) / 1e9,
            "received": self.received,
            "bus": self.bus.stats(),
        }

    async def shutdown(self) -> None:
        """Close the subscription and the store."""
        if self.nc is not None:
            await self.nc.close()
        self.store.close()
