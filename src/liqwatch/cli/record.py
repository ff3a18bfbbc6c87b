"""`liqwatch record`: connect like `liqwatch up` and write every received frame and REST body to JSON Lines files."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from liqwatch.cli._common import ConfigOption, DbOption, stop_on_signals
from liqwatch.config import Settings
from liqwatch.errors import LiqwatchError
from liqwatch.logs import setup_logging


def register(app: typer.Typer) -> None:
    app.command("record")(record)


def record(
    config_path: ConfigOption = None,
    venues: Annotated[
        list[str] | None, typer.Option("--venues", "--venue", help="venues to record, comma-separated or repeated (default: as `up`)")
    ] = None,
    coin: Annotated[list[str] | None, typer.Option("--coin", help="record only this base coin (repeatable)")] = None,
    out: Annotated[Path, typer.Option("--out", help="directory for the recordings (created if missing)")] = Path("recordings"),
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: run until Ctrl-C)")] = None,
    store_events: Annotated[bool, typer.Option("--store", help="also store the parsed events, as `liqwatch up` does")] = False,
    db: DbOption = None,
) -> None:
    """Record every websocket frame and REST body, per venue, as files `liqwatch replay` reads (PREFIX.YYYYMMDD.jsonl)."""
    base = load_settings(config_path, venues, coin)
    setup_logging(base.log.level)
    asyncio.run(_run(base, out, duration, store_events, str(db) if db else None))


def load_settings(config_path: Path | None, venues: list[str] | None, coin: list[str] | None) -> Settings:
    """Load the config with `up`'s overrides; `--venues a,b` and repeated options both work."""
    from liqwatch import config

    overrides: dict[str, Any] = {}
    names = [n.strip() for v in venues or [] for n in v.split(",") if n.strip()]
    if names:
        overrides["feeds__venues"] = names
    if coin:
        overrides["feeds__coins"] = coin
    return config.load(config_path, **overrides)


async def _run(settings: Settings, out: Path, duration: float | None, store_events: bool, db: str | None) -> None:
    from liqwatch.roles.record import RecordOnly
    from liqwatch.roles.up import App

    runner: App | RecordOnly = App(settings, db=db, record_dir=out) if store_events else RecordOnly(settings, out)
    recorder = runner.recorder
    assert recorder is not None
    await runner.start()
    stop = stop_on_signals()
    loop = asyncio.get_running_loop()
    console = Console()
    target = f" and {runner.db}" if isinstance(runner, App) else ""
    console.print(f"liqwatch record: {len(runner.feeds)} venues → {out}{target}  (Ctrl-C to stop)")
    deadline = None if duration is None else loop.time() + duration
    last = loop.time()
    try:
        while not stop.is_set() and (deadline is None or loop.time() < deadline) and not recorder.error:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            recorder.flush()
            if loop.time() - last >= 10:
                last = loop.time()
                console.print(status_line(runner.status()))
    finally:
        await runner.shutdown()
    lines = recorder.counts
    console.print(f"stopped; recorded {sum(lines.values())} lines in {len(lines)} files under {out}")
    for name in sorted(lines):
        console.print(f"  {name}: {lines[name]}")
    if recorder.error:
        raise LiqwatchError(recorder.error)


def status_line(status: dict[str, Any]) -> str:
    """One line: uptime, lines recorded, and each venue's state."""
    rec = status.get("recording") or {}
    recorded = sum(rec.get("lines", {}).values())
    parts = []
    for name, f in status["feeds"].items():
        text = f"{name}: {f['state']}"
        if f["state"] != "connected" and f["detail"]:
            text += f" ({f['detail']})"
        parts.append(text)
    return f"[{status['uptime_s']:.0f}s] recorded {recorded} lines | " + "; ".join(parts)
