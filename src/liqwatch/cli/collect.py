"""Scale-out roles: `liqwatch collect` (venues → NATS), `liqwatch ingest` (NATS → store), `liqwatch serve` (readers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from liqwatch import config
from liqwatch.cli._common import ConfigOption, JsonOption, db_path, print_json
from liqwatch.errors import ConfigError, StorageError
from liqwatch.logs import setup_logging
from liqwatch.redact import redact_url
from liqwatch.storage import EventStore, is_postgres_url

logger = logging.getLogger(__name__)

BusOption = Annotated[str | None, typer.Option("--bus", help="NATS server URL(s), e.g. nats://10.0.0.5:4222 (default: \\[bus] url)")]
StoreOption = Annotated[
    str | None,
    typer.Option("--store", "--db", help="postgresql://USER@HOST/DB or a DuckDB file (default: \\[store] path)"),
]
DurationOption = Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")]


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
    app.command("ingest")(ingest)
    app.command("serve")(serve)


def _settings(config_path: Path | None, bus: str | None, **more: Any) -> config.Settings:
    return config.load(config_path, bus__url=bus, **more)


def collect(
    config_path: ConfigOption = None,
    bus: BusOption = None,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="collect from this venue (repeatable)")] = None,
    venues: Annotated[str | None, typer.Option("--venues", help="comma-separated venues (same as repeating --venue)")] = None,
    coin: Annotated[list[str] | None, typer.Option("--coin", help="collect only this base coin (repeatable)")] = None,
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE", help="with --replay: JSON Lines recordings to publish", show_default=False)] = None,
    replay: Annotated[bool, typer.Option("--replay", help="publish the recordings FILE… instead of connecting to venues")] = False,
    rate: Annotated[float | None, typer.Option(help="with --replay: events per second (default: as fast as acknowledged)")] = None,
    duration: DurationOption = None,
    as_json: JsonOption = False,
) -> None:
    """Collect from venues and publish every normalised event to NATS JetStream (many collectors may run at once)."""
    names = [*(venue or []), *[v.strip() for v in (venues or "").split(",") if v.strip()]]
    settings = _settings(config_path, bus, feeds__venues=names or None, feeds__coins=coin or None)
    if not settings.bus.url:
        raise ConfigError("liqwatch collect needs a NATS server: pass --bus nats://HOST:4222 or set [bus] url")
    setup_logging(settings.log.level)
    if files and not replay:
        raise ConfigError("files given without --replay; use: liqwatch collect --replay FILE…")
    if replay:
        from liqwatch.roles.collect import replay_to_bus

        if not files:
            raise ConfigError("--replay needs recordings: liqwatch collect --replay FILE…")
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ConfigError(f"no such file: {', '.join(missing)}")
        report = asyncio.run(replay_to_bus(settings, list(files), venue=names[0] if len(names) == 1 else None, rate=rate))
        if as_json:
            print_json(report)
        else:
            typer.echo(f"published {sum(report['events'].values())} events {report['events']} from {report['frames']} frames; bus {report['bus']}")
        return
    asyncio.run(_collect(settings, duration))


async def _collect(settings: config.Settings, duration: float | None) -> None:
    from liqwatch.roles.collect import Collector

    stop = _Stop(duration)
    collector = Collector(settings)
    if not await stop.until(collector.start()):  # NATS unreachable: said once on stderr, retried until it answers
        typer.echo("stopped before NATS answered", err=True)
        return
    typer.echo(f"liqwatch collect: {len(collector.feeds)} venues → {redact_url(settings.bus.url)} (Ctrl-C to stop)")

    def line() -> str:
        s = collector.status()
        feeds = "; ".join(f"{n}: {f['state']}" for n, f in s["feeds"].items())
        return f"[{s['uptime_s']:.0f}s] bus {s['bus']} | {feeds}"

    try:
        await _until_stopped(stop, line)
    finally:
        await collector.shutdown()
        typer.echo(f"stopped; bus {collector.publisher.stats()}")


def ingest(
    config_path: ConfigOption = None,
    bus: BusOption = None,
    store: StoreOption = None,
    consumer: Annotated[str | None, typer.Option(help="durable consumer name (default: \\[bus] consumer)")] = None,
    batch_size: Annotated[int, typer.Option(help="messages per fetch and store transaction")] = 5000,
    until_idle: Annotated[float | None, typer.Option(help="exit once no message arrived for this many seconds")] = None,
    duration: DurationOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the bus into the store through a durable JetStream consumer; a restart resumes where it stopped."""
    settings = _settings(config_path, bus, bus__consumer=consumer)
    if not settings.bus.url:
        raise ConfigError("liqwatch ingest needs a NATS server: pass --bus nats://HOST:4222 or set [bus] url")
    if batch_size <= 0:
        raise ConfigError(f"--batch-size must be positive, was {batch_size}")
    setup_logging(settings.log.level)
    target = store or db_path(None, config_path)
    asyncio.run(_ingest(settings, target, batch_size, until_idle, duration, as_json))


