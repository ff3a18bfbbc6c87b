"""`liqwatch serve`: the dashboard and API from the store, live events from NATS; assembled by roles/serve.py."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from liqwatch import config
from liqwatch.cli._common import ConfigOption, db_path
from liqwatch.cli._scale_out import (
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
from liqwatch.storage import is_postgres_url


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


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
    settings = scale_settings(config_path, bus, web__host=host, web__port=port)  # the [web] token rule applies to --host too
    if not settings.bus.url:
        raise ConfigError("liqwatch serve needs a NATS server for live events: pass --bus nats://HOST:4222 or set [bus] url")
    setup_logging(settings.log.level)
    target = store or db_path(None, config_path)
    asyncio.run(_serve(settings, target, settings.web.host, settings.web.port, duration))


async def _serve(settings: config.Settings, target: str, host: str, port: int, duration: float | None) -> None:
    from liqwatch.roles.serve import ServeRole

    stop = Stop(duration)
    store = await open_store_retrying(target, stop, read_only=not is_postgres_url(target))
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
        await until_stopped(stop, lambda: f"serve: {role.received} live events, bus {role.bus.stats()['published']}")
    finally:
        if web is not None:
            web.cancel()
            await asyncio.gather(web, return_exceptions=True)
        await role.shutdown()
