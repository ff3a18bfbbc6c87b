"""`liqwatch watch`: the live dashboard in the terminal, read from a running `liqwatch up`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from liqwatch.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


def watch(
    url: Annotated[str, typer.Option(help="the dashboard of a running liqwatch up")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(help="access token (default: $LIQWATCH__WEB__TOKEN)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: until Ctrl-C)")] = None,
) -> None:
    """Live totals by window, the liquidation feed and venue status in the terminal (for SSH)."""
    from liqwatch.terminal import WatchClient

    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError(f"--url {url!r}: use the dashboard's address, e.g. http://127.0.0.1:8000")
    client = WatchClient(url, token if token is not None else os.environ.get("LIQWATCH__WEB__TOKEN", ""))
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(client.run(duration, console, live=sys.stdout.isatty()))
