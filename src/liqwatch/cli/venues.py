"""`liqwatch venues`: every venue with its channels, coverage and, from the store, recent activity."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from liqwatch.cli._common import DbOption, JsonOption, now, print_json, store
from liqwatch.errors import StoreNotFound
from liqwatch.feeds.drift import stored_diagnoses
from liqwatch.model import Channel
from liqwatch.model.time import NS_PER_S, ns_to_iso
from liqwatch.venues import VENUES

_SHORT = {"liquidations": "liq", "open_interest": "oi", "mark_price": "mark", "candles": "1m"}


def register(app: typer.Typer) -> None:
    app.command("venues")(venues)


def venues(
    as_json: JsonOption = False,
    offline: Annotated[bool, typer.Option("--offline", help="don't open the store; show only what each venue offers")] = False,
    db: DbOption = None,
) -> None:
    """List every venue: channels, liquidation coverage, last data seen in the store, and each connection's diagnosis.

    The diagnosis is what the collector last stored for the connection (feed_status): why it cannot connect
    (refused, DNS, TLS, the upgrade's HTTP status, with the URL and the config key), or what drifted while
    connected (a rejected subscribe in the venue's words, a silent channel, parse failures, unknown messages).
    """
    activity: dict[str, dict[str, object]] = {}
    letters: list[dict[str, object]] = []  # newest first: events the store refused (storage/dead_letters.py)
    diagnosed: dict[tuple[str, str], dict[str, object]] = {}
    if not offline:
        until = now()
        try:
            s = store(db)
        except StoreNotFound as exc:  # the table comes from the code; only the activity needs a store
            typer.echo(f"note: {exc}; showing no activity", err=True)
            offline = True
    if not offline:
        activity = {r["venue"]: r for r in s.venues_active(since=until - 86400 * NS_PER_S, until=until)}
        diagnosed = stored_diagnoses(s.feed_status_changes(since=until - 86400 * NS_PER_S, until=until))
        letters = s.dead_letters(since=until - 86400 * NS_PER_S, until=until, limit=100_000)
        s.close()
    rows = []
    for name, module in VENUES.items():
        spec = module.SPEC
        act = activity.get(name, {})
        last = act.get("last_ts")
        rows.append(
            {
                "venue": name,
                "title": spec.title,
                "channels": sorted(c.value for c in spec.channels),
                "liquidations": Channel.LIQUIDATIONS in spec.channels,
                "coverage": ("complete" if spec.liquidations_complete else "sampled")
                if Channel.LIQUIDATIONS in spec.channels
                else "none",
                "coverage_note": spec.coverage_note,
                "open_interest": spec.oi_origin.value if Channel.OPEN_INTEREST in spec.channels else None,
                "ws_url": spec.ws_url,
                "liquidations_24h": act.get("liquidations", 0),
                "last_liquidation": ns_to_iso(int(last)) if isinstance(last, int) else None,
                "status": "seen in last 24h" if last else "no data in last 24h",
                "dead_letters_24h": sum(1 for d in letters if d["venue"] == name),
                "last_dead_letter": next((f"{d['type']}: {d['reason']}" for d in letters if d["venue"] == name), None),
                "diagnoses": [
                    {"connection": conn, **d} for (venue, conn), d in sorted(diagnosed.items()) if venue == name
                ],
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} venues")
    for col in ("venue", "channels", "liquidations", "OI", "last 24h"):
        table.add_column(col, no_wrap=col in ("venue", "liquidations"))
    for r in rows:
        cov = {"complete": "[green]complete[/]", "sampled": "[yellow]sampled[/]", "none": "[red]no public feed[/]"}[str(r["coverage"])]
        table.add_row(
            str(r["venue"]),
            " ".join(_SHORT[c] for c in r["channels"]),  # type: ignore[attr-defined]
            cov,
            str(r["open_interest"] or "-"),
            f"{r['liquidations_24h']} liqs" if r["last_liquidation"] else "no data",
        )
    console = Console()
    console.print(table)
    console.print("[dim]channels: liq = liquidations, oi = open interest, mark = mark price/funding, 1m = candles[/]")
    for r in rows:
        console.print(f"[dim]{r['venue']}: {escape(str(r['coverage_note']))}[/]")
    for r in rows:
        if r["dead_letters_24h"]:
            line = f"{r['venue']}: {r['dead_letters_24h']} event(s) the store refused in the last 24h, kept in dead_letters (last: {r['last_dead_letter']})"
            console.print(f"[red]{escape(line)}[/]", soft_wrap=True)
    for r in rows:
        for d in r["diagnoses"]:  # type: ignore[attr-defined]
            line = f"{r['venue']} {d['connection']} (since {d['since']}): {d['text']}"
            console.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)
