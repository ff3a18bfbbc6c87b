"""`liqwatch doctor`: check each configured venue live, once, and say what to fix."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from liqwatch.cli._common import ConfigOption, JsonOption, print_json, settings
from liqwatch.errors import ConfigError
from liqwatch.roles import doctor as checks
from liqwatch.roles._feeds import venue_names
from liqwatch.venues import get_venue


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    venue: Annotated[
        list[str] | None, typer.Option("--venue", help="venue to check (repeat for more); default: the configured venues")
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="save what was received here, in the `liqwatch record` format")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for each answer and each channel's first frame")] = 20.0,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Check each venue live: REST instruments, websocket connect, subscribe, first frame of each channel, parse,
    REST open interest. Exit 0 when every check passes (SKIP allowed), 1 otherwise."""
    if timeout <= 0:
        raise ConfigError(f"--timeout must be positive, was {timeout:g}")
    cfg = settings(config)
    names = list(dict.fromkeys(venue)) if venue else venue_names(cfg)
    for name in names:
        get_venue(name)  # ConfigError (exit 2) with a did-you-mean for a typo
    rows = asyncio.run(checks.run_checks(checks.targets(cfg, names), timeout_s=timeout, record_dir=record))
    if as_json:
        print_json(rows)
    else:
        for line in checks.render(rows):
            typer.echo(line)
    sys.exit(checks.exit_code(rows))  # not typer.Exit: main() runs click outside standalone mode, which swallows its code
