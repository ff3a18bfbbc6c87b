"""Options and helpers every command shares."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from liqwatch import config
from liqwatch.analytics.numbers import json_bytes
from liqwatch.errors import ConfigError, StoreNotFound
from liqwatch.model.time import now_ns, parse_duration_ns, parse_time_ns
from liqwatch.storage import EventStore, default_db_path, is_postgres_url

# a str, not a Path: Path("postgresql://h/db") would fold the URL's "//" into "/"
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="DuckDB file or postgresql:// URL (default: the config's store.path, $LIQWATCH__STORE__PATH, "
        "or ~/.local/share/liqwatch/liqwatch.duckdb)",
    ),
]
ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def settings(config_path: Path | None) -> config.Settings:
    """Load settings from the config file and environment."""
    return config.load(config_path)


def db_path(db: str | Path | None, config_path: Path | None = None) -> str:
    """Resolve the store location: --db, then config/env, then the default."""
    if db is not None:
        return str(db)
    path = settings(config_path).store.path
    return path or str(default_db_path())


def store(db: str | Path | None, config_path: Path | None = None, *, write: bool = False) -> EventStore:
    """Open the store the options point at; to read, while `liqwatch up` holds it, through that process.

    Only commands that write (`write=True`) may create a missing file: a read of one is `StoreNotFound` (exit 2).
    """
    from liqwatch.storage.remote import open_reader, open_writer

    path = db_path(db, config_path)
    if write:
        return open_writer(path)
    if not is_postgres_url(path) and path != ":memory:" and not Path(path.removeprefix("duckdb://")).expanduser().exists():
        raise StoreNotFound(path)
    return open_reader(path)


def write_out(path: Path, write: Callable[[Path], object], what: str = "--out") -> None:
    """Create `path`'s folder and write it with `write`; a folder or file that cannot be written is one line (exit 2)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        reason = exc.strerror or (os.strerror(exc.errno) if exc.errno else " ".join(str(exc).split()))
        raise ConfigError(f"{what}: cannot write {path}: {reason}") from None


def time_option(text: str | None, name: str, default: int | None = None) -> int | None:
    """Parse a --since/--until/--at value (ISO-8601 UTC or relative such as 24h)."""
    if text is None:
        return default
    try:
        return parse_time_ns(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def duration_option(text: str, name: str) -> int:
    """Parse a --window value such as 1h, 24h or 7d."""
    try:
        return parse_duration_ns(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def print_json(obj: Any) -> None:
    """Print one JSON document."""
    typer.echo(json_bytes(obj).decode())


def now() -> int:
    return now_ns()


def stop_on_signals() -> asyncio.Event:
    """Return an event that SIGINT and SIGTERM set, on the running loop (Ctrl-C stops a long-running command cleanly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # platforms without loop signal handlers
            loop.add_signal_handler(sig, stop.set)
    return stop
