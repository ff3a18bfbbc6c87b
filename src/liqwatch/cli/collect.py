"""`liqwatch collect`: venues (or recorded files) → NATS JetStream; assembled by roles/collect.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from liqwatch import config
from liqwatch.cli._common import ConfigOption, JsonOption, print_json
from liqwatch.cli._scale_out import (
    BusOption,
    DurationOption,
    Stop,
    scale_settings,
    until_stopped,
)
from liqwatch.errors import ConfigError
from liqwatch.logs import setup_logging
from liqwatch.redact import redact_url


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


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
    settings = scale_settings(config_path, bus, feeds__venues=names or None, feeds__coins=coin or None)
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

    stop = Stop(duration)
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
        await until_stopped(stop, line)
    finally:
        await collector.shutdown()
        typer.echo(f"stopped; bus {collector.publisher.stats()}")
