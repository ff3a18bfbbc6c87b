"""`liqwatch backfill`: fetch history from the venues' REST endpoints into the store (resumable, idempotent)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liqwatch.backfill import KINDS
from liqwatch.backfill.runner import BackfillReport, BackfillRunner
from liqwatch.cli._common import (
    ConfigOption,
    DbOption,
    JsonOption,
    db_path,
    print_json,
    settings,
    time_option,
)
from liqwatch.errors import ConfigError, LiqwatchError
from liqwatch.model.time import now_ns
from liqwatch.storage.duckdb_store import DuckDBStore


def register(app: typer.Typer) -> None:
    app.command("backfill")(backfill)


def backfill(
    since: Annotated[str, typer.Option(help="start: ISO-8601 UTC or relative (7d = seven days ago)")] = "7d",
    until: Annotated[str | None, typer.Option(help="end: ISO-8601 UTC or relative; default now")] = None,
    venue: Annotated[list[str] | None, typer.Option(help="venue(s) to backfill; default every venue")] = None,
    coin: Annotated[list[str] | None, typer.Option(help="base coin(s), e.g. BTC; default: the config's feeds coins, else all")] = None,
    what: Annotated[str, typer.Option(help="comma-separated: liquidations,open_interest,candles")] = ",".join(KINDS),
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Backfill liquidations, open interest and candles from REST history; re-running resumes and stores nothing twice."""
    kinds = [k.strip() for k in what.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ConfigError(f"--what: unknown kind(s) {', '.join(bad) or '(none)'}; choose from {', '.join(KINDS)}")
    start = time_option(since, "--since")
    end = time_option(until, "--until", now_ns())
    if start is None or end is None or start >= end:
        raise ConfigError("--since must be before --until")
    cfg = settings(config)
    rest_urls = {name: vs.rest_url for name, vs in cfg.venues.items() if vs.rest_url}
    path = db_path(db, config)
    if "://" in path and not path.startswith("duckdb://"):
        raise ConfigError("backfill needs a DuckDB store (its progress table lives there)")
    store = DuckDBStore(path.removeprefix("duckdb://"))
    try:
        runner = BackfillRunner(
            store, since_ns=start, until_ns=end, venues=venue or None, kinds=kinds,
            coins=coin or cfg.feeds.coins or None, rest_urls=rest_urls,
        )
        report = asyncio.run(runner.run())
    finally:
        store.close()
    _print(report, as_json)
    if not report.ok:
        raise LiqwatchError("some backfill jobs failed; run the same command again to resume them")


def _print(report: BackfillReport, as_json: bool) -> None:
    if as_json:
        print_json({"jobs": report.jobs, "unavailable": [{"venue": v, "kind": k, "reason": r} for v, k, r in report.unavailable]})
        return
    table = Table(title="backfill")
    for col in ("venue", "kind", "symbols", "pages", "events", "new rows", "errors"):
        table.add_column(col)
    groups: dict[tuple[str, str], list[int]] = {}
    for j in report.jobs:
        g = groups.setdefault((j.venue, j.kind), [0, 0, 0, 0, 0])
        g[0] += 1
        g[1] += j.pages
        g[2] += j.events
        g[3] += j.stored
        g[4] += bool(j.error)
    for (v, k), (n, pages, events, stored, errors) in groups.items():
        table.add_row(v, k, str(n), str(pages), str(events), str(stored), str(errors))
    console = Console()
    console.print(table)
    for j in report.jobs:
        if j.error:
            console.print(f"[red]{j.venue} {j.kind} {j.symbol}[/red]: {escape(str(j.error))}")
        if j.rejected:
            console.print(
                f"[yellow]{j.venue} {j.kind} {j.symbol}[/yellow]: skipped {j.rejected} event(s) out of range, "
                f"the rest of their pages stored; first: {escape(j.rejected_detail)}"
            )
    if report.unavailable:
        console.print("no history available:")
        for v, k, r in report.unavailable:
            console.print(f"  {v} {k}: {r}")


__all__ = ["backfill", "register"]

