"""`liqwatch alerts list|test|recent`: the configured rules and their last firing, a test message, recent alerts."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from liqwatch.cli._common import (
    ConfigOption,
    DbOption,
    JsonOption,
    db_path,
    now,
    print_json,
    settings,
    time_option,
)
from liqwatch.errors import AlertDeliveryError, ConfigError, StorageError
from liqwatch.model.time import ns_to_iso

app = typer.Typer(help="Alert rules and destinations: list them with their last firing, send a test, show recent alerts.", no_args_is_help=True)

_SKIP = {"name", "enabled", "cooldown"}


def _condition(rule: Any) -> str:
    import msgspec

    raw = msgspec.to_builtins(rule)
    return " ".join(f"{k}={v}" for k, v in raw.items() if k not in _SKIP and k != "type" and v not in ("", [], "any"))


@app.command("list")
def list_rules(config_path: ConfigOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show every rule, its condition and cooldown, and when it last fired (from the store); destinations masked."""
    from liqwatch.alerts.history import last_by_rule
    from liqwatch.config.alert_urls import display
    from liqwatch.storage.remote import open_reader

    cfg = settings(config_path)
    last: dict[str, dict[str, Any]] = {}
    note = ""
    try:
        store = cast(Any, open_reader(db_path(db, config_path), read_only=True))
        try:
            last = last_by_rule(store)
        finally:
            store.close()
    except StorageError as exc:
        note = f"last firing unknown: {exc}"
    rows: list[dict[str, Any]] = []
    for rule in cfg.alerts.rules:
        fired = last.get(rule.name)
        rows.append(
            {
                "name": rule.name,
                "type": type(rule).__struct_config__.tag,
                "condition": _condition(rule),
                "cooldown": rule.cooldown,
                "enabled": rule.enabled,
                "fired": fired["count"] if fired else 0,
                "last_fired": ns_to_iso(fired["ts_trigger"]) if fired else None,
                "last_title": fired["title"] if fired else None,
            }
        )
    destinations = [display(u) for u in cfg.alerts.urls]
    if as_json:
        print_json({"rules": rows, "destinations": destinations, "terminal": cfg.alerts.terminal, "note": note})
        return
    table = Table(title=f"alert rules ({len(rows)})")
    for col in ("name", "type", "condition", "cooldown", "fired", "last fired", "last alert"):
        table.add_column(col)
    for r in rows:
        name = r["name"] if r["enabled"] else f"{r['name']} (disabled)"
        table.add_row(name, r["type"], r["condition"], r["cooldown"], str(r["fired"]), r["last_fired"] or "never", (r["last_title"] or "")[:60])
    console = Console()
    console.print(table)
    console.print("destinations: " + (", ".join(destinations) or "none (terminal only)") + (" + terminal" if cfg.alerts.terminal and destinations else ""))
    if note:
        console.print(note)


@app.command("test")
def test(config_path: ConfigOption = None) -> None:
    """Send a test message to every configured destination; exit 1 if any did not accept it."""
    from liqwatch.alerts.delivery import Destination

    cfg = settings(config_path).alerts
    if not cfg.urls:
        raise ConfigError("no destinations: add apprise URLs to [alerts] urls (or LIQWATCH__ALERTS__URLS)")
    dests = [Destination(u, timeout_s=cfg.timeout_s, retries=0, backoff_s=cfg.backoff_s, queue_size=1) for u in cfg.urls]

    async def send_all() -> list[tuple[bool, str]]:
        title = "liqwatch: test message"
        body = f"liqwatch test message sent at {ns_to_iso(now())}; alerts will arrive here. Dashboard: {cfg.dashboard_url}"
        try:
            return list(await asyncio.gather(*(d.attempt(title, body) for d in dests)))
        finally:
            for d in dests:
                d.close()

    results = asyncio.run(send_all())
    for dest, (ok, error) in zip(dests, results, strict=True):
        typer.echo(f"{'ok    ' if ok else 'FAILED'} {dest.name}" + (f"  ({error})" if error else ""))
    failed = sum(1 for ok, _ in results if not ok)
    if failed:
        raise AlertDeliveryError(f"{failed} of {len(results)} destinations did not accept the test message; check the URLs above")


@app.command("recent")
def recent(
    since: Annotated[str, typer.Option(help="from this time (ISO-8601 UTC or relative, e.g. 24h)")] = "24h",
    until: Annotated[str | None, typer.Option(help="up to this time (default now)")] = None,
    config_path: ConfigOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show alerts fired in a window, newest first, with how many destinations got each."""
    from liqwatch.alerts.history import recent_alerts
    from liqwatch.storage.remote import open_reader

    start = time_option(since, "--since")
    end = time_option(until, "--until", now())
    assert start is not None and end is not None
    store = cast(Any, open_reader(db_path(db, config_path), read_only=True))
    try:
        rows = recent_alerts(store, start, end)
    finally:
        store.close()
    if as_json:
        for r in rows:
            print_json(r)
        return
    table = Table(title=f"alerts {ns_to_iso(start)} → {ns_to_iso(end)}")
    for col in ("time", "rule", "alert", "delivered", "failed", "pending"):
        table.add_column(col)
    for r in rows:
        table.add_row(ns_to_iso(r["ts_trigger"]), r["rule"], r["title"].removeprefix("liqwatch: "), str(r["delivered"]), str(r["failed"]), str(r["pending"]))
    Console().print(table)
