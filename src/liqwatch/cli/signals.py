"""`liqwatch signals`: recent signals with the inputs that made them fire; `--evaluate` runs the rules first."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.analytics.signals import evaluate_and_store, recent_signals
from liqwatch.cli._common import (
    ConfigOption,
    DbOption,
    JsonOption,
    duration_option,
    now,
    print_json,
    settings,
    store,
    time_option,
)
from liqwatch.model.time import ns_to_iso


def register(app: typer.Typer) -> None:
    app.command("signals")(signals)


def signals(
    window: Annotated[str, typer.Option(help="how far back: 1h, 24h, 7d …")] = "24h",
    at: Annotated[str | None, typer.Option(help="window end: ISO-8601 UTC or relative; default now")] = None,
    coin: Annotated[str | None, typer.Option(help="only this base coin")] = None,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="first evaluate the rules ([signals] config) on the window's closed bars and store what fires")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List signals that fired in the window, newest first (JSON Lines with --json, inputs included)."""
    until = time_option(at, "--at", default=now())
    assert until is not None
    since = until - duration_option(window, "--window")
    st = store(db, config)
    if evaluate:
        cfg = settings(config)
        new = evaluate_and_store(st, cfg.signals, since=since, until=min(until, now()), ts_recv=now(), price_venues=cfg.analytics.price_venues)
        if not as_json:
            typer.echo(f"evaluated the closed {cfg.signals.timeframe} bars: {len(new)} new signals")
    rows = recent_signals(st, since=since, until=until, coin=coin)
    if as_json:
        for r in rows:
            print_json(r)
        return
    if not rows:
        typer.echo(f"No signals between {ns_to_iso(since)} and {ns_to_iso(until)}.")
        return
    table = Table(title=f"{len(rows)} signals")
    for col in ("bar close (UTC)", "kind", "coin", "tf", "direction", "message"):
        table.add_column(col)
    for r in rows:
        style = {"bearish": "red", "bullish": "green"}.get(r["direction"], "")
        table.add_row(r["ts"], r["kind"], r["coin"], r["timeframe"], f"[{style}]{r['direction']}[/]" if style else r["direction"], r["message"])
    Console().print(table)
