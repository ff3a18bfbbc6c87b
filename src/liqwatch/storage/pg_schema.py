"""PostgreSQL schema: the shared tables (storage/schema.py) as daily range partitions on `ts_event`, versioned migrations.

Event tables are `PARTITION BY RANGE (ts_event)` with one native partition per UTC day, created by liqwatch on
demand (`{table}_pYYYYMMDD`) under an advisory lock, so any number of ingesters may write. The primary key is
(event_id, ts_event): PostgreSQL requires the partition key in it, and ts_event is part of every event's dedup
key or comes with the venue's own id, so the table is still idempotent on `event_id`. The exception, a liquidation
without the venue's own time (BitMEX: ts_event is the receive time, new on a re-sent copy), is matched by
PostgresStore's insert against the stored rows of its event_id within `schema.UNTIMED_DEDUP_NS`, as DuckDBStore
does. Text columns use the "C" collation, so ORDER BY sorts exactly as DuckDB does. Migrations are numbered; `migrate()` applies the missing ones in order, once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import psycopg

from liqwatch.storage.schema import ALL_TABLES, DEAD_LETTERS, EVENT_TABLES, INSTRUMENTS, Table

NS_PER_DAY = 86_400 * 10**9
_PG = {"BIGINT": "BIGINT", "DOUBLE": "DOUBLE PRECISION", "VARCHAR": 'TEXT COLLATE "C"', "BOOLEAN": "BOOLEAN"}
COPY_TYPES = {"BIGINT": "int8", "DOUBLE": "float8", "VARCHAR": "text", "BOOLEAN": "bool"}
_LOCK = 0x6C69_7177_6174_6368  # "liqwatch": one advisory lock for DDL (migrations and partitions)
# "liqw", "untm": held by a transaction writing liquidations without the venue's own time (the two-int key space
# is separate from _LOCK's one-bigint one)
UNTIMED_LOCK = (0x6C69_7177, 0x756E_746D)


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


ROLLUP_KEYS = ("venue", "symbol", "market", "coin", "contract_type", "position_side")
_ROLLUP_KEY_SQL = ", ".join(ROLLUP_KEYS)
_ROLLUP_CELLS = (
    "usd DOUBLE PRECISION, n BIGINT NOT NULL, max_usd DOUBLE PRECISION, first_ts BIGINT NOT NULL, last_ts BIGINT NOT NULL"
)


def rollup_upsert(table: str, bucket: str, source: str) -> str:
    """Return INSERT … ON CONFLICT DO UPDATE adding `source`'s liquidation rows into a rollup (`bucket`: minute|hour).

    `source` is a relation with the liquidations' columns; only its rows are added, so callers pass the rows
    that were newly inserted (a duplicate write adds nothing).
    """
    width = 60 * 10**9 if bucket == "minute" else 3600 * 10**9
    upd = (
        f"usd = CASE WHEN {table}.usd IS NULL THEN EXCLUDED.usd WHEN EXCLUDED.usd IS NULL THEN {table}.usd "
        f"ELSE {table}.usd + EXCLUDED.usd END, n = {table}.n + EXCLUDED.n, "
        f"max_usd = greatest({table}.max_usd, EXCLUDED.max_usd), first_ts = least({table}.first_ts, EXCLUDED.first_ts), "
        f"last_ts = greatest({table}.last_ts, EXCLUDED.last_ts)"
    )
    return (
        f"INSERT INTO {table} ({bucket}, {_ROLLUP_KEY_SQL}, usd, n, max_usd, first_ts, last_ts) "
        f"SELECT ts_event - ts_event %% {width} AS b, {_ROLLUP_KEY_SQL}, sum(notional_usd), count(*), max(notional_usd), "
        f"min(ts_event), max(ts_event) FROM {source} GROUP BY b, {_ROLLUP_KEY_SQL} "
        f"ON CONFLICT ({bucket}, {_ROLLUP_KEY_SQL}) DO UPDATE SET {upd}"
    )


def _v2(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    keys = ", ".join(f'{k} TEXT COLLATE "C"' for k in ROLLUP_KEYS)
    for table, bucket in (("liquidations_1m", "minute"), ("liquidations_1h", "hour")):
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({bucket} BIGINT NOT NULL, {keys}, {_ROLLUP_CELLS})".encode())
        # NULLS NOT DISTINCT (PostgreSQL 15+): a NULL market or contract type still names one rollup row
        cur.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_key ON {table} ({bucket}, {_ROLLUP_KEY_SQL}) NULLS NOT DISTINCT".encode()
        )
        cur.execute(f"CREATE INDEX IF NOT EXISTS {table}_coin ON {table} (coin, {bucket})".encode())
        # a database written before the rollups existed: aggregate its liquidations once
        cur.execute(rollup_upsert(table, bucket, "liquidations").replace("%%", "%").encode())


def _v3(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    # the latest row per symbol at or before a time (open_interest_at, heatmap OI joins): one index descent each
    cur.execute("CREATE INDEX IF NOT EXISTS open_interest_symbol_ts_origin ON open_interest (venue, symbol, ts_event DESC, origin)")
    cur.execute("CREATE INDEX IF NOT EXISTS funding_symbol_ts ON mark_prices (venue, symbol, ts_event DESC) WHERE funding_rate IS NOT NULL")
    cur.execute("CREATE INDEX IF NOT EXISTS signals_coin_ts ON signals (coin, ts_event)")


def _v4(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    # what the store could not take (storage/dead_letters.py): few rows, not partitioned
    cur.execute(_table_ddl(DEAD_LETTERS).encode())
    cur.execute("CREATE INDEX IF NOT EXISTS dead_letters_ts ON dead_letters (ts_recorded)")


# (version, description, apply). Append only: a released migration never changes.
MIGRATIONS: tuple[tuple[int, str, Callable[[psycopg.Cursor[tuple[object, ...]]], None]], ...] = (
    (1, "event tables partitioned by day on ts_event, instruments, query indexes", _v1),
    (2, "per-minute and per-hour liquidation rollups (liquidations_1m, liquidations_1h)", _v2),
    (3, "latest-per-symbol indexes for open interest, funding; signals by coin", _v3),
    (4, "dead_letters: events and messages the store could not take, with the reason", _v4),
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
        if dropped:  # the rollups describe the stored liquidations: drop the same days from them
            cur.execute("DELETE FROM liquidations_1m WHERE minute < %s", (day * NS_PER_DAY,))
            cur.execute("DELETE FROM liquidations_1h WHERE hour < %s", (day * NS_PER_DAY,))
    return dropped


__all__ = ["COPY_TYPES", "INSTRUMENTS", "LATEST", "MIGRATIONS", "ROLLUP_KEYS", "UNTIMED_LOCK", "create_partitions", "day_of", "migrate", "partition_name", "quote", "rollup_upsert"]
