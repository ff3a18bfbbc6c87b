"""`liqwatch brief`: the market brief as Markdown, HTML or JSON, from stored data only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqwatch.analytics.brief import build_brief
from liqwatch.cli._common import (
    ConfigOption,
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
from liqwatch.errors import ConfigError

FORMATS = ("md", "html", "json")


def register(app: typer.Typer) -> None:
    app.command("brief")(brief)


def brief(
    coin: Annotated[str | None, typer.Option(help="only this base coin; default the most liquidated coins")] = None,
    window: Annotated[str, typer.Option(help="window length: 4h, 24h, 7d …")] = "24h",
    at: Annotated[str | None, typer.Option(help="window end: ISO-8601 UTC or relative; default now")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json")] = "md",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write to this file instead of stdout")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write a market brief: headline, key takeaways and coverage caveats; HTML adds the day's chart."""
    fmt = "json" if as_json else fmt.lower()
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    until = time_option(at, "--at", default=now())
    assert until is not None
    result = build_brief(
        store(db, config), at=until, window_ns=duration_option(window, "--window"), coin=coin, settings=settings(config)
    )
    if fmt == "json" and out is None:
        print_json(result.to_dict())
        return
    if fmt == "json":
        from liqwatch.analytics.numbers import json_bytes

        text = json_bytes(result.to_dict()).decode()
    else:
        text = result.to_html() if fmt == "html" else result.to_markdown()
    if out is None:
        typer.echo(text)
    else:
        write_out(out, lambda p: p.write_text(text, encoding="utf-8"))
        typer.echo(f"wrote {out} ({len(text):,} bytes): {result.headline}")
