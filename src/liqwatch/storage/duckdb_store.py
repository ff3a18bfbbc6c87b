"""The embedded default store: one DuckDB file, Arrow batch inserts, idempotent on `event_id`.

A DuckDB file takes one writer process at a time: `liqwatch up` keeps collector, analytics and dashboard in
one process; a second process gets a clear StorageError naming the lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa

from liqwatch.errors import StorageError, StoreInUse, StoreNotFound, StoreRejectedData
from liqwatch.model import Event, Instrument, Signal
from liqwatch.storage import rollup, schema
from liqwatch.storage.dead_letters import DeadLetter, letter_id
from liqwatch.storage.duckdb_market import MarketQueries
from liqwatch.storage.schema import ALL_TABLES, DEAD_LETTERS, INSTRUMENTS, TABLE_FOR, UNTIMED_DEDUP_NS, Table
from liqwatch.storage.sql_queries import CandleQueries, WindowQueries

logger = logging.getLogger(__name__)

_ARROW = {"BIGINT": pa.int64(), "DOUBLE": pa.float64(), "VARCHAR": pa.string(), "BOOLEAN": pa.bool_()}
# The hot table has no PRIMARY KEY: maintaining its ART index cost more than everything else in a write at 50k
# rows/s. `_insert_liquidations` dedups each batch instead, on (event_id, ts_event) like the PostgreSQL backend.
_UNINDEXED = frozenset({"liquidations"})
# errors caused by the values written, not by the store: retrying cannot cure them (storage/dead_letters.py)
_DATA_ERRORS = (duckdb.DataError, duckdb.IntegrityError, duckdb.InvalidInputException)


def _write_error(what: str, exc: duckdb.Error) -> StorageError:
    kind = StoreRejectedData if isinstance(exc, _DATA_ERRORS) else StorageError
    return kind(f"writing {what} failed: {exc}")


def _ddl(table: Table) -> str:
    cols = ", ".join(f"{name} {sql}" for name, sql in table.columns)
    if table.name in _UNINDEXED:
        return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols})"
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({cols}, PRIMARY KEY ({', '.join(table.key)}))"


class DuckDBStore(WindowQueries, CandleQueries, MarketQueries):
    """EventStore on a DuckDB file (or ':memory:')."""

    dialect = "duckdb"  # storage/dialect.py: the SQL spellings analytics queries use on this store

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            file = Path(self.path).expanduser()
            if read_only and not file.exists():  # a read never creates a store (nor its folders)
                raise StoreNotFound(self.path)
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the folder of the database {self.path}: {exc.strerror or exc}") from None
        try:
            self._con = duckdb.connect(str(Path(self.path).expanduser()) if self.path != ":memory:" else self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreInUse(
                    f"the database {self.path} is in use by another process (DuckDB allows one process per file): "
                    "stop the other liqwatch, or pass --db with another file"
                ) from None
            raise StorageError(f"cannot open the database {self.path}: {exc}") from None
        except duckdb.Error as exc:
            raise StorageError(f"cannot open the database {self.path}: {exc}; is it a DuckDB file?") from None
        if hasattr(os, "sched_getaffinity"):
            # as many threads as CPUs this process may use (DuckDB counts the machine's): pinned to one core, extra
            # threads only take turns with the event loop
            with contextlib.suppress(duckdb.Error):
                self._con.execute(f"SET threads = {max(1, len(os.sched_getaffinity(0)))}")
        self._rollup = not read_only or (self._has_table(rollup.TABLE) and self._has_table(rollup.HOUR_TABLE))
        if not read_only:
            for table in (*ALL_TABLES, DEAD_LETTERS):
                self._con.execute(_ddl(table))
            self._con.execute(rollup.DDL)
            self._con.execute(rollup.HOUR_DDL)
            self._sync_rollup()
        # a file created before liquidations lost its PRIMARY KEY keeps it (DuckDB cannot drop one); still correct
        self._liquidations_keyed = bool(self._rows(
            "SELECT count(*) AS n FROM duckdb_constraints() WHERE table_name = 'liquidations' AND constraint_type = 'PRIMARY KEY'"
        )[0]["n"])

    def _has_table(self, name: str) -> bool:
        rows = self._con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchall()
        return bool(rows[0][0])

    def _sync_rollup(self) -> None:
        # a file written before the rollup existed (or by another tool) is re-aggregated once
        raw = self._con.execute("SELECT count(*) FROM liquidations").fetchall()[0][0]
        rolled = self._con.execute(f"SELECT coalesce(sum(n), 0) FROM {rollup.TABLE}").fetchall()[0][0]
        hourly = self._con.execute(f"SELECT coalesce(sum(n), 0) FROM {rollup.HOUR_TABLE}").fetchall()[0][0]
        if not int(raw) == int(rolled) == int(hourly):
            logger.info("rebuilding %s from %d liquidations", rollup.TABLE, raw)
            for sql in rollup.REBUILD_SQL:
                self._con.execute(sql)

    # -- writes ---------------------------------------------------------------------------------
    def write(self, events: Sequence[Event | Signal]) -> dict[str, int]:
        """Store events idempotently; return new rows per table."""
        grouped: dict[Table, list[Any]] = defaultdict(list)
        for event in events:
            grouped[TABLE_FOR[type(event)]].append(event)
        return {table.name: self._insert(table, rows) for table, rows in grouped.items()}

    def _insert_liquidations(self, rows: list[Any]) -> int:
        """Insert the batch's new liquidations and merge them into the rollups, in one transaction.

        A row is a duplicate when a stored row (or an earlier row of the batch) has the same event_id and ts_event,
        the PostgreSQL backend's key: ts_event is part of every liquidation's dedup key, or comes with the venue's
        own id. A row without the venue's own time (ts_event == ts_recv: BitMEX's liquidation table) matches on
        event_id alone within `UNTIMED_DEDUP_NS`, because a re-sent copy arrives with a new receive time. Stored
        rows are looked up only in the batch's ts_event range (widened by that window when such rows are in the
        batch), which the zone maps of a time-ordered table narrow to its last row groups: a write costs O(batch).
        """
        # the same event twice in one batch: keep the first
        columns = schema.drop_repeated_liquidations(schema.rows_to_columns(schema.LIQUIDATIONS, rows))
        ids, ts, recv = columns["event_id"], columns["ts_event"], columns["ts_recv"]
        untimed = any(t == r for t, r in zip(ts, recv, strict=True))
        window = UNTIMED_DEDUP_NS if untimed else 0
        arrow = pa.table({n: pa.array(columns[n], type=_ARROW[sql]) for n, sql in schema.LIQUIDATIONS.columns})
        con = self._con
        try:
            con.register("_batch", arrow)
            try:
                con.execute("BEGIN TRANSACTION")
                stored = con.execute(
                    "SELECT b.event_id, b.ts_event FROM _batch b SEMI JOIN "
                    "(SELECT event_id, ts_event FROM liquidations WHERE ts_event >= ? AND ts_event <= ?) l "
                    "ON b.event_id = l.event_id AND (b.ts_event = l.ts_event "
                    "OR (b.ts_event = b.ts_recv AND abs(l.ts_event - b.ts_event) <= ?))",
                    [min(ts) - window, max(ts) + window, window],
                ).fetchall()
                if stored:  # re-sent events (a replay, a reconnect snapshot): insert only the others
                    old = set(stored)
                    new = [k not in old for k in zip(ids, ts, strict=True)]
                    con.unregister("_batch")
                    arrow = arrow.filter(pa.array(new, type=pa.bool_()))
                    con.register("_batch", arrow)
                    ts = [t for t, k in zip(ts, new, strict=True) if k]
                inserted = 0
                if arrow.num_rows:
                    verb = "INSERT OR IGNORE" if self._liquidations_keyed else "INSERT"
                    fetched = con.execute(f"{verb} INTO liquidations SELECT * FROM _batch").fetchall()
                    inserted = int(fetched[0][0]) if fetched else 0
                    minutes = list({t - t % rollup.MINUTE_NS for t in ts})
                    # a legacy PRIMARY KEY on event_id alone may have ignored a row: then re-aggregate exactly
                    statements = (
                        rollup.merge_sql(minutes) if inserted == arrow.num_rows else rollup.refresh_sql(minutes)
                    )
                    for sql, params in statements:
                        con.execute(sql, params)
                con.execute("COMMIT")
            finally:
                con.unregister("_batch")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise _write_error(f"{len(rows)} rows to liquidations", exc) from None
        except Exception:  # a value Python cannot hand to DuckDB (an int beyond int64): no transaction left open
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        return inserted

    def _insert(self, table: Table, rows: list[Any]) -> int:
        if table is schema.LIQUIDATIONS:
            return self._insert_liquidations(rows)
        if table.replace:  # INSERT OR REPLACE keeps the first of two same-key rows in one batch: pass only the last
            rows = schema.last_version(rows)
        columns = schema.rows_to_columns(table, rows)
        arrow = pa.table({n: pa.array(columns[n], type=_ARROW[sql]) for n, sql in table.columns})
        verb = "INSERT OR REPLACE" if table.replace else "INSERT OR IGNORE"
        rolls = table.name == "liquidations"
        try:
            self._con.register("_batch", arrow)
            try:
                if rolls:
                    self._con.execute("BEGIN TRANSACTION")
                fetched = self._con.execute(f"{verb} INTO {table.name} SELECT * FROM _batch").fetchall()
                result = fetched[0] if fetched else None
                if rolls:
                    if result and int(result[0]):
                        minutes = [rollup.minute_of(ts) for ts in columns["ts_event"]]
                        for sql, params in rollup.refresh_sql(minutes):
                            self._con.execute(sql, params)
                    self._con.execute("COMMIT")
            finally:
                self._con.unregister("_batch")
        except Exception as exc:  # also a value Python cannot hand to DuckDB: no transaction left open
            if rolls:
                with contextlib.suppress(duckdb.Error):
                    self._con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise _write_error(f"{len(rows)} rows to {table.name}", exc) from None
            raise
        return int(result[0]) if result else 0

    def write_instruments(self, instruments: Sequence[Instrument], ts_updated: int) -> int:
        """Insert or replace instrument specs."""
        if not instruments:
            return 0
        columns = schema.rows_to_columns(INSTRUMENTS, list(instruments))
        columns["ts_updated"] = [ts_updated] * len(instruments)
        arrow = pa.table({n: pa.array(columns[n], type=_ARROW[sql]) for n, sql in INSTRUMENTS.columns})
        self._con.register("_batch", arrow)
        try:
            self._con.execute("INSERT OR REPLACE INTO instruments SELECT * FROM _batch")
        finally:
            self._con.unregister("_batch")
        return len(instruments)

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep events the store could not take (storage/dead_letters.py); the same one twice is kept once."""
        names = [n for n, _ in DEAD_LETTERS.columns]
        rows = [[letter_id(d), *(getattr(d, n) for n in names[1:])] for d in letters]
        try:
            self._con.executemany(f"INSERT OR IGNORE INTO dead_letters ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        except duckdb.Error as exc:
            raise _write_error(f"{len(rows)} dead letters", exc) from None
        return len(rows)

    def dead_letters(self, *, since: int, until: int, limit: int = 1000) -> list[dict[str, Any]]:
        """Return the dead letters kept in (since, until], newest first (none in a file written before the table)."""
        if not self._has_table(DEAD_LETTERS.name):
            return []
        cols = ", ".join(n for n, _ in DEAD_LETTERS.columns if n != "letter_id")
        return self._rows(
            f"SELECT {cols} FROM dead_letters WHERE ts_recorded > ? AND ts_recorded <= ? "
            f"ORDER BY ts_recorded DESC, venue LIMIT {int(limit)}",
            [since, until],
        )

    # -- reads ----------------------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cur = self._con.execute(sql, list(params))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except duckdb.Error as exc:
            raise StorageError(f"query failed: {exc}") from None

    def load_instruments(self, venue: str | None = None) -> list[Instrument]:
        """Return cached instrument specs."""
        names = [n for n, _ in INSTRUMENTS.columns if n != "ts_updated"]
        sql = f"SELECT {', '.join(names)} FROM instruments" + (" WHERE venue = ?" if venue else "")
        rows = self._rows(sql, [venue] if venue else [])
        return [msgspec.convert(r, Instrument) for r in rows]

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
        sql = f"SELECT * EXCLUDE (event_id) FROM liquidations{where} ORDER BY ts_event {order}, event_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._rows(sql, params)

    def top_liquidations(
        self, *, since: int, until: int, limit: int = 10, coin: str | None = None, min_usd: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the largest liquidations by USD notional in (since, until].

        `min_usd`, when the caller knows a lower bound of the limit-th largest (e.g. from `liquidation_summary`),
        spares the bound's own query.
        """
        where, params = _filters(since, until, None, coin, min_usd)
        if self._rollup and min_usd is None:
            # the n largest rows lie in the n minute buckets with the largest maxima: scan only rows that large
            src, sparams = rollup.window_source(since, until, coin)
            floor = self._rows(
                f"SELECT max_usd FROM ({src}) ORDER BY max_usd DESC LIMIT 1 OFFSET {max(int(limit) - 1, 0)}", sparams
            )
            if floor:
                where += " AND notional_usd >= ?"
                params.append(floor[0]["max_usd"])
        return self._rows(
            f"SELECT * EXCLUDE (event_id) FROM liquidations{where} ORDER BY notional_usd DESC, ts_event, event_id LIMIT {int(limit)}", params
        )

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._rows(sql, params)

    def _require_rollup(self) -> None:
        if not self._rollup:
            raise StorageError(f"{self.path} has no {rollup.TABLE} table; open it once writable to build it")

    def _source(self, since: int, until: int, coin: str | None = None, bar_ns: int | None = None) -> tuple[str, list[Any]]:
        if self._rollup:
            return rollup.window_source(since, until, coin, bar_ns=bar_ns)
        where, params = _filters(since, until, None, coin, None)
        bar = f", ts_event - ts_event % {int(bar_ns)} AS bar" if bar_ns is not None else ""
        return (
            f"SELECT {rollup.COLUMNS}, notional_usd AS usd, 1 AS n, notional_usd AS max_usd, ts_event AS first_ts, "
            f"ts_event AS last_ts{bar} FROM liquidations{where}",
            params,
        )

    def feed_status_changes(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return each connection's last feed_status at or before `since`, then every one in (since, until]."""
        return self._rows(
            "SELECT venue, connection_id, state, detail, ts_event FROM ("
            "SELECT *, row_number() OVER (PARTITION BY venue, connection_id ORDER BY ts_event DESC) AS n "
            "FROM feed_status WHERE ts_event <= ?) WHERE n = 1 "
            "UNION ALL SELECT venue, connection_id, state, detail, ts_event FROM feed_status "
            "WHERE ts_event > ? AND ts_event <= ? ORDER BY ts_event, venue, connection_id",
            [since, since, until],
        )

    def count(self, table: str) -> int:
        """Return the number of rows of a table."""
        if table not in {t.name for t in (*ALL_TABLES, DEAD_LETTERS)}:
            raise StorageError(f"unknown table {table!r}")
        # fetchall: duckdb 2 keeps a half-read result open after fetchone and refuses the next statement
        rows = self._con.execute(f"SELECT count(*) FROM {table}").fetchall()
        return int(rows[0][0]) if rows else 0

    def checkpoint(self) -> None:
        """Flush the write-ahead log into the database file."""
        self._con.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the connection (DuckDB checkpoints on close)."""
        self._con.close()

    def open_interest_at(
        self, at: int, *, coin: str | None = None, price_max_age_ns: int = 86_400 * 10**9
    ) -> list[dict[str, Any]]:
        """Return the latest OI row per (venue, symbol) at or before `at`, with the nearest mark price and 1m close.

        `mark_price`/`mark_ts` and `candle_close`/`candle_ts` (bar close time) are the newest at or before `at`
        and no older than `price_max_age_ns`; None where there is none. Any venue name is accepted.
        """
        oldest = at - price_max_age_ns
        coin_clause = " AND coin = ?" if coin else ""
        params: list[Any] = [at, *([coin.upper()] if coin else []), at, oldest, at, oldest]
        return self._rows(
            "WITH oi AS (SELECT * EXCLUDE (event_id) FROM open_interest WHERE ts_event <= ?" + coin_clause + " "
            "QUALIFY row_number() OVER (PARTITION BY venue, symbol ORDER BY ts_event DESC, origin) = 1), "
            "mk AS (SELECT venue, symbol, mark_price, ts_event AS mark_ts FROM mark_prices "
            "WHERE ts_event <= ? AND ts_event >= ? AND mark_price IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY venue, symbol ORDER BY ts_event DESC) = 1), "
            "cd AS (SELECT venue, symbol, close AS candle_close, ts_event + 60000000000 AS candle_ts FROM candles "
            "WHERE interval_s = 60 AND ts_event + 60000000000 <= ? AND ts_event + 60000000000 >= ? "
            "QUALIFY row_number() OVER (PARTITION BY venue, symbol ORDER BY ts_event DESC) = 1) "
            "SELECT oi.*, mk.mark_price, mk.mark_ts, cd.candle_close, cd.candle_ts FROM oi "
            "LEFT JOIN mk ON mk.venue = oi.venue AND mk.symbol = oi.symbol "
            "LEFT JOIN cd ON cd.venue = oi.venue AND cd.symbol = oi.symbol "
            "ORDER BY oi.coin, oi.venue, oi.symbol",
            params,
        )

    def fetch_columns(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any]:
        """Run one query and return its columns as numpy arrays (NULLs masked), for bulk analytics reads."""
        try:
            return dict(self._con.execute(sql, list(params)).fetchnumpy())
        except duckdb.Error as exc:
            raise StorageError(f"query failed: {exc}") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement on the store's connection (for small side tables such as backfill_progress)."""
        try:
            return self._con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise StorageError(f"query failed: {exc}") from None


def _filters(
    since: int | None, until: int | None, venue: str | None, coin: str | None, min_usd: float | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("ts_event > ?", since),
        ("ts_event <= ?", until),
        ("venue = ?", venue),
        ("coin = ?", coin.upper() if coin else None),
        ("notional_usd >= ?", min_usd),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
