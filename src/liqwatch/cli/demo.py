"""`liqwatch demo`: a simulated market re-enacting a liquidation cascade through the real connectors, live."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from liqwatch.analytics.text import counts
from liqwatch.cli._common import stop_on_signals
from liqwatch.logs import logs_through, setup_logging
from liqwatch.model.time import ns_to_iso

if TYPE_CHECKING:
    from liqwatch.roles.demo import Demo
    from liqwatch.sim.summary import Story


DEFAULT_SPEED = 360.0  # the 24 h scenario in 4 minutes


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    scenario: Annotated[str, typer.Option(help="built-in scenario name or a scenario TOML file")] = "selloff-2025-11-04",
    speed: Annotated[
        float, typer.Option(help="simulated seconds per real second (360: an hour every 10 s, the 24 h scenario in 4 min; 0: as fast as possible)")
    ] = DEFAULT_SPEED,
    seed: Annotated[int, typer.Option(help="random seed: the same seed replays the same market")] = 1,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: a fresh demo.duckdb beside the default store)")] = None,
    hours: Annotated[float | None, typer.Option(help="run only the first HOURS of the scenario")] = None,
    view: Annotated[bool, typer.Option(help="show the live summary (off: a status line every 10 s)")] = True,
    list_scenarios: Annotated[bool, typer.Option("--list", help="list the built-in scenarios and exit")] = False,
    port: Annotated[int, typer.Option(help="dashboard port on 127.0.0.1 (0: any free port)")] = 8000,
    web: Annotated[bool, typer.Option("--web/--no-web", help="serve the dashboard while the demo runs")] = True,
    brief: Annotated[Path | None, typer.Option("--brief", help="also write the end-of-run brief as HTML to FILE")] = None,
    alerts: Annotated[bool, typer.Option("--alerts/--no-alerts", help="print the demo's alerts (liquidation ≥ $10M, long clusters)")] = True,
) -> None:
    """Re-enact a market scenario on a local exchange (Binance, Bybit, OKX, HTX wire formats) and collect it with the real connectors.

    The dashboard, `liqwatch watch` and the API follow the scenario's clock (its windows end at the simulated time,
    not today). When the scenario ends, the store is kept and the dashboard stays up until Ctrl-C, to browse it.
    """
    import msgspec

    from liqwatch.errors import ConfigError
    from liqwatch.sim.scenario import builtin_names, load_scenario
    from liqwatch.storage import default_db_path

    if list_scenarios:
        for name in builtin_names():
            s = load_scenario(name)
            typer.echo(f"{name}: {s.title or s.description}")
        return
    chosen = load_scenario(scenario)
    if hours is not None:
        if not 0 < hours <= chosen.duration_h:
            raise ConfigError(f"--hours must be in (0, {chosen.duration_h:g}], was {hours:g}")
        chosen = msgspec.structs.replace(chosen, duration_h=hours)
    if db is None:
        db = default_db_path().with_name("demo.duckdb")
        db.parent.mkdir(parents=True, exist_ok=True)
        for stale in (db, db.with_name(db.name + ".wal")):
            stale.unlink(missing_ok=True)  # the demo store starts fresh each run
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be in 0..65535, was {port}")
    setup_logging("WARNING")
    asyncio.run(_run(chosen, str(db), seed, speed, view and sys.stdout.isatty(), port if web else None, brief, alerts))


async def _run(
    scenario: object, db: str, seed: int, speed: float, live_view: bool, port: int | None, brief: Path | None, alerts: bool
) -> None:
    from liqwatch.roles.demo import DEMO_SIGNALS, Demo, demo_alerts
    from liqwatch.sim.scenario import Scenario

    assert isinstance(scenario, Scenario)
    console = Console()
    runner = Demo(
        scenario, db=db, seed=seed, speed=speed, web_port=port, alerts=demo_alerts(port) if alerts else None, signals=DEMO_SIGNALS,
    )
    console.print(f"liqwatch demo: [bold]{scenario.title or scenario.name}[/] — seed {seed}, speed {speed:g}x, store {escape(str(db))}")
    await runner.start()
    console.print(f"local exchange: {runner.server.http_url} ({', '.join(scenario.venues)}); {runner.history_candles} daily candles of history seeded")
    app = runner.app
    assert app is not None
    if app.web is not None:
        console.print(f"dashboard: [bold]{app.web.url}[/]")
    elif app.web_error:
        console.print(f"[red]dashboard: {escape(app.web_error)}[/]")
    if app.alerts is not None:
        console.print(f"alerts (printed here): {', '.join(app.alerts.rules)}")
    for line in runner.service_lines:
        console.print(escape(line))
    stop = stop_on_signals()
    done = asyncio.create_task(runner.wait_finished())
    try:
        if live_view:
            with logs_through(console), Live(_render(runner), console=console, refresh_per_second=2) as live:
                while not stop.is_set() and not done.done():
                    await _sleep(stop, 0.5)
                    live.update(_render(runner))
        else:
            while not stop.is_set() and not done.done():
                await _sleep(stop, 10.0)
                console.print(_status_line(runner))
        if done.done():
            await runner.drain()
            _print_story(console, runner)
        else:
            console.print("stopped before the scenario's end")
        _print_brief(console, runner, brief)
        if done.done() and not stop.is_set() and app.web is not None:
            # the scenario's market is over, not the demo: its dashboard keeps showing the store until Ctrl-C. The
            # collectors stop (the simulated venues publish nothing more; their silence would be reported as drift).
            await app.stop_feeds()
            console.print(f"demo finished: the dashboard stays up at [bold]{app.web.url}[/] on {escape(str(runner.db))}; press Ctrl-C to stop")
            await stop.wait()
    finally:
        done.cancel()
        await runner.stop()


def _print_brief(console: Console, runner: Demo, html: Path | None) -> None:
    """Write the brief of the scenario's day at the simulated time reached (the terminal; HTML to `html`)."""
    from rich.markdown import Markdown

    brief = runner.brief()
    console.print(Markdown(brief.to_markdown()))
    if html is not None:
        html.write_text(brief.to_html(), encoding="utf-8")
        console.print(f"brief: {html}")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def _usd(value: float) -> str:
    if abs(value) >= 1e9:
        return f"${value / 1e9:,.2f}B"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.1f}M"
    return f"${value:,.0f}"


