"""The server store: PostgreSQL 15+, daily partitions, binary COPY writes, idempotent on `event_id`.

Answers the same queries as DuckDBStore with the same rows (same columns, order and types), so the CLI, the
analytics and the dashboard run unchanged on either. Many processes may read and write at once. A lost
connection is reopened on the next call; every psycopg error becomes a StorageError naming what failed.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row

from liqwatch.errors import StorageError
from liqwatch.model import Event, Instrument
from liqwatch.storage import pg_schema, schema
from liqwatch.storage.pg_schema import COPY_TYPES, quote
from liqwatch.storage.schema import ALL_TABLES, INSTRUMENTS, TABLE_FOR, Table

logger = logging.getLogger(__name__)

_GROUPS = {"coin": "coin", "venue": "venue", "market": "market", "symbol": "venue, symbol", "contract_type": "contract_type"}


def _cols(table: Table, *, skip: tuple[str, ...] = ("event_id",)) -> str:
    return ", ".join(quote(n) for n, _ in table.columns if n not in skip)


def redact(url: str) -> str:
    """Return the URL without its password, for messages and logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + '@' if user else ''}{host}"


class PostgresStore:
    """EventStore on a PostgreSQL database (libpq URL)."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.path = redact(url)  # what status lines show, like DuckDBStore.path
        self.read_only = read_only
        self._lock = threading.RLock()  # one connection, shared by the writer thread and readers
        self._con: psycopg.Connection[Any] | None = None
        self._partitions: set[tuple[str, int]] = set()
        with self._use() as con:
            if not read_only:
                pg_schema.migrate(con)

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="liqwatch")
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {self.path}: {str(exc).strip()}; is the server running?") from None
        return con

    @contextmanager
    def _use(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            if self._con is None or self._con.closed or self._con.broken:
                self._con = self._connect()
            try:
                yield self._con
            except psycopg.Error as exc:
                if self._con.broken:
                    self._con = None
                raise StorageError(f"PostgreSQL at {self.path}: {str(exc).strip()}") from None

    # -- writes ---------------------------------------------------------------------------------
    def write(self, events: Sequence[Event]) -> dict[str, int]:
        """Store events idempotently (COPY into a staging table, then INSERT … ON CONFLICT); return new rows per table."""
        grouped: dict[Table, list[Any]] = defaultdict(list)
        for event in events:
            grouped[TABLE_FOR[type(event)]].append(event)
        out: dict[str, int] = {}
        with self._use() as con:
            for table, rows in grouped.items():
                out[table.name] = self._insert(con, table, rows)
        return out

    def _insert(self, con: psycopg.Connection[Any], table: Table, events: list[Any]) -> int:
        if table.replace:  # the last version of a key in the batch wins; one row per key per statement
            events = schema.last_version(events)
        columns = schema.rows_to_columns(table, events)
        names = [n for n, _ in table.columns]
        rows = list(zip(*(columns[n] for n in names), strict=True))
        days = {pg_schema.day_of(ts) for ts in columns["ts_event"]}
        missing = {d for d in days if (table.name, d) not in self._partitions}
        if missing:
            pg_schema.create_partitions(con, table.name, missing)
            self._partitions.update((table.name, d) for d in missing)
        stage = f"_stage_{table.name}"
        col_list = ", ".join(quote(n) for n in names)
        if table.replace:
            updates = ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in names[1:] if n != "ts_event")
            # arrival order is not guaranteed across collectors and retries: the version received last wins
            conflict = f"ON CONFLICT (event_id, ts_event) DO UPDATE SET {updates} WHERE {table.name}.ts_recv <= EXCLUDED.ts_recv"
        else:
            conflict = "ON CONFLICT DO NOTHING"
        with con.transaction(), con.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name}) ON COMMIT DELETE ROWS".encode())
            with cur.copy(f"COPY {stage} ({col_list}) FROM STDIN (FORMAT BINARY)".encode()) as copy:
                copy.set_types([COPY_TYPES[sql] for _, sql in table.columns])
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO {table.name} ({col_list}) SELECT {col_list} FROM {stage} {conflict}".encode())
            return max(cur.rowcount, 0)

    def write_instruments(self, instruments: Sequence[Instrument], ts_updated: int) -> int:
        """Insert or replace instrument specs."""
        if not instruments:
            return 0
        columns = schema.rows_to_columns(INSTRUMENTS, list(instruments))
        columns["ts_updated"] = [ts_updated] * len(instruments)
        names = [n for n, _ in INSTRUMENTS.columns]
        rows = list({(r[0], r[1]): r for r in zip(*(columns[n] for n in names), strict=True)}.values())
        col_list = ", ".join(quote(n) for n in names)
        updates = ", ".join(f"{quote(n)} = EXCLUDED.{quote(n)}" for n in names if n not in INSTRUMENTS.key)
        sql = (
            f"INSERT INTO instruments ({col_list}) VALUES ({', '.join(['%s'] * len(names))}) "
            f"ON CONFLICT (venue, symbol) DO UPDATE SET {updates}"
        )
        with self._use() as con, con.transaction(), con.cursor() as cur:
            cur.executemany(sql.encode(), rows)
        return len(rows)

    # -- reads ----------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._use() as con, con.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.encode(), list(params))
            return list(cur.fetchall())

    def load_instruments(self, venue: str | None = None) -> list[Instrument]:
        """Return cached instrument specs."""
        cols = _cols(INSTRUMENTS, skip=("ts_updated",))
        sql = f"SELECT {cols} FROM instruments" + (" WHERE venue = %s" if venue else "") + " ORDER BY venue, symbol"
        return [msgspec.convert(r, Instrument) for r in self._rows(sql, [venue] if venue else [])]

    def liquidations(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        venue: str | None = None,
        coin: str | None = None,
        min_usd: float | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Return liquidations with since < ts_event <= until."""
        where, params = _filters(since, until, venue, coin, min_usd)
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {_cols(schema.LIQUIDATIONS)} FROM liquidations{where} ORDER BY ts_event {order}, event_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql, params)

    def top_liquidations(self, *, since: int, until: int, limit: int = 10, coin: str | None = None) -> list[dict[str, Any]]:
        """Return the largest liquidations by USD notional in (since, until]."""
        where, params = _filters(since, until, None, coin, None)
        return self._rows(
            f"SELECT {_cols(schema.LIQUIDATIONS)} FROM liquidations{where} "
            f"ORDER BY notional_usd DESC, ts_event, event_id LIMIT {int(limit)}",
            params,
        )

    def liquidation_totals(self, *, since: int, until: int, group_by: str | None = None) -> list[dict[str, Any]]:
        """Return long/short USD and counts over (since, until], optionally grouped."""
        where, params = _filters(since, until, None, None, None)
        keys = _GROUPS[group_by] if group_by else ""
        select_keys = f"{keys}, " if keys else ""
        sql = (
            f"SELECT {select_keys}"
            "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'long'), 0) AS long_usd, "
            "coalesce(sum(notional_usd) FILTER (WHERE position_side = 'short'), 0) AS short_usd, "
            "count(*) FILTER (WHERE position_side = 'long') AS long_count, "
            "count(*) FILTER (WHERE position_side = 'short') AS short_count "
            f"FROM liquidations{where}"
        )
        if keys:
            sql = f"SELECT * FROM ({sql} GROUP BY {keys}) t ORDER BY long_usd + short_usd DESC, {keys}"
        return self._rows(sql, params)

    def venues_active(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return per venue: liquidation count, first/last event time, and feed-status changes in the window."""
        return self._rows(
            "WITH l AS (SELECT venue, count(*) AS liquidations, min(ts_event) AS first_ts, max(ts_event) AS last_ts "
            "FROM liquidations WHERE ts_event > %s AND ts_event <= %s GROUP BY venue), "
            "s AS (SELECT venue, count(*) FILTER (WHERE state IN ('disconnected', 'stale')) AS outages "
            "FROM feed_status WHERE ts_event > %s AND ts_event <= %s GROUP BY venue) "
            "SELECT coalesce(l.venue, s.venue) AS venue, coalesce(liquidations, 0) AS liquidations, first_ts, last_ts, "
            "coalesce(outages, 0) AS outages FROM l FULL OUTER JOIN s ON l.venue = s.venue ORDER BY 1",
            [since, until, since, until],
        )

    def open_interest_at(
        self, at: int, *, coin: str | None = None, price_max_age_ns: int = 86_400 * 10**9
    ) -> list[dict[str, Any]]:
        """Return the latest OI row per (venue, symbol) at or before `at`, with the nearest mark price and 1m close."""
        oldest = at - price_max_age_ns
        coin_clause = " AND coin = %s" if coin else ""
        params: list[Any] = [at, *([coin.upper()] if coin else []), at, oldest, at, oldest]
        return self._rows(
            f"WITH oi AS (SELECT DISTINCT ON (venue, symbol) {_cols(schema.OPEN_INTEREST)} FROM open_interest "
            f"WHERE ts_event <= %s{coin_clause} ORDER BY venue, symbol, ts_event DESC, origin), "
            "mk AS (SELECT DISTINCT ON (venue, symbol) venue, symbol, mark_price, ts_event AS mark_ts FROM mark_prices "
            "WHERE ts_event <= %s AND ts_event >= %s AND mark_price IS NOT NULL ORDER BY venue, symbol, ts_event DESC), "
            "cd AS (SELECT DISTINCT ON (venue, symbol) venue, symbol, close AS candle_close, ts_event + 60000000000 AS candle_ts "
            "FROM candles WHERE interval_s = 60 AND ts_event + 60000000000 <= %s AND ts_event + 60000000000 >= %s "
            "ORDER BY venue, symbol, ts_event DESC) "
            "SELECT oi.*, mk.mark_price, mk.mark_ts, cd.candle_close, cd.candle_ts FROM oi "
            "LEFT JOIN mk ON mk.venue = oi.venue AND mk.symbol = oi.symbol "
            "LEFT JOIN cd ON cd.venue = oi.venue AND cd.symbol = oi.symbol "
            "ORDER BY oi.coin, oi.venue, oi.symbol",
            params,
        )

    def count(self, table: str) -> int:
        """Return the number of rows of a table."""
        if table not in {t.name for t in ALL_TABLES}:
            raise StorageError(f"unknown table {table!r}")
        rows = self._rows(f"SELECT count(*) AS n FROM {table}")
        return int(rows[0]["n"])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (`?` placeholders, as in DuckDBStore.execute); return its rows."""
        with self._use() as con, con.cursor() as cur:
            cur.execute(sql.replace("?", "%s").encode(), list(params))
            return list(cur.fetchall()) if cur.description else []

    def drop_partitions_before(self, ts_ns: int) -> list[str]:
        """Drop whole days of events older than `ts_ns` (retention); return the partitions dropped."""
        with self._use() as con:
            dropped = pg_schema.drop_partitions_before(con, pg_schema.day_of(ts_ns))
        self._partitions.clear()
        return dropped

    def checkpoint(self) -> None:
        """Nothing to do: PostgreSQL persists every committed write."""

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _filters(
    since: int | None, until: int | None, venue: str | None, coin: str | None, min_usd: float | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("ts_event > %s", since),
        ("ts_event <= %s", until),
        ("venue = %s", venue),
        ("coin = %s", coin.upper() if coin else None),
        ("notional_usd >= %s", min_usd),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
