"""`liqwatch config show|check`: the effective settings, each with its description."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from liqwatch import config
from liqwatch.cli._common import ConfigOption

app = typer.Typer(help="Show or check the effective configuration (defaults < TOML file < LIQWATCH__SECTION__KEY env).", no_args_is_help=True)


@app.command("show")
def show(config_path: ConfigOption = None) -> None:
    """Print every setting's effective value and what it does."""
    settings = config.load(config_path)
    table = Table(title="liqwatch settings")
    for col in ("key", "value", "description"):
        table.add_column(col)
    for key, value, text in config.describe(settings):
        table.add_row(key, repr(value), text)
    Console().print(table)


@app.command("check")
def check(config_path: ConfigOption = None) -> None:
    """Validate the configuration; exit 2 with one line naming the bad key."""
    config.load(config_path)
    typer.echo("config ok")