def _stored_by_venue(runner: Demo) -> dict[str, tuple[float, float, int]]:
    app = runner.app
    if app is None:
        return {}
    s = runner.scenario
    with app.writer.lock:
        rows = app.store.liquidation_totals(since=s.ts_start - 1, until=s.ts_end + 60 * 1_000_000_000, group_by="venue")
    return {str(r["venue"]): (float(r["long_usd"]), float(r["short_usd"]), int(r["long_count"]) + int(r["short_count"])) for r in rows}


def _render(runner: Demo) -> Group:
    ex, s = runner.exchange, runner.scenario
    market = ex.market
    head = f"{s.title or s.name} — {ns_to_iso(market.ts_ns)[:19].replace('T', ' ')} UTC — {market.progress:.0%} — speed {runner.speed:g}x"
    liq = Table(title="liquidations: published by the simulated venues vs stored by liqwatch", title_justify="left")
    for col in ("venue", "sim longs", "sim shorts", "sim count", "stored longs", "stored shorts", "stored count", "venue's own (pre-throttle)"):
        liq.add_column(col, justify="right" if col != "venue" else "left")
    published = ex.ledger.totals(by=("venue", "side"))
    occurred = ex.ledger.totals(published=False, by=("venue",))
    stored = _stored_by_venue(runner)
    for venue in s.venues:
        pl, ps = published.get((venue, "long")), published.get((venue, "short"))
        sl, ss, sn = stored.get(venue, (0.0, 0.0, 0))
        occ = occurred.get((venue,))
        liq.add_row(
            venue, _usd(pl.usd if pl else 0), _usd(ps.usd if ps else 0), f"{(pl.count if pl else 0) + (ps.count if ps else 0):,}",
            _usd(sl), _usd(ss), f"{sn:,}", _usd(occ.usd) if occ and s.venues[venue].throttle_ms else "",
        )
    coins = Table(title="market (simulated)", title_justify="left")
    for col in ("coin", "price", "since start", "open interest", "OI change (coin)", "funding (8h, first venue)"):
        coins.add_column(col, justify="right" if col != "coin" else "left")
    for coin in ex.coins:
        snap, first = ex.snapshots[coin], ex.first_snapshots[coin]
        oi, oi0 = sum(snap.open_interest.values()), sum(first.open_interest.values())
        rate = next(iter(snap.funding_rate.values()))
        coins.add_row(coin, f"{market.price(coin):,.2f}", f"{market.price(coin) / first.index_price - 1:+.2%}", _usd(oi * snap.mark_price),
                      f"{oi / oi0 - 1:+.2%}", f"{rate:+.4%}")
    app = runner.app
    rows: dict[str, int] = dict(app.writer.stored) if app is not None else {}
    return Group(head, liq, coins, Text(f"stored: {counts(rows)}"))


