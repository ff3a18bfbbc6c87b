"""`liqwatch heatmap`, `liqwatch heatmap calibrate` and `liqwatch map`: the modelled liquidation levels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.cli._common import (
    DbOption,
    JsonOption,
    duration_option,
    now,
    print_json,
    settings,
    store,
    time_option,
    write_out,
)
from liqwatch.errors import ConfigError, LiqwatchError, StorageError

if TYPE_CHECKING:  # the model pulls in numpy: imported when a command runs, not at CLI start
    from liqwatch.heatmap.assumptions import Assumptions
    from liqwatch.heatmap.series import SqlStore

CoinOption = Annotated[str, typer.Option("--coin", help="base coin, e.g. BTC")]
def _known_venue(name: str | None) -> str | None:
    """Refuse an unknown --venue (one line, exit 2) instead of drawing an empty model."""
    if name is not None:
        from liqwatch.venues import get_venue

        get_venue(name)
    return name


VenueOption = Annotated[str | None, typer.Option("--venue", help="only this venue (default: every venue, aggregated)",
                                                 callback=_known_venue)]
LeveragesOption = Annotated[str | None, typer.Option("--leverages", help="leverage tiers (default [heatmap] leverages: 5,10,25,50,100)")]
WeightsOption = Annotated[str | None, typer.Option("--weights", help="tier weights, any scale (default [heatmap] weights: 15,30,25,20,10)")]
MmrOption = Annotated[float | None, typer.Option("--mmr", help="flat maintenance margin rate (default [heatmap] mmr: 0.005)")]
EntryOption = Annotated[str | None, typer.Option("--entry", help="entry-price proxy: vwap, typical or close")]
SplitOption = Annotated[str | None, typer.Option("--split", help="long/short split of new OI: clv or even")]
BucketOption = Annotated[float | None, typer.Option("--bucket", help="price bucket in USD (default: 0.1% of price)")]
HtmlOption = Annotated[Path | None, typer.Option("--html", help="write an HTML figure (plotly, offline)")]
PngOption = Annotated[Path | None, typer.Option("--png", help="write a PNG figure (kaleido + Chromium)")]


def floats(text: str | None, name: str) -> tuple[float, ...] | None:
    """Parse a comma-separated list of numbers."""
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"{name} {text!r} is not a comma-separated list of numbers, e.g. 5,10,25,50,100") from None


def assumptions(
    leverages: str | None = None, weights: str | None = None, mmr: float | None = None, entry: str | None = None,
    split: str | None = None, bucket: float | None = None,
) -> Assumptions:
    """Build the model's assumptions: the options, else the config's [heatmap] section (TOML or environment)."""
    from liqwatch.heatmap.assumptions import Assumptions, MarginBracket

    cfg = settings(None).heatmap
    levs = floats(leverages, "--leverages") or tuple(cfg.leverages)
    if weights is None and leverages is not None and len(levs) != len(cfg.weights):
        ws: tuple[float, ...] = tuple(1.0 for _ in levs)
    else:
        ws = floats(weights, "--weights") or tuple(cfg.weights)
    rate = cfg.mmr if mmr is None else mmr
    brackets: dict[str, tuple[MarginBracket, ...]] = {"*": (MarginBracket(max_notional_usd=float("inf"), rate=rate),)}
    source = f"flat {rate:.3%} ({'--mmr' if mmr is not None else '[heatmap] mmr'}); venue brackets are not loaded"
    return Assumptions(
        leverages=levs, weights=ws, entry_proxy=entry or cfg.entry_proxy, long_share=split or cfg.long_share,
        bucket_usd=bucket, brackets=brackets, mmr_source=source,
    ).validate()


def sql_store(db: str | Path | None) -> SqlStore:
    """Open the store (DuckDB or PostgreSQL); the heatmap and the study read it with SQL."""
    s = store(db)
    if not hasattr(s, "execute"):
        raise StorageError("the heatmap needs a SQL store (pass --db with a DuckDB file or a postgresql:// URL)")
    return cast("SqlStore", s)


def _usd(v: float | None) -> str:
    if v is None:
        return "-"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"${v / div:,.2f}{suffix}"
    return f"${v:,.0f}"


def _figure(kind: str, result: dict[str, Any], html: Path | None, png: Path | None) -> None:
    from liqwatch.heatmap import figure

    if result.get("empty") and not result.get("cells"):  # a blank chart would look like a calm market
        reason = result.get("reason") or ("no levels alive in the window" if kind == "heatmap" else f"none alive at {result.get('at')}")
        raise LiqwatchError(f"nothing to draw: no modelled liquidation levels for {result.get('coin')} ({reason}); no file written")
    fig = figure.heatmap_figure(result) if kind == "heatmap" else figure.map_figure(result)
    for path, option in ((html, "--html"), (png, "--png")):
        if path is not None:
            write_out(path, lambda p: figure.save(fig, p), option)
            typer.echo(f"wrote {path}")


heatmap_app = typer.Typer(help="Modelled liquidation heatmap (OI-delta model, assumptions published).",
                          invoke_without_command=True, no_args_is_help=False)


@heatmap_app.callback()
def heatmap(
    ctx: typer.Context,
    coin: CoinOption = "BTC",
    range_: Annotated[str, typer.Option("--range", help="window ending at --until: 24h, 7d, 30d …")] = "24h",
    until: Annotated[str | None, typer.Option("--until", help="end of the window (ISO-8601 UTC or relative); default now")] = None,
    venue: VenueOption = None,
    leverages: LeveragesOption = None, weights: WeightsOption = None, mmr: MmrOption = None,
    entry: EntryOption = None, split: SplitOption = None, bucket: BucketOption = None,
    html: HtmlOption = None, png: PngOption = None, as_json: JsonOption = False, db: DbOption = None,
) -> None:
    """Show the time × price heatmap of modelled liquidation levels; --html/--png draw it over the price candles."""
    if ctx.invoked_subcommand is not None:
        return
    from liqwatch.heatmap import heatmap_grid

    end = time_option(until, "--until", default=now())
    assert end is not None
    span = duration_option(range_, "--range")
    a = assumptions(leverages, weights, mmr, entry, split, bucket)
    result = heatmap_grid(sql_store(db), coin=coin, since=end - span, until=end, venue=venue, assumptions=a)
    if html or png:
        _figure("heatmap", result, html, png)
    if as_json:
        print_json(result)
    elif not (html or png):
        _print_grid(result)


def _print_grid(g: dict[str, Any]) -> None:
    console = Console()
    if g.get("empty") and not g.get("cells"):
        console.print(f"No modelled levels for {g['coin']} ({g.get('reason', 'no levels alive in the window')}).")
        return
    totals: dict[int, float] = {}
    for _, y, usd in g["cells"]:
        totals[y] = totals.get(y, 0.0) + usd
    top = sorted(totals.items(), key=lambda kv: -kv[1])[:10]
    t = Table(title=f"{g['coin']} heatmap {g['since'][:16]} → {g['until'][:16]} UTC: hottest price buckets "
                    f"(summed over {len(g['x_axis'])} columns of {g['column_s']}s)")
    t.add_column("price bucket", justify="right")
    t.add_column("USD·columns", justify="right")
    for y, usd in sorted(top, key=lambda kv: -g["y_axis"][kv[0]]):
        t.add_row(f"{g['y_axis'][y]:,.2f}–{g['y_axis'][y] + g['bucket']:,.2f}", _usd(usd))
    console.print(t)
    console.print(f"  reference {g['reference']}; use --html FILE or --png FILE for the picture, --json for the grid")


@heatmap_app.command("calibrate")
def calibrate_cmd(
    coin: CoinOption = "BTC",
    range_: Annotated[str, typer.Option("--range", help="history to check, ending at --until")] = "7d",
    until: Annotated[str | None, typer.Option("--until", help="end of the history; default now")] = None,
    horizon: Annotated[str, typer.Option("--horizon", help="how far ahead a prediction counts")] = "1h",
    tolerance: Annotated[float, typer.Option("--tolerance", help="zone width as a fraction of price")] = 0.005,
    leverages: LeveragesOption = None, weights: WeightsOption = None, mmr: MmrOption = None,
    entry: EntryOption = None, split: SplitOption = None,
    as_json: JsonOption = False, db: DbOption = None,
) -> None:
    """Compare predicted zones with realised liquidations (hit rate, recall per venue) and fit the tier weights."""
    from liqwatch.heatmap.calibrate import calibrate

    end = time_option(until, "--until", default=now())
    assert end is not None
    h = duration_option(horizon, "--horizon")
    a = assumptions(leverages, weights, mmr, entry, split)
    r = calibrate(sql_store(db), coin=coin, since=end - duration_option(range_, "--range"), until=end,
                  horizon_ns=h, step_ns=h, tolerance=tolerance, assumptions=a)
    if as_json:
        print_json(r)
        return
    console = Console()
    t = Table(title=f"{r['coin']} predicted zones vs realised liquidations, {r['since'][:16]} → {r['until'][:16]} UTC, "
                    f"horizon {r['horizon_s'] // 60}m")
    for col in ("venue", "weight", "zones", "hit rate", "realised", "recall"):
        t.add_column(col, justify="left" if col == "venue" else "right")
    for venue, v in r["venues"].items():
        t.add_row(venue, f"{v['weight']:g}", str(v["zones"]), _pct(v["hit_rate"]), _usd(v["realised_usd"]), _pct(v["recall"]))
    t.add_row("[bold]pooled[/]", "", "", _pct(r["pooled"]["hit_rate"]), "", _pct(r["pooled"]["recall"]))
    console.print(t)
    fit = r["fitted"]
    if fit:
        pairs = ", ".join(f"{lev:g}x {w:.0%}" for lev, w in zip(fit["leverages"], fit["weights"], strict=True))
        console.print(f"  fitted weights: {pairs} (R² {fit['r2'] if fit['r2'] is None else round(fit['r2'], 3)}, "
                      f"{fit['rows']} rows); pass them with --weights "
                      + ",".join(f"{w * 100:.1f}" for w in fit["weights"]))
        unfitted = [f"{lev:g}x" for lev, ok in zip(fit["leverages"], fit["identified"], strict=True) if not ok]
        if unfitted:
            console.print(f"  price never reached the {', '.join(unfitted)} levels: those keep the prior weight")
    else:
        console.print("  too few realised liquidations in predicted zones to fit weights")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def map_cmd(
    coin: CoinOption = "BTC",
    at: Annotated[str | None, typer.Option("--at", help="as of (ISO-8601 UTC or relative); default now")] = None,
    lookback: Annotated[str, typer.Option("--lookback", help="history the levels are built from")] = "7d",
    venue: VenueOption = None,
    leverages: LeveragesOption = None, weights: WeightsOption = None, mmr: MmrOption = None,
    entry: EntryOption = None, split: SplitOption = None, bucket: BucketOption = None,
    html: HtmlOption = None, png: PngOption = None, as_json: JsonOption = False, db: DbOption = None,
) -> None:
    """Show the current liquidation map: USD per price bucket and tier, cumulative curves, clusters, ±2%/±5%, max pain."""
    from liqwatch.heatmap import current_map

    when = time_option(at, "--at", default=now())
    assert when is not None
    a = assumptions(leverages, weights, mmr, entry, split, bucket)
    m = current_map(sql_store(db), coin=coin, at=when, lookback_ns=duration_option(lookback, "--lookback"),
                    venue=venue, assumptions=a)
    if html or png:
        _figure("map", m, html, png)
    if as_json:
        print_json(m)
    elif not (html or png):
        print_map(m)


def print_map(m: dict[str, Any]) -> None:
    """Print the map's summary table."""
    console = Console()
    if m.get("empty"):
        console.print(f"No modelled liquidation levels alive for {m['coin']} at {m.get('at')}.")
        return
    price = m["price"]
    t = Table(title=f"{m['coin']} liquidation map at {m['at'][:16]} UTC, price {price:,.2f} ({m['reference']}), "
                    f"modelled, relative")
    t.add_column("")
    t.add_column("longs (below)", justify="right")
    t.add_column("shorts (above)", justify="right")
    for label, w in m["within"].items():
        t.add_row(f"within ±{label}", _usd(w["long_usd"]), _usd(w["short_usd"]))
    t.add_row("total", _usd(m["long_usd"]), _usd(m["short_usd"]))
    for kind in ("nearest", "largest"):
        cells = [_cluster(m["clusters"][side][kind]) for side in ("long", "short")]
        t.add_row(f"{kind} cluster", *cells)
    pains = [m["max_pain"][s] for s in ("long", "short")]
    t.add_row("max pain", *[("-" if p is None else f"{p['price']:,.2f} ({_usd(p['cumulative_usd'])})") for p in pains])
    console.print(t)
    for venue, v in m["venues"].items():
        console.print(f"  {venue}: longs {_usd(v['long_usd'])}, shorts {_usd(v['short_usd'])}")
    tiers = ", ".join(f"{x['leverage']:g}x {x['share']:.0%}" for x in m["assumptions"]["tiers"])
    console.print(f"  [dim]tiers {tiers}; entry {m['assumptions']['entry_proxy']}; {m['assumptions']['mmr_source']}; "
                  f"bucket ${m['bucket']:g}[/]")


def _cluster(c: dict[str, Any] | None) -> str:
    return "-" if c is None else f"{c['price']:,.2f} {_usd(c['usd'])} ({c['distance']:+.1%})"


def register(app: typer.Typer) -> None:
    """Add `heatmap` (with `calibrate`) and `map`."""
    app.add_typer(heatmap_app, name="heatmap")
    app.command("map")(map_cmd)
