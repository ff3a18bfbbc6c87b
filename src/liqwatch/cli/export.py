"""`liqwatch export`: any event table (or the minute rollup) to Parquet or CSV for other tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqwatch.cli._common import DbOption, store, time_option, write_out
from liqwatch.errors import ConfigError
from liqwatch.storage.duckdb_market import EXPORTABLE
from liqwatch.venues import get_venue


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    table: Annotated[str, typer.Argument(metavar="TABLE", help=f"one of: {', '.join(EXPORTABLE)}")],
    out: Annotated[Path, typer.Option("--out", "-o", help="file to write")],
    since: Annotated[str | None, typer.Option(help="start (exclusive): ISO-8601 UTC or relative, e.g. 7d")] = None,
    until: Annotated[str | None, typer.Option(help="end (inclusive): ISO-8601 UTC or relative; default: no end")] = None,
    coin: Annotated[str | None, typer.Option(help="only this base coin")] = None,
    venue: Annotated[str | None, typer.Option(help="only this venue")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    db: DbOption = None,
) -> None:
    """Export a table to Parquet or CSV: rows with since < ts_event <= until, oldest first, times in epoch ns."""
    fmt = fmt.lower()
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"--format {fmt!r}: use parquet or csv")
    if table not in EXPORTABLE:
        raise ConfigError(f"unknown table {table!r}; tables: {', '.join(EXPORTABLE)}")
    if venue is not None:
        get_venue(venue)  # an unknown venue is an error, not an empty file
    arrow = store(db).arrow(  # type: ignore[attr-defined]
        table, since=time_option(since, "--since"), until=time_option(until, "--until"), coin=coin, venue=venue
    )
    if fmt == "parquet":
        import pyarrow.parquet as pq

        write_out(out, lambda p: pq.write_table(arrow, p))
    else:
        import pyarrow.csv as pcsv

        write_out(out, lambda p: pcsv.write_csv(arrow, p))
    typer.echo(f"wrote {arrow.num_rows:,} {table} rows to {out}")
