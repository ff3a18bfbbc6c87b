"""PostgreSQL schema: the shared tables (storage/schema.py) as daily range partitions on `ts_event`, versioned migrations.

Event tables are `PARTITION BY RANGE (ts_event)` with one native partition per UTC day, created by liqwatch on
demand (`{table}_pYYYYMMDD`) under an advisory lock, so any number of ingesters may write. The primary key is
(event_id, ts_event): PostgreSQL requires the partition key in it, and ts_event is part of every event's dedup
key, so the table is still idempotent on `event_id`. Text columns use the "C" collation, so ORDER BY sorts
exactly as DuckDB does. Migrations are numbered; `migrate()` applies the missing ones in order, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import psycopg

from liqwatch.storage.schema import ALL_TABLES, EVENT_TABLES, INSTRUMENTS, Table

NS_PER_DAY = 86_400 * 10**9
_PG = {"BIGINT": "BIGINT", "DOUBLE": "DOUBLE PRECISION", "VARCHAR": 'TEXT COLLATE "C"', "BOOLEAN": "BOOLEAN"}
COPY_TYPES = {"BIGINT": "int8", "DOUBLE": "float8", "VARCHAR": "text", "BOOLEAN": "bool"}
_LOCK = 0x6C69_7177_6174_6368  # "liqwatch": one advisory lock for DDL (migrations and partitions)


def quote(name: str) -> str:
    """Return a quoted identifier (column names such as `open` and `close`)."""
    return '"' + name.replace('"', '""') + '"'


def _table_ddl(table: Table) -> str:
    cols = ", ".join(f"{quote(n)} {_PG[sql]}" for n, sql in table.columns)
    if table in EVENT_TABLES:
        return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, PRIMARY KEY (event_id, ts_event)) PARTITION BY RANGE (ts_event)"
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, PRIMARY KEY ({', '.join(table.key)}))"


# Indexes for the dashboard's and the CLI's queries (windows by time, per coin/venue, latest per symbol).
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS liquidations_ts ON liquidations (ts_event)",
    "CREATE INDEX IF NOT EXISTS liquidations_coin_ts ON liquidations (coin, ts_event)",
    "CREATE INDEX IF NOT EXISTS liquidations_venue_ts ON liquidations (venue, ts_event)",
    "CREATE INDEX IF NOT EXISTS open_interest_symbol_ts ON open_interest (venue, symbol, ts_event DESC)",
    "CREATE INDEX IF NOT EXISTS open_interest_coin_ts ON open_interest (coin, ts_event)",
    "CREATE INDEX IF NOT EXISTS mark_prices_symbol_ts ON mark_prices (venue, symbol, ts_event DESC)",
    "CREATE INDEX IF NOT EXISTS candles_symbol_ts ON candles (venue, symbol, ts_event DESC)",
    "CREATE INDEX IF NOT EXISTS feed_status_venue_ts ON feed_status (venue, ts_event)",
    "CREATE INDEX IF NOT EXISTS signals_ts ON signals (ts_event)",
)


def _v1(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    for table in ALL_TABLES:
        cur.execute(_table_ddl(table).encode())
    for sql in _INDEXES:
        cur.execute(sql.encode())


# (version, description, apply). Append only: a released migration never changes.
MIGRATIONS: tuple[tuple[int, str, Callable[[psycopg.Cursor[tuple[object, ...]]], None]], ...] = (
    (1, "event tables partitioned by day on ts_event, instruments, query indexes", _v1),
)
LATEST = MIGRATIONS[-1][0]


def migrate(con: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Apply the migrations this database lacks, in order, in one transaction; return the versions applied."""
    applied: list[int] = []
    with con.transaction(), con.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        cur.execute(
            "CREATE TABLE IF NOT EXISTS liqwatch_migrations "
            "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT coalesce(max(version), 0) FROM liqwatch_migrations")
        row = cur.fetchone()
        current = int(row[0]) if row else 0  # type: ignore[call-overload]
        for version, description, apply in MIGRATIONS:
            if version > current:
                apply(cur)
                cur.execute("INSERT INTO liqwatch_migrations (version, description) VALUES (%s, %s)", (version, description))
                applied.append(version)
    return applied


def day_of(ts_ns: int) -> int:
    """Return the UTC day number (days since the epoch) of a nanosecond timestamp."""
    return ts_ns // NS_PER_DAY


def partition_name(table: str, day: int) -> str:
    """Return `{table}_pYYYYMMDD` for a day number."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return f"{table}_p{date:%Y%m%d}"


def create_partitions(con: psycopg.Connection[tuple[object, ...]], table: str, days: set[int]) -> None:
    """Create the daily partitions of `table` for these days if they do not exist (safe with concurrent writers)."""
    with con.transaction(), con.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        for day in sorted(days):
            lo, hi = day * NS_PER_DAY, (day + 1) * NS_PER_DAY
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, day)} PARTITION OF {table} "
                f"FOR VALUES FROM ({lo}) TO ({hi})".encode()
            )


def drop_partitions_before(con: psycopg.Connection[tuple[object, ...]], day: int) -> list[str]:
    """Drop every event-table partition wholly before `day` (retention); return the dropped names."""
    dropped: list[str] = []
    with con.transaction(), con.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        for table in EVENT_TABLES:
            cur.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
                (table.name,),
            )
            for (name,) in cur.fetchall():
                if str(name) < partition_name(table.name, day):
                    cur.execute(f"DROP TABLE {quote(str(name))}".encode())
                    dropped.append(str(name))
    return dropped


__all__ = ["COPY_TYPES", "INSTRUMENTS", "LATEST", "MIGRATIONS", "create_partitions", "day_of", "migrate", "partition_name", "quote"]