def _status_line(runner: Demo) -> str:
    ex = runner.exchange
    stored = sum(lu + su for lu, su, _ in _stored_by_venue(runner).values())
    return (f"[{ns_to_iso(ex.now_ns)[:19]}] {ex.market.progress:.0%}: published {_usd(ex.ledger.total_usd())}, "
            f"stored {_usd(stored)}, frames {sum(ex.ledger.frames.values()):,}")


def _print_story(console: Console, runner: Demo) -> None:
    from liqwatch.sim.summary import read_story

    app = runner.app
    assert app is not None
    with app.writer.lock:
        story = read_story(app.store, runner.scenario)
    ex = runner.exchange
    console.print(_story_table(story, runner))
    lines = [
        f"liquidated (stored): {_usd(story.total_usd)} in {story.count:,} orders — {story.long_share:.0%} longs ({_usd(story.long_usd)})",
        f"published by the simulated venues: {_usd(ex.ledger.total_usd())}; liquidated in the market: {_usd(ex.ledger.total_usd(published=False))}"
        " (Binance publishes at most one per symbol per second)",
    ]
    if story.largest:
        big = story.largest
        lines.append(f"largest: {_usd(float(big['notional_usd']))} {big['position_side']} on {big['venue']} {big['symbol']} at {ns_to_iso(int(big['ts_event']))}")
    oi_coins = runner.oi_summary()["coins"]
    for coin in ex.coins:
        first, low = ex.first_snapshots[coin].index_price, ex.lows[coin]
        ath = runner.scenario.coins[coin].ath
        under = f", {1 - ex.market.price(coin) / ath:.0%} under its ATH {ath:,.0f}" if ath else ""
        oi_text = _oi_text(oi_coins.get(coin))
        lines.append(f"{coin}: {first:,.2f} → {ex.market.price(coin):,.2f} (low {low:,.2f}){under}{oi_text}")
    lines.append(f"store: {runner.db} — e.g. `liqwatch liquidations --db {runner.db} --since {ns_to_iso(runner.scenario.ts_start)}`")
    for line in lines:
        console.print(escape(line))


def _oi_text(block: dict[str, Any] | None) -> str:
    """The 24h OI change as `liqwatch oi` and the brief compute it (the same function, at the same time)."""
    ch = (block or {}).get("total", {}).get("changes", {}).get("24h") or {}
    if ch.get("coin_change") is None:
        return ""
    usd_part = f"{ch['usd_change']:+.2%} in USD, " if ch.get("usd_change") is not None else ""
    return f"; OI 24h {usd_part}{ch['coin_change']:+.2%} in coins"


def _story_table(story: Story, runner: Demo) -> Table:
    table = Table(title="stored by liqwatch (the real connectors)", title_justify="left")
    for col in ("venue", "longs", "shorts", "count", "simulated (published)", "match"):
        table.add_column(col, justify="right" if col != "venue" else "left")
    published = runner.exchange.ledger.totals(by=("venue",))
    for venue in runner.scenario.venues:
        lu, su, n = story.by_venue.get(venue, (0.0, 0.0, 0))
        pub = published.get((venue,))
        same = pub is not None and pub.count == n and abs(pub.usd - lu - su) <= 1e-6 * max(1.0, pub.usd)
        table.add_row(venue, _usd(lu), _usd(su), f"{n:,}", _usd(pub.usd if pub else 0), "[green]yes[/]" if same else "[red]no[/]")
    return table
