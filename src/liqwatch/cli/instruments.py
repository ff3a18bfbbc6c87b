"""`liqwatch instruments import|list`: contract specs for offline use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from liqwatch.capture.playback import load_instruments
from liqwatch.cli._common import DbOption, JsonOption, print_json, store
from liqwatch.errors import ConfigError
from liqwatch.feeds.parse import FrameCounters
from liqwatch.model import Instrument
from liqwatch.model.time import now_ns
from liqwatch.venues import get_venue

app = typer.Typer(help="Contract specs (sizes, inverse/linear, base/quote) used to convert sizes to base units and USD.", no_args_is_help=True)


@app.command("import")
def import_(
    venue: Annotated[str, typer.Argument(metavar="VENUE", help="venue name, e.g. bybit")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="recorded REST instruments response(s), e.g. BYBIT.rest_instruments.jsonl")],
    db: DbOption = None,
) -> None:
    """Import contract specs: a recorded REST response (JSON Lines with `raw`), a plain REST body, or a JSON list of liqwatch instruments."""
    module = get_venue(venue)
    if not file.is_file():
        raise ConfigError(f"no such file: {file}")
    counters = FrameCounters()
    body = file.read_bytes()
    if body.lstrip()[:1] == b"[":  # liqwatch's own format: a JSON list of Instrument objects
        try:
            instruments = [i for i in msgspec.json.decode(body, type=list[Instrument]) if i.venue == venue]
        except msgspec.MsgspecError as exc:
            raise ConfigError(f"{file} is not a JSON list of liqwatch instruments: {exc}") from None
    elif body.lstrip()[:1] == b"{" and b'"raw"' not in body[:200]:
        instruments = module.parse_instruments(body)  # a plain REST response body
    else:
        instruments = load_instruments(file, module, counters)  # a recording: JSON Lines with `raw`
    if not instruments:
        raise ConfigError(f"{file} holds no {venue} instruments ({counters.last_error or 'no lines parsed'})")
    s = store(db, write=True)
    s.write_instruments(instruments, now_ns())
    s.close()
    typer.echo(f"imported {len(instruments)} {venue} instruments")


@app.command("list")
def list_(
    venue: Annotated[str | None, typer.Option(help="only this venue")] = None,
    coin: Annotated[str | None, typer.Option(help="only this base coin")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List stored contract specs."""
    s = store(db)
    rows = [i for i in s.load_instruments(venue) if coin is None or i.base == coin.upper()]
    s.close()
    if as_json:
        for i in rows:
            print_json(i)
        return
    table = Table(title=f"{len(rows)} instruments")
    for col in ("venue", "symbol", "market", "type", "contract size"):
        table.add_column(col)
    for i in rows:
        table.add_row(i.venue, i.symbol, i.market, i.contract_type.value, f"{i.contract_size:g}")
    Console().print(table)
