"""Liquidation window queries written once in portable SQL, shared by DuckDBStore and PostgresStore.

A store mixes in `WindowQueries` and provides `_query(sql, params)` (SQL with `?` placeholders → rows as dicts)
and `_source(since, until, coin)` (the rollup window of `rollup.window_source`, or raw rows where a DuckDB file
has no rollup yet). Spellings that differ between the engines live in `storage/dialect.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from liqwatch.storage import rollup

GROUPS = {
    "coin": "coin",
    "venue": "venue",
    "market": "market",
    "symbol": "venue, symbol",
    "contract_type": "contract_type",
    "margin": "margin",
    "position_side": "position_side",
}
# stablecoin- vs coin-margined: linear contracts settle in USD(T/C); inverse ones in the base coin and quanto ones
# (BitMEX) in XBT, so both count as coin-margined
MARGIN = "CASE WHEN contract_type IN ('inverse', 'quanto') THEN 'coin' ELSE 'stablecoin' END AS margin"
_SIDES = (
    "coalesce(sum(usd) FILTER (WHERE position_side = 'long'), 0) AS long_usd, "
    "coalesce(sum(usd) FILTER (WHERE position_side = 'short'), 0) AS short_usd, "
    "coalesce(sum(n) FILTER (WHERE position_side = 'long'), 0)::BIGINT AS long_count, "
    "coalesce(sum(n) FILTER (WHERE position_side = 'short'), 0)::BIGINT AS short_count"
)


class WindowQueries:
    """Totals, summaries, bars and venue activity of liquidation windows (rollups + raw edges)."""

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:  # pragma: no cover - host's
        raise NotImplementedError

    def _source(
        self, since: int, until: int, coin: str | None = None, bar_ns: int | None = None
    ) -> tuple[str, list[Any]]:  # pragma: no cover - host's
        raise NotImplementedError

    def _require_rollup(self) -> None:
        """Raise when the minute rollup is missing (a DuckDB file opened read-only before it was built)."""

    def liquidation_totals(
        self, *, since: int, until: int, group_by: str | None = None, coin: str | None = None
    ) -> list[dict[str, Any]]:
        """Return long/short USD and counts over (since, until], optionally grouped, from the rollups."""
        src, params = self._source(since, until, coin)
        keys = GROUPS[group_by] if group_by else ""
        select_keys = f"{keys}, " if keys else ""
        sql = f"SELECT {select_keys}{_SIDES} FROM (SELECT *, {MARGIN} FROM ({src}) w) t"
        if keys:
            sql = f"SELECT * FROM ({sql} GROUP BY {keys}) g ORDER BY long_usd + short_usd DESC, {keys}"
        return self._query(sql, params)

    def liquidation_series(self, *, since: int, until: int, bar_ns: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per bar: long/short USD and counts of the liquidations in (since, until], bars with any only.

        The same rows as `liquidation_totals` over the same window (`rollup.window_source`), split by `bar` (the start
        of a `bar_ns` bar aligned from the epoch; the first and last bars hold only their part inside the window):
        the bars add up to the window's total, to the cent.
        """
        src, params = self._source(since, until, coin, bar_ns)
        return self._query(f"SELECT bar, {_SIDES} FROM ({src}) w GROUP BY bar ORDER BY bar", params)

    def liquidation_summary(self, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per (coin, venue, contract_type, position_side) in (since, until]: USD, count, largest, first/last time.

        One pass over the rollups (plus raw edges): every total, breakdown and the top-N bound derive from it.
        """
        src, params = self._source(since, until, coin)
        keys = "coin, venue, contract_type, position_side"
        return self._query(
            f"SELECT {keys}, sum(usd) AS usd, sum(n)::BIGINT AS n, max(max_usd) AS max_usd, "
            f"min(first_ts) AS first_ts, max(last_ts) AS last_ts FROM ({src}) w GROUP BY {keys} ORDER BY {keys}",
            params,
        )

    def feed_outages(self, *, since: int, until: int) -> dict[str, int]:
        """Return per venue the number of disconnected/stale feed-status changes in (since, until]."""
        rows = self._query(
            "SELECT venue, count(*) AS outages FROM feed_status WHERE ts_event > ? AND ts_event <= ? "
            "AND state IN ('disconnected', 'stale') GROUP BY venue ORDER BY venue",
            [since, until],
        )
        return {str(r["venue"]): int(r["outages"]) for r in rows}

    def liquidation_bars(self, *, since: int, until: int, bar_ns: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per bar [start, start + bar_ns) and coin: long/short USD and counts, from the minute rollup.

        `since` and `until` are rounded down to whole minutes; bars are aligned to multiples of `bar_ns` from the epoch.
        """
        self._require_rollup()
        coin_sql = " AND coin = ?" if coin else ""
        return self._query(
            f"SELECT minute - minute % {int(bar_ns)} AS bar, coin, {_SIDES} "
            f"FROM {rollup.TABLE} WHERE minute >= ? AND minute < ?{coin_sql} GROUP BY bar, coin ORDER BY bar, coin",
            [rollup.minute_of(since), rollup.minute_of(until), *([coin.upper()] if coin else [])],
        )

    def venues_active(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return per venue: liquidation count, first/last event time, and feed-status changes in the window."""
        src, params = self._source(since, until)
        return self._query(
            "WITH l AS (SELECT venue, sum(n)::BIGINT AS liquidations, min(first_ts) AS first_ts, max(last_ts) AS last_ts "
            f"FROM ({src}) w GROUP BY venue), "
            "s AS (SELECT venue, count(*) FILTER (WHERE state IN ('disconnected', 'stale')) AS outages "
            "FROM feed_status WHERE ts_event > ? AND ts_event <= ? GROUP BY venue) "
            "SELECT coalesce(l.venue, s.venue) AS venue, coalesce(liquidations, 0) AS liquidations, first_ts, last_ts, "
            "coalesce(outages, 0) AS outages FROM l FULL OUTER JOIN s ON l.venue = s.venue ORDER BY 1",
            [*params, since, until],
        )


class CandleQueries:
    """Candle sources and bars, the all-time high and the latest mark price of a symbol (host provides `_query`)."""

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:  # pragma: no cover - host's
        raise NotImplementedError

    def candle_sources(self, *, coin: str, since: int, until: int) -> list[dict[str, Any]]:
        """Return (venue, symbol, market) with their 1m candle count in (since, until], most candles first."""
        return self._query(
            "SELECT venue, symbol, market, count(*) AS bars FROM candles WHERE coin = ? AND interval_s = 60 "
            "AND ts_event + 60000000000 > ? AND ts_event + 60000000000 <= ? GROUP BY venue, symbol, market "
            "ORDER BY bars DESC, venue, symbol",
            [coin.upper(), since, until],
        )

    def candle_bars(self, *, venue: str, symbol: str, since: int, until: int, interval_s: int = 60) -> list[dict[str, Any]]:
        """Return one symbol's candles of `interval_s` whose close time is in (since, until], oldest first."""
        span = interval_s * 10**9
        return self._query(  # the bounds on ts_event itself, so the (venue, symbol, ts_event) index applies
            "SELECT ts_event, ts_event + CAST(? AS BIGINT) AS ts_close, open, high, low, close, volume, volume_usd, closed "
            "FROM candles WHERE venue = ? AND symbol = ? AND interval_s = ? AND ts_event > ? AND ts_event <= ? "
            "ORDER BY ts_event",
            [span, venue, symbol, interval_s, since - span, until - span],
        )

    def price_high(self, *, venue: str, symbol: str, until: int) -> dict[str, Any] | None:
        """Return the highest high of any closed candle of a symbol up to `until`, its bar time and the first bar time."""
        rows = self._query(
            # ties for the high go to the earliest bar (arg_max would pick any)
            "WITH c AS (SELECT high, ts_event FROM candles "
            "WHERE venue = ? AND symbol = ? AND ts_event + interval_s * CAST(1000000000 AS BIGINT) <= ?) "
            "SELECT (SELECT max(high) FROM c) AS high, "
            "(SELECT ts_event FROM c WHERE high IS NOT NULL ORDER BY high DESC, ts_event LIMIT 1) AS high_ts, "
            "(SELECT min(ts_event) FROM c) AS first_ts",
            [venue, symbol, until],
        )
        return rows[0] if rows and rows[0]["high"] is not None else None

    def mark_at(self, *, venue: str, symbol: str, at: int, max_age_ns: int) -> dict[str, Any] | None:
        """Return the newest mark price of a symbol at or before `at` and no older than `max_age_ns`."""
        rows = self._query(
            "SELECT mark_price, ts_event FROM mark_prices WHERE venue = ? AND symbol = ? AND ts_event <= ? "
            "AND ts_event >= ? AND mark_price IS NOT NULL ORDER BY ts_event DESC LIMIT 1",
            [venue, symbol, at, at - max_age_ns],
        )
        return rows[0] if rows else None


__all__ = ["GROUPS", "MARGIN", "CandleQueries", "WindowQueries"]
