"""The composition root: Settings → store, bus, writer and one Feed per venue; run() and shutdown()."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import aiohttp

from liqwatch.analytics.live import LiveAnalytics
from liqwatch.analytics.signals import evaluate
from liqwatch.bus.local import Bus, DropPolicy
from liqwatch.capture.tap import RecordingWriter
from liqwatch.config import Settings
from liqwatch.errors import LiqwatchError
from liqwatch.feeds.silence import LiquidationSilence
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, Event, InstrumentIndex, Signal
from liqwatch.model.time import now_ns, parse_duration_ns
from liqwatch.roles._feeds import build_feeds, venue_names, venue_state
from liqwatch.storage import EventStore, default_db_path, is_postgres_url, open_store
from liqwatch.storage.writer import StoreWriter

if TYPE_CHECKING:
    from liqwatch.alerts.engine import AlertEngine
    from liqwatch.storage.read_service import ReadServer

logger = logging.getLogger(__name__)


GC_THRESHOLDS = (10_000, 10, 100)  # Python's defaults are (700, 10, 10)


def freeze_startup_heap() -> None:
    """Tune the garbage collector for a long-running ingest process; `liqwatch up` calls it after `App.start()`.

    1. Collect once, then move every object alive after startup out of the collector's scans (`gc.freeze`): imports,
       the web app and the instrument specs are a few hundred thousand objects that live as long as the process; a
       full collection used to walk them all (a 55 ms pause at 50k frames/s).
    2. Collect less often (`GC_THRESHOLDS`): a full collection still walks every event the bus queues, the live
       analytics and the dashboard hold (millions at 50k frames/s, 50-200 ms). Events are not tracked by the
       collector (frozen msgspec structs of plain fields) and make no cycles, so fewer collections free the same.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class App:
    """Everything `liqwatch up` runs in one process: feeds → bus → (store writer, live consumers)."""

    def __init__(
        self, settings: Settings, *, db: str | None = None, record_dir: Path | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.settings = settings
        # the market's "now": the wall clock for live venues, the scenario's clock in the demo (`market_now_ns`)
        self.clock: Callable[[], int] = clock or now_ns
        self.recorder = RecordingWriter(record_dir) if record_dir is not None else None
        if self.recorder is not None:
            self.recorder.prepare()
        self.db = db or settings.store.path or str(default_db_path())
        self.store: EventStore = open_store(self.db)
        self.instruments = InstrumentIndex(self.store.load_instruments())
        self.bus = Bus()
        self.writer = StoreWriter(
            self.store,
            self.bus.subscribe("store", maxsize=2_000_000, policy=DropPolicy.DROP_NEWEST),
            flush_interval_s=settings.store.flush_interval_s,
            batch_size=settings.store.batch_size,
        )
        self.analytics = LiveAnalytics()
        self.bus.on_events(self.analytics.on_events)
        self.signals_published = 0
        self.feeds: list[Feed] = []
        self.started_ns = now_ns()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._persisted: dict[str, int] = {}
        self.alerts: AlertEngine | None = None
        if settings.alerts.rules:
            from liqwatch.alerts.engine import AlertEngine

            self.alerts = AlertEngine(
                settings.alerts,
                cast(Any, self.store),
                lock=self.writer.lock,
                clock=self.market_now_ns,
                venue_states=lambda: {f.name: str(venue_state(f)["state"]) for f in self.feeds},
            )
            # its own bounded queue: a slow destination never blocks the feeds; drops are counted by the bus
            self._alert_source = self.bus.subscribe("alerts", maxsize=100_000, policy=DropPolicy.DROP_OLDEST)
        self.web: Any = None  # web.asgi.WebServer once started
        self.web_error = ""
        self.reads: ReadServer | None = None  # other processes' read commands, while this one holds a DuckDB file

    def market_now_ns(self) -> int:
        """Return the time of the market being collected: every default `at` (API, pages, live pushes, `watch`) uses it."""
        return self.clock()

    def venue_names(self) -> list[str]:
        """Return the venues to collect from: [feeds] venues (or all), minus those disabled."""
        return venue_names(self.settings)

    async def start(self) -> None:
        """Start the writer and every feed as tasks."""
        with self.writer.lock:  # the live totals start from what is stored (a restart keeps its last 25 h)
            seeded = self.analytics.seed(self.store, at=self.market_now_ns())
        logger.info("live analytics seeded with %d stored liquidations", seeded)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, sock_connect=10))
        self.feeds = build_feeds(self.settings, self._session, self.instruments, self.bus.publish, self.recorder)
        self._tasks = [asyncio.create_task(self.writer.run(), name="writer")]
        self._tasks += [asyncio.create_task(f.run(), name=f"feed-{f.name}") for f in self.feeds]
        self._tasks.append(asyncio.create_task(self._persist_instruments_forever(), name="instruments-cache"))
        if self.alerts is not None:
            self._tasks.append(asyncio.create_task(self.alerts.run(self._alert_source), name="alerts"))
        if self.settings.signals.enabled:
            self._tasks.append(asyncio.create_task(self._signals_forever(), name="signals"))
        if self.settings.feeds.liquidation_silence_s > 0:
            self._tasks.append(asyncio.create_task(self._watch_silence_forever(), name="silence-monitor"))
        await self._start_reads()
        if self.settings.web.enabled:
            await self._start_web()
        if self.reads is not None and self.web is not None:
            self.reads.set_dashboard(self.web.url)

    async def _start_reads(self) -> None:
        # DuckDB lets no other process open the file meanwhile: read commands ask this process (storage/read_service.py)
        if is_postgres_url(self.db) or self.db == ":memory:":
            return
        from liqwatch.storage.read_service import ReadServer

        reads = ReadServer(self.store, self.writer.lock, db=self.db.removeprefix("duckdb://"))
        try:
            await reads.start()
        except OSError as exc:  # the collector is not the reader: say why and keep collecting
            logger.error("read commands cannot reach this process while it runs: %s", exc)
            return
        self.reads = reads

    async def _start_web(self) -> None:
        # The dashboard is not the collector: if it cannot start, say why and keep collecting.
        try:
            from liqwatch.web.asgi import WebServer, create_app
        except ImportError as exc:
            self.web_error = f"the dashboard needs the web extra ({exc.name} is missing): pip install 'liqwatch[web]'"
            logger.error("%s", self.web_error)
            return
        app = create_app(
            self.store, self.bus, self.status, self.settings, store_lock=self.writer.lock, analytics=self.analytics,
            clock=self.market_now_ns,
        )
        server = WebServer(app, host=self.settings.web.host, port=self.settings.web.port)
        try:
            await server.start()
        except (OSError, SystemExit, LiqwatchError) as exc:
            self.web_error = (
                f"the dashboard could not listen on {self.settings.web.host}:{self.settings.web.port} ({exc}); "
                "is another liqwatch running? set [web] port (or LIQWATCH__WEB__PORT)"
            )
            logger.error("%s", self.web_error)
            return
        self.web = server

    async def _watch_silence_forever(self, every_s: float = 30.0) -> None:
        liquidating = [f.name for f in self.feeds if Channel.LIQUIDATIONS in f.channels]
        monitor = LiquidationSilence(
            liquidating, silence_ns=int(self.settings.feeds.liquidation_silence_s * 1e9), started_ns=now_ns()
        )
        self.bus.on_events(lambda events: monitor.observe(events, now_ns()))
        while True:
            await asyncio.sleep(min(every_s, self.settings.feeds.liquidation_silence_s))
            await self.restart_silent(monitor.check(now_ns()))

    async def _signals_forever(self, every_s: float = 5.0) -> None:
        bar_ns = parse_duration_ns(self.settings.signals.timeframe)
        done = now_ns() // bar_ns * bar_ns  # the first bar evaluated is the one closing after start
        grace_ns = int((self.settings.store.flush_interval_s + 5.0) * 1e9)  # let the writer store the bar first
        while True:
            await asyncio.sleep(every_s)
            until = (now_ns() - grace_ns) // bar_ns * bar_ns
            if until > done:
                await self.evaluate_signals(done, until)
                done = until

    async def evaluate_signals(self, since: int, until: int) -> list[Signal]:
        """Evaluate the bars closed in (since, until] and publish their signals on the bus (the writer stores them)."""

        def run() -> list[Signal]:
            with self.writer.lock:
                return evaluate(
                    self.store, self.settings.signals, since=since, until=until, ts_recv=now_ns(),
                    price_venues=self.settings.analytics.price_venues,
                )

        try:
            signals = await asyncio.to_thread(run)
        except LiqwatchError as exc:
            logger.error("signal evaluation of %d..%d failed: %s", since, until, exc)
            return []
        if signals:
            # Signal travels on the bus like an event: the store writer and the alerts engine consume it by type
            self.bus.publish(cast(list[Event], signals))
            self.signals_published += len(signals)
        return signals

    async def restart_silent(self, silent: list[tuple[str, str]]) -> None:
        """Mark each silent venue's sockets STALE (stored as FeedStatus) and reconnect them."""
        for venue, reason in silent:
            for feed in self.feeds:
                if feed.name == venue:
                    for socket in feed.sockets:
                        await socket.restart(reason)

    async def _persist_instruments_forever(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            self.persist_instruments()

    def persist_instruments(self) -> None:
        """Cache newly loaded instrument specs in the store, so the next start works offline."""
        for feed in self.feeds:
            if self._persisted.get(feed.name) == feed.instrument_loads:
                continue
            self._persisted[feed.name] = feed.instrument_loads
            specs = self.instruments.for_venue(feed.name)
            with self.writer.lock:
                self.store.write_instruments(specs, now_ns())

    async def stop_feeds(self, timeout_s: float = 10.0) -> None:
        """Close every venue connection (the writer, the store and the dashboard keep running: `shutdown` ends them)."""
        for feed in self.feeds:
            feed.stop()
        feed_tasks = [t for t in self._tasks if t.get_name().startswith("feed-")]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*feed_tasks, return_exceptions=True), timeout=timeout_s)

    async def shutdown(self) -> None:
        """Stop the read service, the web server and the feeds, flush the writer, close the session and the store."""
        if self.reads is not None:
            await self.reads.stop()
        if self.web is not None:
            await self.web.stop()
        await self.stop_feeds()
        for task in self._tasks:
            if task.get_name() != "writer":
                task.cancel()
        if self.alerts is not None:
            await self.alerts.stop(drain_s=2.0)
        self.writer.stop()
        writer = [t for t in self._tasks if t.get_name() == "writer"]
        await asyncio.gather(*self._tasks, return_exceptions=True)
        del writer
        if self._session is not None:
            await self._session.close()
        self.persist_instruments()
        self.store.close()
        if self.recorder is not None:
            self.recorder.close()

    def status(self) -> dict[str, Any]:
        """Return a snapshot of every feed, the writer and the bus."""
        return {
            "db": self.db,
            "uptime_s": (now_ns() - self.started_ns) / 1e9,
            "feeds": {f.name: venue_state(f) for f in self.feeds},
            "writer": self.writer.stats(),
            "bus": self.bus.stats(),
            **({"alerts": self.alerts.stats()} if self.alerts is not None else {}),
            "web": {"url": self.web.url if self.web is not None else None, "error": self.web_error},
            "reads": {"url": self.reads.url, "served": self.reads.served} if self.reads is not None else None,
            "recording": self.recorder.stats() if self.recorder is not None else None,
            "signals_published": self.signals_published,
        }
