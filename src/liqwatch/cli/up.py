"""`liqwatch up`: collectors, writer and a live summary in one process."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from liqwatch.analytics.text import counts
from liqwatch.cli._common import ConfigOption, DbOption, settings, stop_on_signals
from liqwatch.config import Settings
from liqwatch.logs import logs_through, setup_logging
from liqwatch.model.time import NS_PER_S, now_ns


def register(app: typer.Typer) -> None:
    app.command("up")(up)


def up(
    config_path: ConfigOption = None,
    db: DbOption = None,
    venue: Annotated[list[str] | None, typer.Option("--venue", help="collect only from this venue (repeatable)")] = None,
    coin: Annotated[list[str] | None, typer.Option("--coin", help="collect only this base coin (repeatable)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")] = None,
    view: Annotated[bool, typer.Option(help="show the live summary (off: print a status line every 10 s)")] = True,
    web: Annotated[bool | None, typer.Option(help="serve the dashboard and API (default: the web.enabled setting, on)")] = None,
    port: Annotated[int | None, typer.Option(help="dashboard port (default: the web.port setting, 8000)")] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="also write every received frame and REST body to this directory (as `liqwatch record`)")
    ] = None,
) -> None:
    """Collect liquidations, open interest, funding and candles from every venue into the store, and show a summary."""
    base = settings(config_path)
    overrides: dict[str, Any] = {}
    if venue:
        overrides["feeds__venues"] = venue
    if coin:
        overrides["feeds__coins"] = coin
    if web is not None:
        overrides["web__enabled"] = web
    if port is not None:
        overrides["web__port"] = port
    if overrides:
        from liqwatch import config

        base = config.load(config_path, **overrides)
    setup_logging(base.log.level)
    asyncio.run(_run(base, str(db) if db else None, duration, view and sys.stdout.isatty(), record))


async def _run(settings: Settings, db: str | None, duration: float | None, live_view: bool, record: Path | None = None) -> None:
    from liqwatch.roles.up import App, freeze_startup_heap

    app = App(settings, db=db, record_dir=record)
    await app.start()
    freeze_startup_heap()
    stop = stop_on_signals()
    loop = asyncio.get_running_loop()
    console = Console()
    recording = f", recording to {record}" if record is not None else ""
    console.print(f"liqwatch up: {len(app.feeds)} venues → {escape(str(app.db))}{escape(recording)}  (Ctrl-C to stop)")
    if app.web is not None:
        console.print(f"dashboard: {app.web.url}/  API: {app.web.url}/api/openapi.json  metrics: {app.web.url}/metrics")
    elif app.web_error:
        console.print(f"[yellow]dashboard off: {escape(app.web_error)}[/]")
    deadline = None if duration is None else loop.time() + duration
    try:
        if live_view:
            with logs_through(console), Live(_render(app), console=console, refresh_per_second=1) as live:
                while not stop.is_set() and (deadline is None or loop.time() < deadline):
                    await _sleep(stop, 1.0)
                    _flush_recording(app, console)
                    live.update(_render(app))
        else:
            last = 0.0
            while not stop.is_set() and (deadline is None or loop.time() < deadline):
                await _sleep(stop, 0.5)
                _flush_recording(app, console)
                if loop.time() - last >= 10 or (deadline is not None and loop.time() >= deadline):
                    last = loop.time()
                    console.print(Text(_status_line(app)))
    finally:
        await app.shutdown()
        console.print(f"stopped; stored {counts(dict(app.writer.stored))}")
        if app.recorder is not None:
            lines = app.recorder.counts
            console.print(f"recorded {sum(lines.values())} lines in {len(lines)} files under {app.recorder.directory}")


def _flush_recording(app: Any, console: Console) -> None:
    """Flush the recording files; on a disk error say so once and keep collecting into the store."""
    recorder = app.recorder
    if recorder is None:
        return
    recorder.flush()
    if recorder.error and not recorder.error_reported:
        recorder.error_reported = True
        console.print(f"[red]error:[/] {escape(str(recorder.error))} — collection into the store continues")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _status_line(app: Any) -> str:
    status = app.status()
    parts = []
    for name, f in status["feeds"].items():
        text = f"{name}: {f['state']}"
        if f["state"] != "connected" and f["detail"]:
            text += f" ({f['detail']})"
        parts.append(text)
    alerts = status.get("alerts")
    fired = f" | alerts fired {alerts['fired']}" if alerts else ""
    return f"[{status['uptime_s']:.0f}s] stored {counts(dict(app.writer.stored))}{fired} | " + "; ".join(parts)


def _render(app: Any) -> Group:
    status = app.status()
    table = Table(title=f"liqwatch — {status['db']} — up {status['uptime_s']:.0f} s")
    for col in ("venue", "state", "sockets", "events", "skipped", "reconnects", "detail"):
        table.add_column(col)
    colours = {"connected": "green", "degraded": "yellow", "starting": "cyan", "unreachable": "red"}
    for name, f in status["feeds"].items():
        table.add_row(
            name,
            f"[{colours.get(f['state'], 'white')}]{f['state']}[/]",
            f"{f['connected']}/{f['sockets']}",
            f"{f['events']:,}",
            f"{f['skipped']:,}",
            str(f["reconnects"]),
            Text(str(f["detail"])[:70]),
        )
    totals = Table(title="liquidations stored (by ts_event)")
    for col in ("window", "total", "longs", "shorts", "count"):
        totals.add_column(col)
    until = now_ns()
    with app.writer.lock:
        for label, hours in (("1h", 1), ("24h", 24)):
            t = app.store.liquidation_totals(since=until - hours * 3600 * NS_PER_S, until=until)[0]
            totals.add_row(
                label,
                f"${t['long_usd'] + t['short_usd']:,.0f}",
                f"${t['long_usd']:,.0f}",
                f"${t['short_usd']:,.0f}",
                f"{t['long_count'] + t['short_count']:,}",
            )
    w = status["writer"]
    footer = Text(f"stored: {counts(dict(w['stored']))} · queue {w['queue_depth']:,} · write errors {w['errors']:,}")
    return Group(table, totals, footer)
