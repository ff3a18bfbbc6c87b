"""`liqwatch study`: forward returns after liquidation clusters and OI flushes versus matched random times."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.cli._common import DbOption, JsonOption, duration_option, now, print_json, time_option
from liqwatch.cli.heatmap import CoinOption, sql_store
from liqwatch.errors import ConfigError

SIGNALS = ("long-cluster", "short-cluster", "oi-flush", "leverage-flush")


def study_cmd(
    signal: Annotated[str, typer.Option("--signal", help="long-cluster, short-cluster, oi-flush (= leverage-flush) or all")] = "long-cluster",
    coin: CoinOption = "BTC",
    horizons: Annotated[str, typer.Option("--horizons", help="forward-return horizons")] = "1h,4h,24h,72h",
    since: Annotated[str, typer.Option("--since", help="start of the history (ISO-8601 UTC or relative)")] = "365d",
    until: Annotated[str | None, typer.Option("--until", help="end of the history; default now")] = None,
    source: Annotated[str, typer.Option("--source", help="auto (signals table, else detect), signals or detect")] = "auto",
    min_gap: Annotated[str, typer.Option("--min-gap", help="merge occurrences closer than this")] = "4h",
    controls: Annotated[int, typer.Option("--controls", help="matched random times per occurrence")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="random seed (controls and bootstrap)")] = 0,
    as_json: JsonOption = False, db: DbOption = None,
) -> None:
    """Measure forward returns after each signal occurrence against matched random times (mean, median, hit rate, t, CI)."""
    from liqwatch.analytics.occurrences import candle_span, occurrences, price_series
    from liqwatch.analytics.study import event_study, sentence
    from liqwatch.model.time import ns_to_iso

    kinds = ["long-cluster", "short-cluster", "oi-flush"] if signal == "all" else [signal]
    if any(k not in SIGNALS for k in kinds):
        raise ConfigError(f"unknown signal {signal!r}; use one of {', '.join(SIGNALS)} or all")
    if source not in ("auto", "signals", "detect"):
        raise ConfigError(f"--source {source!r} is unknown; use auto, signals or detect")
    labels = [h.strip() for h in horizons.split(",") if h.strip()]
    spans = [(h, duration_option(h, "--horizons")) for h in labels]
    end = time_option(until, "--until", default=now())
    start = time_option(since, "--since")
    assert end is not None and start is not None
    s = sql_store(db)
    times, prices, price_info = price_series(s, coin=coin, since=start, until=end)
    out: dict[str, Any] = {"coin": coin.upper(), "price_series": price_info, "signals": {}}
    if not price_info:
        span = candle_span(s, coin=coin)
        out["candles_stored"] = {"first": ns_to_iso(span[0]), "last": ns_to_iso(span[1])} if span else None
        out["since"], out["until"] = ns_to_iso(start), ns_to_iso(end)
    for kind in kinds:
        occ, origin = occurrences(s, kind=kind, coin=coin, since=start, until=end, source=source)
        r = event_study(times, prices, occ, horizons=spans, min_gap_ns=duration_option(min_gap, "--min-gap"),
                        controls_per_event=controls, seed=seed)
        r["source"] = origin
        r["summary"] = {h: sentence(r, signal=kind, coin=coin.upper(), horizon=h) for h in labels}
        out["signals"][kind] = r
    if as_json:
        print_json(out)
        return
    _print(out, labels)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2%}"


def _ci(ci: list[float] | tuple[float, float] | None) -> str:
    return "-" if not ci else f"[{ci[0]:+.2%}, {ci[1]:+.2%}]"


def _print(out: dict[str, Any], labels: list[str]) -> None:
    console = Console()
    info = out["price_series"]
    if not info:
        stored = out.get("candles_stored")
        if stored:
            console.print(f"No {out['coin']} candles between {out['since']} and {out['until']} (stored: "
                          f"{stored['first']} to {stored['last']}): set --since/--until around them.")
        else:
            console.print(f"No candles stored for {out['coin']}: the study needs a price series.")
    for kind, r in out["signals"].items():
        t = Table(title=f"{out['coin']} after {kind} ({r['events']} events from {r['source']}, {r['controls']} controls)")
        for col in ("horizon", "n", "mean", "median", "hit", "t", "95% CI", "controls", "diff", "diff CI", "effect"):
            t.add_column(col, justify="left" if col == "horizon" else "right")
        for h in labels:
            x = r["horizons"][h]
            ev, ct, d = x["events"], x["controls"], x["difference"]
            t.add_row(h, str(ev["n"]), _pct(ev["mean"]), _pct(ev["median"]),
                      "-" if ev["hit_rate"] is None else f"{ev['hit_rate']:.0%}",
                      "-" if ev["t_stat"] is None else f"{ev['t_stat']:.2f}", _ci(ev["ci95"]), _pct(ct["mean"]),
                      _pct(d["mean"]), _ci(d["ci95"]), "yes" if d["effect"] else "no")
        console.print(t)
        for line in r["summary"].values():
            console.print(f"  {line}")
    if info:
        console.print(f"  [dim]prices: {info['venue']} {info['symbol']} {info['interval_s']}s closes ({info['bars']} bars)[/]")


def register(app: typer.Typer) -> None:
    """Add `study`."""
    app.command("study")(study_cmd)
