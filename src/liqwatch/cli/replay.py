"""`liqwatch replay FILE…`: recorded frames through the same parse → store path as live data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.cli._common import DbOption, JsonOption, print_json, store
from liqwatch.errors import ConfigError
from liqwatch.roles.replay import replay_files
from liqwatch.venues import get_venue


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def replay(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="JSON Lines recordings (raw/raw_b64 + recv_ts per line)")],
    venue: Annotated[str | None, typer.Option(help="venue of every file; default: from each file name's prefix")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Parse recorded frames and store the events; instruments files (*.rest_instruments.jsonl) are imported first."""
    if venue:
        get_venue(venue)
    folders = [str(f) for f in files if f.is_dir()]
    if folders:
        raise ConfigError(f"{', '.join(folders)}: a folder; pass the recorded files in it (e.g. {folders[0]}/*.jsonl)")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(f"no such file: {', '.join(missing)}")
    target = store(db, write=True)
    try:
        reports = replay_files(target, files, venue)
    finally:
        target.close()
    if as_json:
        print_json(reports)
    else:
        _print(reports)
    unparsed = [r for r in reports if _nothing_parsed(r)]
    if unparsed and len(unparsed) == len(reports):  # every frame failed to parse: not a recording liqwatch reads
        names = ", ".join(Path(r["file"]).name for r in unparsed)
        typer.echo(f"error: nothing in {names} parsed ({sum(r['frames'] for r in unparsed)} frames malformed or of "
                   "unknown kinds): is it a recording of that venue (--venue)?", err=True)
        raise typer.Exit(1)


def _nothing_parsed(report: dict[str, Any]) -> bool:
    skipped = report["skipped"]
    return bool(report["frames"]) and not report["events"] and set(skipped) <= {"malformed", "unknown_message"} \
        and sum(skipped.values()) == report["frames"]


def _print(reports: list[dict[str, Any]]) -> None:
    table = Table(title="replay")
    for col in ("file", "venue", "frames", "events", "stored", "duplicates", "skipped"):
        table.add_column(col, justify="left" if col in ("file", "venue", "skipped") else "right")
    totals: Counter[str] = Counter()
    for r in reports:
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(r["skipped"].items())) or "-"
        stored = ", ".join(f"{k} {v}" for k, v in sorted(r["stored"].items()) if v) or "0"
        table.add_row(Path(r["file"]).name, r["venue"], str(r["frames"]), str(r["events"]), stored, str(r["duplicates"]), skipped)
        totals.update(r["stored"])
    console = Console()
    console.print(table)
    console.print("stored: " + (", ".join(f"{v} {k}" for k, v in sorted(totals.items())) or "nothing"))
    dead = sum(int(r.get("dead_letters", 0)) for r in reports)
    if dead:
        console.print(f"[yellow]dead letters:[/] {dead} event(s) the store refused, kept with the reason in its dead_letters table")
    hints = {h for r in reports for h in r.get("hints", [])}
    for hint in sorted(hints):
        console.print(f"[yellow]hint:[/] {hint}")
