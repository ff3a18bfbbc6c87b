"""`liqwatch ingest`: NATS JetStream → the store through a durable consumer; assembled by roles/ingest.py."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from liqwatch import config
from liqwatch.cli._common import ConfigOption, JsonOption, db_path, print_json
from liqwatch.cli._scale_out import (
    STOP_GRACE_S,
    BusOption,
    DurationOption,
    Stop,
    StoreOption,
    open_store_retrying,
    scale_settings,
    until_stopped,
)
from liqwatch.errors import ConfigError
from liqwatch.logs import setup_logging
from liqwatch.redact import redact_url


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)


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
    settings = scale_settings(config_path, bus, bus__consumer=consumer)
    if not settings.bus.url:
        raise ConfigError("liqwatch ingest needs a NATS server: pass --bus nats://HOST:4222 or set [bus] url")
    if batch_size <= 0:
        raise ConfigError(f"--batch-size must be positive, was {batch_size}")
    setup_logging(settings.log.level)
    target = store or db_path(None, config_path)
    asyncio.run(_ingest(settings, target, batch_size, until_idle, duration, as_json))


async def _ingest(settings: config.Settings, target: str, batch_size: int, until_idle: float | None, duration: float | None, as_json: bool) -> None:
    from liqwatch.roles.ingest import Ingester

    stop = Stop(duration)
    store = await open_store_retrying(target, stop)
    if store is None:
        typer.echo("stopped before the store opened", err=True)
        return
    ingester = Ingester(store, settings.bus, batch_size=batch_size)
    if not as_json:
        typer.echo(f"liqwatch ingest: {redact_url(settings.bus.url)} [{settings.bus.stream}/{settings.bus.consumer}] → {redact_url(getattr(store, 'path', target))}")
    task = asyncio.create_task(ingester.run(until_idle_s=until_idle))
    try:
        await until_stopped(stop, lambda: f"ingest {ingester.stats()}", done=task)
    finally:
        ingester.stop()  # the batch in hand is stored and acknowledged; a store that hangs longer is given up on
        if not (await asyncio.wait({task}, timeout=STOP_GRACE_S))[0]:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
    if as_json:
        print_json(ingester.stats())
    else:
        typer.echo(f"stopped; {ingester.stats()}")
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
