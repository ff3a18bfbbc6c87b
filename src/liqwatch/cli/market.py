"""`liqwatch price`, `liqwatch sessions`, `liqwatch funding`: price context, session split and funding from the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.analytics.funding import funding_summary
from liqwatch.analytics.price import day_start, price_context
from liqwatch.analytics.sessions import session_stats
from liqwatch.analytics.text import pct, price, share, usd
from liqwatch.cli._common import (
    ConfigOption,
    DbOption,
    JsonOption,
    now,
    print_json,
    settings,
    store,
    time_option,
)

CoinArg = Annotated[str, typer.Argument(metavar="COIN", help="base coin, e.g. BTC")]
AtOption = Annotated[str | None, typer.Option(help="as of: ISO-8601 UTC or relative, e.g. 2h; default now")]


def register(app: typer.Typer) -> None:
    app.command("price")(price_cmd)
    app.command("sessions")(sessions_cmd)
    app.command("funding")(funding_cmd)


def _at(at: str | None) -> int:
    when = time_option(at, "--at", default=now())
    assert when is not None
    return when


def price_cmd(coin: CoinArg = "BTC", at: AtOption = None, as_json: JsonOption = False, db: DbOption = None, config: ConfigOption = None) -> None:
    """Price, all-time high and drawdown, the UTC day's open/high/low/close, prior day's range and 24h change."""
    venues = settings(config).analytics.price_venues
    ctx = price_context(store(db, config), coin=coin, at=_at(at), venues=venues)
    if as_json:
        print_json(ctx)
        return
    if ctx["price"] is None:
        typer.echo(f"No {ctx['coin']} candles stored in the two days to {ctx['at']}.")
        return
    src = ctx["source"]
    lines = [
        f"{ctx['coin']} {price(ctx['price'])} at {ctx['price_ts']} ({src['venue']} {src['symbol']} 1m close); 24h {pct(ctx['change_24h_pct'])}",
        f"ATH {price(ctx['ath'])} on {str(ctx['ath_ts'])[:10]} (stored history from {str(ctx['ath_since'])[:10]}): drawdown {pct(ctx['drawdown_pct'])}",
        f"day {ctx['day']}: open {price(ctx['day_open'])} high {price(ctx['day_high'])} low {price(ctx['day_low'])} close {price(ctx['day_close'])}",
        f"prior day: high {price(ctx['prior_day_high'])} low {price(ctx['prior_day_low'])}",
    ]
    typer.echo("\n".join(lines))


def sessions_cmd(
    coin: Annotated[str | None, typer.Option(help="only this base coin (and its price per session)")] = None,
    at: Annotated[str | None, typer.Option(help="a time in the UTC day to split (default now)")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Liquidations and price by trading session (Asia, Europe, US; hours from the analytics.sessions setting) for one UTC day."""
    cfg = settings(config).analytics
    when = _at(at)
    result = session_stats(store(db, config), day=day_start(when), coin=coin, sessions=cfg.sessions, venues=cfg.price_venues, until=when)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"sessions on {result['day']}" + (f" ({result['coin']})" if coin else ""))
    for col in ("session", "UTC", "liquidated", "longs", "long share", "count", "open", "close", "change"):
        table.add_column(col, justify="left" if col in ("session", "UTC") else "right")
    for name, s in result["sessions"].items():
        table.add_row(
            name, f"{s['from'][11:16]}–{s['to'][11:16]}", usd(s["total_usd"]), usd(s["long_usd"]), share(s["long_share"]),
            f"{s['count']:,}", price(s.get("open")), price(s.get("close")), pct(s.get("change_pct")),
        )
    Console().print(table)


def funding_cmd(
    coin: Annotated[str | None, typer.Option(help="only this base coin")] = None,
    at: AtOption = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Funding per venue annualised, and its OI-weighted average per coin."""
    result = funding_summary(store(db), at=_at(at), coin=coin)
    if as_json:
        print_json(result)
        return
    console = Console()
    for c, block in result["coins"].items():
        table = Table(title=f"{c} funding at {result['at']}: OI-weighted {pct(block['weighted_annualised'], fraction=True)} annualised")
        for col in ("venue", "symbol", "rate", "interval", "annualised", "OI USD"):
            table.add_column(col, justify="left" if col in ("venue", "symbol") else "right")
        for s in block["symbols"]:
            table.add_row(
                s["venue"], s["symbol"], f"{s['funding_rate']:.4%}", f"{s['interval_s'] // 3600}h" + ("*" if s["interval_assumed"] else ""),
                pct(s["annualised"], fraction=True), usd(s["oi_usd"]) if s["oi_usd"] else "-",
            )
        console.print(table)
