"""The server store: PostgreSQL 15+, daily partitions, binary COPY writes, idempotent on `event_id`.

Answers the same queries as DuckDBStore with the same rows (same columns, order and types), so the CLI, the
analytics and the dashboard run unchanged on either. Many processes may read and write at once. A lost
connection is reopened on the next call; every psycopg error becomes a StorageError naming what failed.
"""

from __future__ import annotations

import logging
import operator
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
import numpy as np
import psycopg
from psycopg.rows import dict_row

from liqwatch.errors import StorageError, StoreRejectedData
from liqwatch.model import Event, Instrument, Signal
from liqwatch.redact import redact_url, redact_urls_in
from liqwatch.storage import pg_schema, rollup, schema
from liqwatch.storage.dead_letters import DeadLetter, letter_id
from liqwatch.storage.pg_schema import COPY_TYPES, quote
from liqwatch.storage.schema import ALL_TABLES, DEAD_LETTERS, INSTRUMENTS, TABLE_FOR, Table
from liqwatch.storage.sql_queries import CandleQueries, WindowQueries

logger = logging.getLogger(__name__)

def _pg(sql: str) -> str:
    """Return DuckDB-style SQL (`?` placeholders) in psycopg's style (`%s`, a literal `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _cols(table: Table, *, skip: tuple[str, ...] = ("event_id",)) -> str:
    return ", ".join(quote(n) for n, _ in table.columns if n not in skip)


class PostgresStore(WindowQueries, CandleQueries):
    """EventStore on a PostgreSQL database (libpq URL)."""

    dialect = "postgres"  # for the few analytics queries that need another SQL form than DuckDB's (heatmap ASOF join)

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.path = redact_url(url)  # what status lines show, like DuckDBStore.path: password and query values masked
        self.read_only = read_only
        self._lock = threading.RLock()  # one connection, shared by the writer thread and readers
        self._con: psycopg.Connection[Any] | None = None
        self._partitions: set[tuple[str, int]] = set()
        with self._use() as con:
            if not read_only:
                pg_schema.migrate(con)

    # -- connection -----------------------------------------------------------------------------
    def _why(self, exc: BaseException) -> str:
        """Return libpq's message with the URL's password and query values masked (it may echo the conninfo)."""
        return redact_urls_in(str(exc).strip(), [self.url])

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            con = psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="liqwatch")
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {self.path}: {self._why(exc)}; is the server running?") from None
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
                # a value the server refuses (out of range, no partition for it): retrying cannot cure it
                kind = StoreRejectedData if isinstance(exc, psycopg.DataError | psycopg.IntegrityError) else StorageError
                raise kind(f"PostgreSQL at {self.path}: {self._why(exc)}") from None

    # -- writes ---------------------------------------------------------------------------------
    def write(self, events: Sequence[Event | Signal]) -> dict[str, int]:
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
        untimed = False
        if table is schema.LIQUIDATIONS:  # the same event twice in one batch: keep the first, as DuckDBStore does
            columns = schema.drop_repeated_liquidations(columns)
            untimed = any(map(operator.eq, columns["ts_event"], columns["ts_recv"]))
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
        where = ""
        if untimed:
            # a row without the venue's own time (BitMEX) is also a duplicate of a stored row with its event_id within
            # UNTIMED_DEDUP_NS (the key's ts_event is a receive time a re-sent copy does not share); each such row is
            # one probe of the (event_id, ts_event) primary key. The OR keeps it a per-row subplan, never an anti-join
            # over the whole table. Batches without such rows run the plain statement.
            where = (
                f" WHERE {stage}.ts_event <> {stage}.ts_recv OR NOT EXISTS (SELECT 1 FROM liquidations l "
                f"WHERE l.event_id = {stage}.event_id AND l.ts_event >= {stage}.ts_event - {schema.UNTIMED_DEDUP_NS} "
                f"AND l.ts_event <= {stage}.ts_event + {schema.UNTIMED_DEDUP_NS})"
            )
        with con.transaction(), con.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name}) ON COMMIT DELETE ROWS".encode())
            with cur.copy(f"COPY {stage} ({col_list}) FROM STDIN (FORMAT BINARY)".encode()) as copy:
                copy.set_types([COPY_TYPES[sql] for _, sql in table.columns])
                for row in rows:
                    copy.write_row(row)
            insert = f"INSERT INTO {table.name} ({col_list}) SELECT {col_list} FROM {stage}{where} {conflict}"
            if untimed:
                # writers of untimed rows take turns until commit, so two ingesters cannot both store one re-send (the
                # primary key cannot catch it: the copies' ts_event differ); the INSERT then sees what the last committed
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", pg_schema.UNTIMED_LOCK)
            if table.name != "liquidations":
                cur.execute(insert.encode())
                return max(cur.rowcount, 0)
            # the rollups grow by exactly the rows this statement inserted (RETURNING), in the same transaction
            cur.execute(
                f"WITH new AS ({insert} RETURNING *), "
                f"m AS ({pg_schema.rollup_upsert(rollup.TABLE, 'minute', 'new')} RETURNING 1), "
                f"h AS ({pg_schema.rollup_upsert(rollup.HOUR_TABLE, 'hour', 'new')} RETURNING 1) "
                "SELECT count(*) FROM new".encode(),
                [],
            )
            inserted = cur.fetchone()
            return int(inserted[0]) if inserted else 0

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

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep events the store could not take (storage/dead_letters.py); the same one twice is kept once."""
        names = [n for n, _ in DEAD_LETTERS.columns]
        rows = [[letter_id(d), *(getattr(d, n) for n in names[1:])] for d in letters]
        sql = f"INSERT INTO dead_letters ({', '.join(map(quote, names))}) VALUES ({', '.join(['%s'] * len(names))}) ON CONFLICT DO NOTHING"
        with self._use() as con, con.transaction(), con.cursor() as cur:
            cur.executemany(sql.encode(), rows)
        return len(rows)

    def dead_letters(self, *, since: int, until: int, limit: int = 1000) -> list[dict[str, Any]]:
        """Return the dead letters kept in (since, until], newest first (none before the table's migration)."""
        if not self._rows("SELECT 1 AS x WHERE to_regclass('public.dead_letters') IS NOT NULL"):
            return []
        return self._rows(
            f"SELECT {_cols(DEAD_LETTERS, skip=('letter_id',))} FROM dead_letters WHERE ts_recorded > %s AND ts_recorded <= %s "
            f"ORDER BY ts_recorded DESC, venue LIMIT {int(limit)}",
            [since, until],
        )

    # -- reads ----------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._use() as con, con.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.encode(), list(params))
            return list(cur.fetchall())

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._rows(_pg(sql), params)

    def _source(self, since: int, until: int, coin: str | None = None, bar_ns: int | None = None) -> tuple[str, list[Any]]:
        return rollup.window_source(since, until, coin, bar_ns=bar_ns)

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

    def top_liquidations(
        self, *, since: int, until: int, limit: int = 10, coin: str | None = None, min_usd: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the largest liquidations by USD notional in (since, until] (`min_usd`: a known lower bound)."""
        where, params = _filters(since, until, None, coin, min_usd)
        if min_usd is None:
            # the n largest rows lie in the n minute buckets with the largest maxima: scan only rows that large
            src, sparams = rollup.window_source(since, until, coin)
            floor = self._rows(
                _pg(f"SELECT max_usd FROM ({src}) w ORDER BY max_usd DESC LIMIT 1 OFFSET {max(int(limit) - 1, 0)}"), sparams
            )
            if floor and floor[0]["max_usd"] is not None:
                where += " AND notional_usd >= %s"
                params.append(floor[0]["max_usd"])
        return self._rows(
            f"SELECT {_cols(schema.LIQUIDATIONS)} FROM liquidations{where} "
            f"ORDER BY notional_usd DESC, ts_event, event_id LIMIT {int(limit)}",
            params,
        )

    def feed_status_changes(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return each connection's last feed_status at or before `since`, then every one in (since, until]."""
        return self._rows(
            "SELECT * FROM (SELECT DISTINCT ON (venue, connection_id) venue, connection_id, state, detail, ts_event "
            "FROM feed_status WHERE ts_event <= %s ORDER BY venue, connection_id, ts_event DESC) b "
            "UNION ALL SELECT venue, connection_id, state, detail, ts_event FROM feed_status "
            "WHERE ts_event > %s AND ts_event <= %s ORDER BY ts_event, venue, connection_id",
            [since, since, until],
        )

    # -- prices, funding, signals (as MarketQueries on DuckDB) -------------------------------------------
    def funding_at(self, *, at: int, coin: str | None = None, max_age_ns: int = 86_400 * 10**9) -> list[dict[str, Any]]:
        """Return the newest funding rate per (venue, symbol) at or before `at`, no older than `max_age_ns`."""
        coin_sql = " AND coin = %s" if coin else ""
        return self._rows(
            "SELECT * FROM (SELECT DISTINCT ON (venue, symbol) venue, symbol, market, coin, funding_rate, "
            "funding_interval_s, ts_event FROM mark_prices "
            f"WHERE ts_event <= %s AND ts_event >= %s AND funding_rate IS NOT NULL{coin_sql} "
            "ORDER BY venue, symbol, ts_event DESC) f ORDER BY coin, venue, symbol",
            [at, at - max_age_ns, *([coin.upper()] if coin else [])],
        )

    def signal_rows(self, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return stored signals with since < ts_event <= until, newest first."""
        coin_sql = " AND coin = %s" if coin else ""
        return self._rows(
            f"SELECT {_cols(schema.SIGNALS)} FROM signals WHERE ts_event > %s AND ts_event <= %s{coin_sql} "
            "ORDER BY ts_event DESC, kind, coin",
            [since, until, *([coin.upper()] if coin else [])],
        )

    def open_interest_at(
        self, at: int, *, coin: str | None = None, price_max_age_ns: int = 86_400 * 10**9
    ) -> list[dict[str, Any]]:
        """Return the latest OI row per (venue, symbol) at or before `at`, with the nearest mark price and 1m close.

        One index descent per symbol (open_interest (venue, symbol, ts_event DESC, origin)), not a scan of history:
        the symbols come from the instruments seen in open_interest, each probed with LATERAL … LIMIT 1.
        """
        oldest = at - price_max_age_ns
        coin_clause = " AND o.coin = %s" if coin else ""
        cols = ", ".join(f"o.{quote(n)}" for n, _ in schema.OPEN_INTEREST.columns if n != "event_id")
        params: list[Any] = [at, *([coin.upper()] if coin else []), at, oldest, at, oldest]
        return self._rows(
            # the distinct (venue, symbol) pairs by a recursive skip scan over the index: O(symbols · log n)
            "WITH RECURSIVE k AS ("
            "(SELECT venue, symbol FROM open_interest ORDER BY venue, symbol LIMIT 1) UNION ALL "
            "SELECT x.venue, x.symbol FROM k, LATERAL (SELECT venue, symbol FROM open_interest o "
            "WHERE (o.venue, o.symbol) > (k.venue, k.symbol) ORDER BY venue, symbol LIMIT 1) x), "
            f"oi AS (SELECT {cols} FROM k, LATERAL (SELECT * FROM open_interest o WHERE o.venue = k.venue "
            f"AND o.symbol = k.symbol AND o.ts_event <= %s ORDER BY o.ts_event DESC, o.origin LIMIT 1) o "
            f"WHERE true{coin_clause}) "
            "SELECT oi.*, mk.mark_price, mk.mark_ts, cd.candle_close, cd.candle_ts FROM oi "
            "LEFT JOIN LATERAL (SELECT mark_price, ts_event AS mark_ts FROM mark_prices m WHERE m.venue = oi.venue "
            "AND m.symbol = oi.symbol AND m.ts_event <= %s AND m.ts_event >= %s AND m.mark_price IS NOT NULL "
            "ORDER BY m.ts_event DESC LIMIT 1) mk ON true "
            "LEFT JOIN LATERAL (SELECT close AS candle_close, ts_event + 60000000000 AS candle_ts FROM candles c "
            "WHERE c.venue = oi.venue AND c.symbol = oi.symbol AND c.interval_s = 60 AND c.ts_event <= %s - 60000000000 "
            "AND c.ts_event >= %s - 60000000000 ORDER BY c.ts_event DESC LIMIT 1) cd ON true "
            "ORDER BY oi.coin, oi.venue, oi.symbol",
            params,
        )

    def fetch_columns(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any]:
        """Run one query (`?` placeholders) and return its columns as numpy arrays (NULLs masked), as DuckDBStore does."""
        with self._use() as con, con.cursor() as cur:
            cur.execute(_pg(sql).encode(), list(params))
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        return {name: _numpy_column([r[i] for r in rows]) for i, name in enumerate(names)}

    def count(self, table: str) -> int:
        """Return the number of rows of a table."""
        if table not in {t.name for t in (*ALL_TABLES, DEAD_LETTERS)}:
            raise StorageError(f"unknown table {table!r}")
        rows = self._rows(f"SELECT count(*) AS n FROM {table}")
        return int(rows[0]["n"])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (`?` placeholders, as in DuckDBStore.execute); return its rows."""
        with self._use() as con, con.cursor() as cur:
            cur.execute(_pg(sql).encode(), list(params))
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


def _numpy_column(values: list[Any]) -> Any:
    """Return a column as numpy: int64/float64/bool/object like DuckDB's fetchnumpy, NULLs masked."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    dtype: Any = object
    fill: Any = None
    if kinds and kinds <= {int}:
        dtype, fill = np.int64, 0
    elif kinds and kinds <= {int, float}:
        dtype, fill = np.float64, np.nan
    elif kinds == {bool}:
        dtype, fill = np.bool_, False
    if len(present) == len(values):
        return np.array(values, dtype=dtype)
    mask = np.array([v is None for v in values], dtype=bool)
    data = np.array([fill if v is None else v for v in values], dtype=dtype)
    return np.ma.masked_array(data, mask=mask)


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
