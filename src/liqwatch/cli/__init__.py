"""CLI: the `liqwatch` command line — thin commands that parse options and call a role or the library;
`cli/<command>.py` matches `roles/<command>.py`. The top room: may import everything.
"""

from __future__ import annotations

import sys

import typer

from liqwatch.errors import ConfigError, LiqwatchError

app = typer.Typer(
    name="liqwatch",
    help="Monitor crypto-derivatives liquidations and open interest from the exchanges' own public feeds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _flags_without_type() -> None:
    """Show `--json` in `--help`, not `--json <bool>` (typer ≥ 0.23 prints a flag's type in the rich help)."""
    from typer import core

    option = getattr(core, "TyperOption", None)
    if option is None or not hasattr(option, "display_type_rich"):
        return
    shown = option.display_type_rich

    def display_type_rich(self: typer.core.TyperOption, ctx: typer.Context) -> str | None:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    option.display_type_rich = display_type_rich


_flags_without_type()


def _register() -> None:
    from liqwatch.cli.alerts import app as alerts_app
    from liqwatch.cli.backfill import register as register_backfill
    from liqwatch.cli.brief import register as register_brief
    from liqwatch.cli.collect import register as register_collect
    from liqwatch.cli.config import app as config_app
    from liqwatch.cli.demo import register as register_demo
    from liqwatch.cli.doctor import register as register_doctor
    from liqwatch.cli.export import register as register_export
    from liqwatch.cli.heatmap import register as register_heatmap
    from liqwatch.cli.ingest import register as register_ingest
    from liqwatch.cli.instruments import app as instruments_app
    from liqwatch.cli.market import register as register_market
    from liqwatch.cli.oi import app as oi_app
    from liqwatch.cli.query import register as register_query
    from liqwatch.cli.record import register as register_record
    from liqwatch.cli.replay import register as register_replay
    from liqwatch.cli.serve import register as register_serve
    from liqwatch.cli.signals import register as register_signals
    from liqwatch.cli.stress import register as register_stress
    from liqwatch.cli.study import register as register_study
    from liqwatch.cli.up import register as register_up
    from liqwatch.cli.venues import register as register_venues
    from liqwatch.cli.watch import register as register_watch

    register_query(app)
    register_replay(app)
    register_venues(app)
    register_up(app)
    register_record(app)
    register_doctor(app)
    app.add_typer(instruments_app, name="instruments")
    app.add_typer(config_app, name="config")
    app.add_typer(oi_app, name="oi")
    register_backfill(app)
    app.add_typer(alerts_app, name="alerts")
    register_watch(app)
    register_demo(app)
    register_heatmap(app)
    register_stress(app)
    register_study(app)
    register_market(app)
    register_signals(app)
    register_brief(app)
    register_export(app)
    register_collect(app)
    register_ingest(app)
    register_serve(app)


_register()


def main() -> None:
    """Run the CLI; liqwatch errors print one line and exit 2 (config, usage) or 1 (anything else)."""
    from liqwatch.cli._usage import click_exceptions, exit_code, show_click_error, show_usage_error

    kinds = click_exceptions()  # click's classes, from whichever copy the installed typer uses
    try:
        rv = app(standalone_mode=False)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except LiqwatchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # a file the command had to read or write: one line, never a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        typer.echo(f"error: {where}{exc.strerror or ' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    except Exception as exc:  # click errors arrive here in non-standalone mode
        if isinstance(exc, kinds.usage):
            show_usage_error(exc, sys.stderr)
            sys.exit(2)
        if isinstance(exc, kinds.click):
            show_click_error(exc, sys.stderr)
            sys.exit(exit_code(exc, 1))
        if isinstance(exc, kinds.exit):
            sys.exit(exit_code(exc, 0))
        if isinstance(exc, kinds.abort):
            sys.exit(130)
        raise
    # outside standalone mode a raised Exit (or Ctrl-C, which newer typer turns into Exit(130)) comes back
    # as the return value; commands themselves return None
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        sys.exit(rv)
