"""Storage: `open_store(url)` returns an EventStore for a DuckDB path (default) or a PostgreSQL URL; the writer,
schema, rollups, dead letters, and reads of a store another process holds (read_service, remote, rpc, runtime).

May import model, config, bus and the basics; never analytics, web, roles or cli.
"""

from __future__ import annotations

import os
from pathlib import Path

from liqwatch.errors import ConfigError
from liqwatch.redact import redact_url
from liqwatch.storage.base import EventStore


def default_db_path() -> Path:
    """Return ~/.local/share/liqwatch/liqwatch.duckdb (honouring $XDG_DATA_HOME)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "liqwatch" / "liqwatch.duckdb"


def is_postgres_url(url: str | Path | None) -> bool:
    """Return whether a store location names a PostgreSQL server."""
    return str(url or "").startswith(("postgresql://", "postgres://"))


def open_store(url: str | Path | None = None, *, read_only: bool = False) -> EventStore:
    """Open a store: a file path or duckdb:// URL (embedded, the default), or a postgresql:// URL (server).

    Raises:
        ConfigError: the URL's scheme is not supported.
        StorageError: the store cannot be opened.
    """
    text = str(url) if url else str(default_db_path())
    if is_postgres_url(text):
        try:
            from liqwatch.storage.postgres_store import PostgresStore
        except ImportError:
            raise ConfigError(
                "a PostgreSQL store needs psycopg: pip install 'liqwatch[scale]' (or use a DuckDB file path)"
            ) from None
        return PostgresStore(text, read_only=read_only)
    if "://" in text and not text.startswith("duckdb://"):
        raise ConfigError(f"unsupported store URL {redact_url(text)!r}; use a file path such as ~/liqwatch.duckdb or a postgresql:// URL")
    from liqwatch.storage.duckdb_store import DuckDBStore

    return DuckDBStore(text.removeprefix("duckdb://"), read_only=read_only)


__all__ = ["EventStore", "default_db_path", "is_postgres_url", "open_store"]
