"""Stores: `open_store(url)` returns an EventStore for a DuckDB path (default) or a server URL."""

from __future__ import annotations

import os
from pathlib import Path

from liqwatch.errors import ConfigError
from liqwatch.storage.base import EventStore


def default_db_path() -> Path:
    """Return ~/.local/share/liqwatch/liqwatch.duckdb (honouring $XDG_DATA_HOME)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "liqwatch" / "liqwatch.duckdb"


def open_store(url: str | Path | None = None, *, read_only: bool = False) -> EventStore:
    """Open a store: a file path or duckdb:// URL (embedded, the default), or raise for unsupported schemes.

    Raises:
        ConfigError: the URL's scheme is not supported.
        StorageError: the store cannot be opened.
    """
    text = str(url) if url else str(default_db_path())
    if text.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"PostgreSQL stores ({text.split('@')[-1]}) are not available in this version; use a DuckDB file path"
        )
    if "://" in text and not text.startswith("duckdb://"):
        raise ConfigError(f"unsupported store URL {text!r}; use a file path such as ~/liqwatch.duckdb")
    from liqwatch.storage.duckdb_store import DuckDBStore

    return DuckDBStore(text.removeprefix("duckdb://"), read_only=read_only)


__all__ = ["EventStore", "default_db_path", "open_store"]
