"""Price, funding and signal reads on the DuckDB store (a mixin of DuckDBStore; SQL only, no analytics)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from liqwatch.errors import StorageError

NS_PER_S = 10**9


EXPORTABLE = ("liquidations", "open_interest", "mark_prices", "candles", "feed_status", "signals", "liquidations_1m")


class MarketQueries:
    """Candles, mark prices/funding, stored signals and Arrow exports; the host class provides `_rows` and `_con`."""

    _con: duckdb.DuckDBPyConnection

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:  # pragma: no cover - host's
        raise NotImplementedError

    def arrow(
        self, table: str, *, since: int | None = None, until: int | None = None, coin: str | None = None,
        venue: str | None = None,
    ) -> Any:
        """Return a table's rows with since < ts_event <= until (and coin/venue) as a pyarrow Table, oldest first.

        Raises:
            StorageError: the table is not one of EXPORTABLE.
        """
        if table not in EXPORTABLE:
            raise StorageError(f"cannot export {table!r}; tables: {', '.join(EXPORTABLE)}")
        ts = "minute" if table == "liquidations_1m" else "ts_event"
        clauses, params = [], []
        for clause, value in ((f"{ts} > ?", since), (f"{ts} <= ?", until), ("coin = ?", coin.upper() if coin else None),
                              ("venue = ?", venue)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if table in ("feed_status",) and coin:
            raise StorageError("feed_status has no coin column; drop --coin")
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        exclude = "" if table == "liquidations_1m" else " EXCLUDE (event_id)"
        try:
            rel = self._con.sql(f"SELECT *{exclude} FROM {table}{where} ORDER BY {ts}", params=params)
            # duckdb ≥ 1.4 names it to_arrow_table; older releases arrow()
            return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        except duckdb.Error as exc:
            raise StorageError(f"reading {table} failed: {exc}") from None

    def funding_at(self, *, at: int, coin: str | None = None, max_age_ns: int = 86_400 * NS_PER_S) -> list[dict[str, Any]]:
        """Return the newest funding rate per (venue, symbol) at or before `at`, no older than `max_age_ns`."""
        coin_sql = " AND coin = ?" if coin else ""
        return self._rows(
            "SELECT venue, symbol, market, coin, funding_rate, funding_interval_s, ts_event FROM mark_prices "
            f"WHERE ts_event <= ? AND ts_event >= ? AND funding_rate IS NOT NULL{coin_sql} "
            "QUALIFY row_number() OVER (PARTITION BY venue, symbol ORDER BY ts_event DESC) = 1 ORDER BY coin, venue, symbol",
            [at, at - max_age_ns, *([coin.upper()] if coin else [])],
        )

    def signal_rows(self, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return stored signals with since < ts_event <= until, newest first."""
        coin_sql = " AND coin = ?" if coin else ""
        return self._rows(
            f"SELECT * EXCLUDE (event_id) FROM signals WHERE ts_event > ? AND ts_event <= ?{coin_sql} "
            "ORDER BY ts_event DESC, kind, coin",
            [since, until, *([coin.upper()] if coin else [])],
        )