async def _ingest(settings: config.Settings, target: str, batch_size: int, until_idle: float | None, duration: float | None, as_json: bool) -> None:
    from liqwatch.roles.ingest import Ingester

    stop = _Stop(duration)
    store = await _open_store(target, stop)
    if store is None:
        typer.echo("stopped before the store opened", err=True)
        return
    ingester = Ingester(store, settings.bus, batch_size=batch_size)
    if not as_json:
        typer.echo(f"liqwatch ingest: {redact_url(settings.bus.url)} [{settings.bus.stream}/{settings.bus.consumer}] → {redact_url(getattr(store, 'path', target))}")
    task = asyncio.create_task(ingester.run(until_idle_s=until_idle))
    try:
        await _until_stopped(stop, lambda: f"ingest {ingester.stats()}", done=task)
    finally:
        ingester.stop()  # the batch in hand is stored and acknowledged; a store that hangs longer is given up on
        if not (await asyncio.wait({task}, timeout=_STOP_GRACE_S))[0]:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
    if as_json:
        print_json(ingester.stats())
    else:
        typer.echo(f"stopped; {ingester.stats()}")
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


def serve(
    config_path: ConfigOption = None,
    bus: BusOption = None,
    store: StoreOption = None,
    host: Annotated[
        str | None, typer.Option(help="dashboard address (default: \\[web] host, 127.0.0.1); any other than loopback needs \\[web] token")
    ] = None,
    port: Annotated[int | None, typer.Option(help="dashboard port (default: \\[web] port, 8000)")] = None,
    duration: DurationOption = None,
) -> None:
    """Serve the dashboard and API from the store, with live events from the bus; collects nothing."""
    settings = _settings(config_path, bus, web__host=host, web__port=port)  # the [web] token rule applies to --host too
    if not settings.bus.url:
        raise ConfigError("liqwatch serve needs a NATS server for live events: pass --bus nats://HOST:4222 or set [bus] url")
    setup_logging(settings.log.level)
    target = store or db_path(None, config_path)
    asyncio.run(_serve(settings, target, settings.web.host, settings.web.port, duration))


async def _serve(settings: config.Settings, target: str, host: str, port: int, duration: float | None) -> None:
    from liqwatch.roles.serve import ServeRole

    stop = _Stop(duration)
    store = await _open_store(target, stop, read_only=not is_postgres_url(target))
    if store is None:
        typer.echo("stopped before the store opened", err=True)
        return
    role = ServeRole(settings, target, store=store)
    if not await stop.until(role.start()):  # NATS unreachable: said once on stderr, retried until it answers
        await role.shutdown()
        typer.echo("stopped before NATS answered", err=True)
        return
    app = role.web_app()
    web: asyncio.Task[Any] | None = None
    if app is not None:
        import uvicorn

        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        web = asyncio.create_task(server.serve())
        typer.echo(f"liqwatch serve: http://{host}:{port} — store {role.status()['store']}, live from {redact_url(settings.bus.url)}")
    else:
        typer.echo(f"liqwatch serve: store {role.status()['store']}, live from {redact_url(settings.bus.url)} (no web app plugged in yet)")
    try:
        await _until_stopped(stop, lambda: f"serve: {role.received} live events, bus {role.bus.stats()['published']}")
    finally:
        if web is not None:
            web.cancel()
            await asyncio.gather(web, return_exceptions=True)
        await role.shutdown()


_STOP_GRACE_S = 3.0  # after a stop, how long the batch in hand may take before it is abandoned (JetStream redelivers)


class _Stop:
    """SIGINT, SIGTERM or --duration, watched from the start: connecting to the bus or the store never blocks them."""

    def __init__(self, duration: float | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                self.loop.add_signal_handler(sig, self.event.set)
        self.deadline = None if duration is None else self.loop.time() + duration

    def left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - self.loop.time())

    def is_set(self) -> bool:
        return self.event.is_set() or self.left() == 0.0

    async def wait(self, timeout_s: float) -> None:
        """Sleep `timeout_s`, or less when stopped."""
        left = self.left()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout_s if left is None else min(timeout_s, left))

    async def until(self, work: Awaitable[Any]) -> bool:
        """Run `work` until done (True; its exception is raised) or stopped first (False; it is cancelled)."""
        task = asyncio.ensure_future(work)
        waiter = asyncio.ensure_future(self.event.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self.left(), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False


async def _open_store(target: str, stop: _Stop, *, read_only: bool = False) -> EventStore | None:
    """Open the store, retrying while it cannot be reached (said once, and again when the reason changes); None if stopped."""
    from liqwatch.storage import open_store

    said, delay = "", 0.5
    while not stop.is_set():
        try:
            return await asyncio.to_thread(open_store, target, read_only=read_only)
        except StorageError as exc:
            if str(exc) != said:
                said = str(exc)
                logger.warning("cannot open the store: %s; retrying until it answers (Ctrl-C to stop)", exc)
        await stop.wait(delay)
        delay = min(delay * 2, 5.0)
    return None


async def _until_stopped(stop: _Stop, line: Callable[[], str], *, done: Awaitable[Any] | None = None, every_s: float = 10.0) -> None:
    last = stop.loop.time()
    while not stop.is_set():
        if isinstance(done, asyncio.Task) and done.done():
            return
        await stop.wait(0.2)
        if stop.loop.time() - last >= every_s:
            last = stop.loop.time()
            typer.echo(line())
