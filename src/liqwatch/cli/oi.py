"""`liqwatch oi`: open interest per venue and total per coin, with 1h/4h/24h changes; `oi import-cme FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.analytics.open_interest import open_interest_between, open_interest_summary
from liqwatch.backfill.cme import ACCEPTED_COLUMNS_HELP, read_cme_file
from liqwatch.cli._common import DbOption, JsonOption, now, print_json, store, time_option
from liqwatch.errors import ConfigError

app = typer.Typer(
    help="Open interest comparable across venues: one-sided, in coin and USD, with changes.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def oi(
    ctx: typer.Context,
    coin: Annotated[str | None, typer.Option(help="only this base coin, e.g. BTC")] = None,
    at: Annotated[
        str | None, typer.Option(help="as of: ISO-8601 UTC or relative, e.g. 2h; default now")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="compare from this time (with --to)")] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="compare up to this time (with --from); default now")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show OI per venue (coin and USD) and its 1h/4h/24h change in USD and coin terms, or between --from and --to."""
    if ctx.invoked_subcommand is not None:
        return
    if from_ is None and to is not None:
        raise ConfigError(f"--to {to} needs --from: pass both, e.g. --from 2025-11-03T00:00:00Z --to {to}")
    if from_ is not None and at is not None:
        raise ConfigError(f"--at {at} cannot be combined with --from: use --from/--to, or --at alone")
    if from_ is not None:
        start = time_option(from_, "--from")
        end = time_option(to, "--to", default=now())
        assert start is not None and end is not None
        if start >= end:
            raise ConfigError(f"--from {from_} is not before --to {to or 'now'}: pass an earlier --from")
        result = open_interest_between(store(db), start=start, end=end, coin=coin)
    else:
        when = time_option(at, "--at", default=now())
        assert when is not None
        result = open_interest_summary(store(db), at=when, coin=coin)
    if as_json:
        print_json(result)
        return
    _print(result)


@app.command("import-cme")
def import_cme(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="CME daily volume & open-interest CSV")],
    db: DbOption = None,
) -> None:
    """Import CME BTC/ETH/MBT/MET futures open interest from CME's daily volume & OI CSV as end-of-day points.

    Multipliers: BTC 5 BTC, ETH 50 ETH, MBT 0.1 BTC, MET 0.1 ETH per contract; options rows are skipped.
    """
    events = read_cme_file(file)
    written = store(db, write=True).write(events).get("open_interest", 0)
    typer.echo(f"imported {len(events)} CME end-of-day OI points ({written} new) from {file}")


import_cme.__doc__ = f"{import_cme.__doc__}\n\n    Accepted columns: {ACCEPTED_COLUMNS_HELP}."


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"{unit}{value / div:,.2f}{suffix}"
    return f"{unit}{value:,.2f}"


def _pct(value: float | None) -> str:
    if value is None:
        return "-"
    style = "green" if value > 0 else "red" if value < 0 else ""
    text = f"{value:+.2%}"
    return f"[{style}]{text}[/]" if style else text


def _usd_cell(agg: dict[str, Any]) -> str:
    """The USD cell: marked `*` when it leaves out symbols that have no USD value (the note names them)."""
    cell = _num(agg["oi_usd"], "$")
    return f"{cell}*" if agg["symbols_without_usd"] and agg["oi_usd"] is not None else cell


def _row(name: str, agg: dict[str, Any], labels: list[str]) -> list[str]:
    if agg["end_of_day"] and agg["ts_newest"]:
        name = f"{name} (end-of-day {agg['ts_newest'][:10]})"
    if agg["stale_symbols"]:
        name = f"{name} [yellow]({agg['stale_symbols']} stale)[/]"
    cells = [name, _num(agg["oi_coin"]), _usd_cell(agg)]
    for label in labels:
        ch = agg["changes"][label]
        cells += [_pct(ch["usd_change"]), _pct(ch["coin_change"])]
    return cells


def change_note(label: str, ch: dict[str, Any]) -> str:
    """One line explaining a total's change; the USD = coin and price identity is shown on the same symbols."""
    if ch["coin_change"] is None:
        return f"{label}: no symbol present at both ends"
    on = f"{ch['symbols']} symbols on {ch['venues']} venues"
    if ch["price_change"] is None:
        return f"{label}: coin {_pct(ch['coin_change'])} ({on}; none valued in USD at both ends)"
    if ch["symbols_usd"] == ch["symbols"]:
        return (f"{label}: USD {_pct(ch['usd_change'])} = coin {_pct(ch['coin_change'])} and price "
                f"{_pct(ch['price_change'])} ({on})")
    return (f"{label}: coin {_pct(ch['coin_change'])} ({on}); on the {ch['symbols_usd']} symbols valued in USD at both "
            f"ends, USD {_pct(ch['usd_change'])} = coin {_pct(ch['coin_change_usd_symbols'])} and price "
            f"{_pct(ch['price_change'])}")


def _print(result: dict[str, Any]) -> None:
    console = Console()
    labels = list(result.get("windows") or ["change"])
    when = result.get("at") or f"{result['from']} → {result['to']}"
    if not result["coins"]:
        console.print(f"No open interest stored at or before {result.get('at') or result['to']}.")
        return
    for coin, data in result["coins"].items():
        table = Table(title=f"{coin} open interest (one-sided) at {when}")
        table.add_column("venue")
        table.add_column(f"OI {coin}", justify="right")
        table.add_column("OI USD", justify="right")
        for label in labels:
            table.add_column(f"{label} USD", justify="right")
            table.add_column(f"{label} {coin}", justify="right")
        for venue, agg in data["venues"].items():
            table.add_row(*_row(venue, agg, labels))
        table.add_row(*_row("[bold]total[/]", data["total"], labels), end_section=True)
        console.print(table)
        total = data["total"]
        notes = [change_note(label, total["changes"][label]) for label in labels]
        console.print("  " + "\n  ".join(notes))
        if total["symbols_without_usd"]:
            console.print(
                f"  [yellow]* the USD total leaves out {total['symbols_without_usd']} symbols with no USD value "
                f"(no price found) on {', '.join(total['venues_without_usd'])}; the coin total includes them.[/]"
            )
