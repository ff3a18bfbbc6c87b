"""`liqwatch watch`: the live dashboard in the terminal, read from a running `liqwatch up`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from liqwatch.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


def watch(
    url: Annotated[str, typer.Option(help="the dashboard of a running liqwatch up")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(help="access token (visible in `ps`: prefer --token-file or $LIQWATCH_TOKEN)")
    ] = None,
    token_file: Annotated[Path | None, typer.Option(help="read the access token from this file (first line)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds (default: until Ctrl-C)")] = None,
) -> None:
    """Live totals by window, the liquidation feed and venue status in the terminal (for SSH)."""
    from liqwatch.cli._terminal import WatchClient

    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError(f"--url {url!r}: use the dashboard's address, e.g. http://127.0.0.1:8000")
    client = WatchClient(url, _token(token, token_file, os.environ))
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(client.run(duration, console, live=sys.stdout.isatty()))


def _token(token: str | None, token_file: Path | None, environ: Mapping[str, str]) -> str:
    """Return the token: --token, else --token-file, else $LIQWATCH_TOKEN, else $LIQWATCH__WEB__TOKEN, else none."""
    if token is not None and token_file is not None:
        raise ConfigError("give the token once: --token or --token-file, not both")
    if token is not None:
        return token
    if token_file is not None:
        try:
            lines = token_file.expanduser().read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--token-file {token_file}: cannot read it ({type(exc).__name__}: {getattr(exc, 'strerror', None) or exc})") from None
        first = lines[0].strip() if lines else ""
        if not first:
            raise ConfigError(f"--token-file {token_file} is empty; put the token on its first line")
        return first
    return environ.get("LIQWATCH_TOKEN") or environ.get("LIQWATCH__WEB__TOKEN", "")
