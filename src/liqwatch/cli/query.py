"""`liqwatch liquidations` and `liqwatch stats`: read the store, print JSON or a table."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from liqwatch.analytics.metrics import liquidation_stats
from liqwatch.cli._common import DbOption, JsonOption, duration_option, now, print_json, store, time_option
from liqwatch.model.time import ns_to_iso

PAGE = 50  # rows the table shows without --limit


def register(app: typer.Typer) -> None:
    app.command("liquidations")(liquidations)
    app.command("stats")(stats)


def liquidations(
    since: Annotated[str | None, typer.Option(help="start (exclusive): ISO-8601 UTC or relative, e.g. 24h")] = None,
    until: Annotated[str | None, typer.Option(help="end (inclusive): ISO-8601 UTC or relative; default now")] = None,
    venue: Annotated[str | None, typer.Option(help="only this venue, e.g. bybit")] = None,
    coin: Annotated[str | None, typer.Option(help="only this base coin, e.g. BTC")] = None,
    min_usd: Annotated[float | None, typer.Option("--min-usd", help="only liquidations of at least this USD notional")] = None,
    limit: Annotated[
        int | None, typer.Option(help=f"at most this many rows, oldest first (default: the table shows the newest {PAGE}, --json all)")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List stored liquidations, oldest first (JSON Lines with --json)."""
    if venue:
        from liqwatch.venues import get_venue

        get_venue(venue)
    start, end = time_option(since, "--since"), time_option(until, "--until")  # bad input first, then the store
    rows = store(db).liquidations(
        since=start,
        until=end,
        venue=venue,
        coin=coin,
        min_usd=min_usd,
        limit=limit,
    )
    if as_json:
        for row in rows:
            print_json({**row, "ts": ns_to_iso(row["ts_event"])})
        return
    hidden = 0
    if limit is None and len(rows) > PAGE:
        hidden, rows = len(rows) - PAGE, rows[-PAGE:]
    table = Table(title=f"{len(rows)} liquidations" + (f" (the newest {PAGE} of {len(rows) + hidden:,})" if hidden else ""))
    for col in ("time (UTC)", "venue", "symbol", "side", "price", "quantity", "USD"):
        table.add_column(col, justify="right" if col in ("price", "quantity", "USD") else "left")
    for r in rows:
        style = "red" if r["position_side"] == "long" else "green"
        table.add_row(
            ns_to_iso(r["ts_event"]),
            r["venue"],
            r["symbol"],
            f"[{style}]{r['position_side']}[/]",
            f"{r['price']:,.6g}",
            f"{r['quantity']:,.6g}",
            f"{r['notional_usd']:,.0f}",
        )
    console = Console()
    console.print(table)
    if hidden:
        console.print(f"{hidden:,} older liquidations not shown: --limit N lists the oldest N, --since narrows the window, "
                      "--json lists all")


def stats(
    window: Annotated[str, typer.Option(help="window length: 1h, 4h, 12h, 24h, 7d …")] = "24h",
    at: Annotated[str | None, typer.Option(help="window end: ISO-8601 UTC or relative; default now")] = None,
    coin: Annotated[str | None, typer.Option(help="only this base coin, e.g. BTC")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Total liquidations over a window: longs/shorts, by coin and venue, the largest one, with coverage."""
    until = time_option(at, "--at", default=now())
    assert until is not None
    since = until - duration_option(window, "--window")  # bad input first, then the store
    result = liquidation_stats(store(db), since=since, until=until, coin=coin)
    result["window"] = window
    if as_json:
        print_json(result)
        return
    _print_stats(result)


def _usd(value: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= div:
            return f"${value / div:,.2f}{suffix}"
    return f"${value:,.0f}"


def _coverage_caption(cov: dict[str, Any]) -> str:
    lines = []
    if cov["connected_whole_window"]:
        lines.append(f"connected the whole window: {', '.join(cov['connected_whole_window'])}")
    if cov["with_gaps"]:
        gaps = ", ".join(f"{v} ({_duration(cov['connectivity'][v]['gap_s'])} down)" for v in cov["with_gaps"])
        lines.append(f"with gaps: {gaps}")
    if cov["no_status"]:
        lines.append(f"no connection status recorded: {', '.join(cov['no_status'])}")
    if cov["sampled"]:
        lines.append(f"sampled (lower bounds): {', '.join(cov['sampled'])}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    for div, suffix in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= div:
            return f"{seconds / div:.1f}{suffix}"
    return f"{seconds:.0f}s"


def _print_stats(s: dict[str, Any]) -> None:
    console = Console()
    share = f"{s['long_share']:.0%} longs" if s["long_share"] is not None else "no liquidations"
    console.print(
        f"[bold]Liquidations {s['window']}[/] ({s['since']} → {s['until']}): [bold]{_usd(s['total_usd'])}[/] "
        f"in {s['count']:,} events — longs {_usd(s['long_usd'])}, shorts {_usd(s['short_usd'])} ({share})"
    )
    for title, key in (("by coin", "by_coin"), ("by venue", "by_venue"), ("by margin", "by_margin")):
        if not s[key]:
            continue
        table = Table(title=title, caption=_coverage_caption(s["coverage"]) if key == "by_venue" else None)
        for col in (title.split()[1], "total", "longs", "shorts", "long share", "count"):
            table.add_column(col, justify="left" if col in ("coin", "venue", "margin") else "right")
        for name, b in s[key].items():
            table.add_row(
                name,
                _usd(b["total_usd"]),
                _usd(b["long_usd"]),
                _usd(b["short_usd"]),
                f"{b['long_share']:.0%}" if b["long_share"] is not None else "-",
                f"{b['count']:,}",
            )
        console.print(table)
    if s["top"]:
        top = Table(title=f"largest {len(s['top'])}")
        for col in ("time (UTC)", "venue", "market", "side", "price", "USD"):
            top.add_column(col, justify="right" if col in ("price", "USD") else "left")
        for r in s["top"]:
            style = "red" if r["position_side"] == "long" else "green"
            top.add_row(r["ts"], Text(str(r["venue"])), Text(str(r["market"])), Text(str(r["position_side"]), style),
                        f"{r['price']:,.6g}", _usd(r["notional_usd"]))
        console.print(top)
    cov = s["coverage"]
    if cov["sampled"]:
        console.print(
            f"[yellow]Coverage: {', '.join(cov['sampled'])} publish sampled liquidations: totals are lower bounds.[/]"
        )
    if cov["outages"]:
        down = ", ".join(f"{v} ({n} outage{'s' if n > 1 else ''})" for v, n in cov["outages"].items())
        console.print(f"[yellow]Gaps in the window: {down}.[/]")
