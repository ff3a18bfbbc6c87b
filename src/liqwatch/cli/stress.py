"""`liqwatch stress`: modelled USD liquidated if price goes to a target, per venue, with an optional cascade."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.cli._common import DbOption, JsonOption, duration_option, now, print_json, time_option
from liqwatch.cli.heatmap import (
    CoinOption,
    EntryOption,
    LeveragesOption,
    MmrOption,
    SplitOption,
    VenueOption,
    WeightsOption,
    assumptions,
    sql_store,
)
from liqwatch.errors import ConfigError

DEFAULT_IMPACT = 0.0003  # 0.03% per USD 1M: the order of BTC perp depth within 1% (tens of millions), an assumption


def parse_move(text: str) -> float:
    """Parse a move such as -5%, +3% or -0.05 to a fraction."""
    t = text.strip()
    try:
        return float(t[:-1]) / 100.0 if t.endswith("%") else float(t)
    except ValueError:
        raise ConfigError(f"--move {text!r} is not a move; use e.g. -5% or +3%") from None


def stress_cmd(
    coin: CoinOption = "BTC",
    to: Annotated[float | None, typer.Option("--to", help="target price")] = None,
    move: Annotated[str | None, typer.Option("--move", help="target as a move from the price, e.g. -5% (write --move=-5%)")] = None,
    cascade: Annotated[bool, typer.Option("--cascade", help="feed forced orders back into price (see --impact)")] = False,
    impact: Annotated[float, typer.Option("--impact", help="price move (fraction) per USD 1M of forced orders")] = DEFAULT_IMPACT,
    at: Annotated[str | None, typer.Option("--at", help="map as of (ISO-8601 UTC or relative); default now")] = None,
    lookback: Annotated[str, typer.Option("--lookback", help="history the map is built from")] = "7d",
    venue: VenueOption = None,
    leverages: LeveragesOption = None, weights: WeightsOption = None, mmr: MmrOption = None,
    entry: EntryOption = None, split: SplitOption = None,
    as_json: JsonOption = False, db: DbOption = None,
) -> None:
    """Estimate the long (down) or short (up) USD liquidated between the price and --to / --move, per venue."""
    from liqwatch.analytics.stress import stress, target_from_move
    from liqwatch.heatmap import current_map

    if (to is None) == (move is None):
        raise ConfigError("pass exactly one of --to PRICE or --move PCT, e.g. --to 100000 or --move=-5%")
    when = time_option(at, "--at", default=now())
    assert when is not None
    a = assumptions(leverages, weights, mmr, entry, split)
    m = current_map(sql_store(db), coin=coin, at=when, lookback_ns=duration_option(lookback, "--lookback"),
                    venue=venue, assumptions=a)
    if m.get("empty") and not m.get("price"):
        raise ConfigError(f"no map for {coin.upper()} at {m.get('at')}: store candles and open interest first")
    target = to if to is not None else target_from_move(float(m["price"]), parse_move(move or "0"))
    r = stress(m, target, impact if cascade else 0.0)
    if as_json:
        print_json(r)
        return
    _print(r)


def _usd(v: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"${v / div:,.2f}{suffix}"
    return f"${v:,.0f}"


def _print(r: dict[str, Any]) -> None:
    console = Console()
    t = Table(title=f"{r['coin']} {r['price']:,.2f} → {r['target']:,.2f} ({r['move']:+.2%}): modelled {r['side']} "
                    f"liquidations")
    t.add_column("venue")
    t.add_column("USD", justify="right")
    for venue, usd in r["venues"].items():
        t.add_row(venue, _usd(usd))
    t.add_row("[bold]total[/]", _usd(r["total_usd"]))
    console.print(t)
    if r["range"]:
        rng = r["range"]
        console.print(f"  range across leverage priors: {_usd(rng['low_usd'])} – {_usd(rng['high_usd'])} ("
                      + ", ".join(f"{k} {_usd(v)}" for k, v in rng["scenarios"].items()) + ")")
    c = r["cascade"]
    if c:
        span = c["final_price_range"]
        console.print(
            f"  cascade at {r['impact_per_musd']:.4%} per $1M: price {c['final_price']:,.2f} ({c['move']:+.2%}), "
            f"{_usd(c['total_usd'])} liquidated (+{_usd(c['extra_usd'])}); final price across priors "
            f"{span[0]:,.2f} – {span[1]:,.2f}"
            + (" [yellow](runaway: capped at ±50%; the impact is too large for these modelled totals)[/]"
               if c["runaway"] else "" if c["converged"] else " [yellow](did not converge)[/]")
        )
    console.print(f"  [dim]{r['caveat']}[/]")


def register(app: typer.Typer) -> None:
    """Add `stress`."""
    app.command("stress")(stress_cmd)
