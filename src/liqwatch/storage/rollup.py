"""Per-minute and per-hour liquidation rollups: what makes a window query cost O(window), not O(history).

`liquidations_1m` holds, per UTC minute and (venue, symbol, side), the USD sum, count, largest notional and
first/last event time; `liquidations_1h` the same per UTC hour, aggregated from the minutes. Both are updated
inside the same transaction as every liquidation insert: the batch's new rows (duplicates are removed before the
insert) are aggregated and merged into the cells of the minutes and hours they touch (`merge_sql`). Where the
store cannot tell which rows were new, the touched minutes and hours are re-aggregated from the raw table
instead (`refresh_sql`), so re-writing a duplicate never double counts.

A window (since, until] is answered exactly: whole hours from the hour rollup, whole minutes at both ends from the
minute rollup, and the partial minutes at the very edges from the raw table. `window_source` returns that union as
SQL with the rollups' columns, so a 24h query reads at most 24 hours + 118 minutes of rollup rows + 2 raw minutes.
"""

from __future__ import annotations

from typing import Any

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
TABLE = "liquidations_1m"
HOUR_TABLE = "liquidations_1h"
COLUMNS = "venue, symbol, market, coin, contract_type, position_side"
_CELLS = "usd DOUBLE, n BIGINT, max_usd DOUBLE, first_ts BIGINT, last_ts BIGINT"
_KEYS = "venue VARCHAR, symbol VARCHAR, market VARCHAR, coin VARCHAR, contract_type VARCHAR, position_side VARCHAR"

DDL = f"CREATE TABLE IF NOT EXISTS {TABLE} (minute BIGINT, {_KEYS}, {_CELLS})"
HOUR_DDL = f"CREATE TABLE IF NOT EXISTS {HOUR_TABLE} (hour BIGINT, {_KEYS}, {_CELLS})"

_AGGREGATE = (
    f"SELECT ts_event - ts_event % {MINUTE_NS} AS minute, {COLUMNS}, sum(notional_usd) AS usd, count(*) AS n, "
    "max(notional_usd) AS max_usd, min(ts_event) AS first_ts, max(ts_event) AS last_ts FROM liquidations"
)


_HOURLY = (
    f"SELECT minute - minute % {HOUR_NS} AS hour, {COLUMNS}, sum(usd) AS usd, sum(n) AS n, max(max_usd) AS max_usd, "
    f"min(first_ts) AS first_ts, max(last_ts) AS last_ts FROM {TABLE}"
)


def _span(minutes: list[int]) -> tuple[int, int, str, int, int, str]:
    # the minutes' range and SQL list, then the same for the hours they fall in
    hours = sorted({m - m % HOUR_NS for m in minutes})
    return (
        min(minutes),
        max(minutes) + MINUTE_NS,
        ", ".join(str(int(m)) for m in sorted(set(minutes))),
        hours[0],
        hours[-1] + HOUR_NS,
        ", ".join(str(h) for h in hours),
    )


def refresh_sql(minutes: list[int]) -> list[tuple[str, list[Any]]]:
    """Return the statements that recompute the rollup rows of these minute starts (and their hours)."""
    if not minutes:
        return []
    lo, hi, listed, hlo, hhi, hlisted = _span(minutes)
    return [
        (f"DELETE FROM {TABLE} WHERE minute >= ? AND minute < ? AND minute IN ({listed})", [lo, hi]),
        (
            f"INSERT INTO {TABLE} {_AGGREGATE} WHERE ts_event >= ? AND ts_event < ? "
            f"AND ts_event - ts_event % {MINUTE_NS} IN ({listed}) GROUP BY ALL",
            [lo, hi],
        ),
        (f"DELETE FROM {HOUR_TABLE} WHERE hour >= ? AND hour < ? AND hour IN ({hlisted})", [hlo, hhi]),
        (
            f"INSERT INTO {HOUR_TABLE} {_HOURLY} WHERE minute >= ? AND minute < ? "
            f"AND minute - minute % {HOUR_NS} IN ({hlisted}) GROUP BY ALL",
            [hlo, hhi],
        ),
    ]


def merge_sql(minutes: list[int], source: str = "_batch") -> list[tuple[str, list[Any]]]:
    """Return the statements that add the liquidations in `source` (new rows only) to both rollups.

    Only the rollup rows of the minutes and hours the batch touched are read and rewritten: old cells plus the
    batch's cells, re-grouped. The cost is O(batch + touched cells), never O(rows already in the minute).
    """
    if not minutes:
        return []
    lo, hi, listed, hlo, hhi, hlisted = _span(minutes)
    cells = (
        "sum(usd) AS usd, sum(n) AS n, max(max_usd) AS max_usd, min(first_ts) AS first_ts, max(last_ts) AS last_ts"
    )
    batch_minutes = _AGGREGATE.replace("FROM liquidations", f"FROM {source}") + " GROUP BY ALL"
    minute_where = f"minute >= {lo} AND minute < {hi} AND minute IN ({listed})"
    hour_where = f"hour >= {hlo} AND hour < {hhi} AND hour IN ({hlisted})"
    return [
        # the batch is scanned once: its minute cells; the hour cells are re-grouped from those
        (f"CREATE OR REPLACE TEMP TABLE _batch_1m AS {batch_minutes}", []),
        (
            f"CREATE OR REPLACE TEMP TABLE _rollup_1m AS SELECT minute, {COLUMNS}, {cells} FROM ("
            f"SELECT * FROM {TABLE} WHERE {minute_where} UNION ALL SELECT * FROM _batch_1m) GROUP BY ALL",
            [],
        ),
        (f"DELETE FROM {TABLE} WHERE {minute_where}", []),
        (f"INSERT INTO {TABLE} SELECT * FROM _rollup_1m", []),
        (
            f"CREATE OR REPLACE TEMP TABLE _rollup_1h AS SELECT hour, {COLUMNS}, {cells} FROM ("
            f"SELECT * FROM {HOUR_TABLE} WHERE {hour_where} UNION ALL "
            f"SELECT minute - minute % {HOUR_NS} AS hour, * EXCLUDE (minute) FROM _batch_1m) GROUP BY ALL",
            [],
        ),
        (f"DELETE FROM {HOUR_TABLE} WHERE {hour_where}", []),
        (f"INSERT INTO {HOUR_TABLE} SELECT * FROM _rollup_1h", []),
    ]


REBUILD_SQL = [
    f"DELETE FROM {TABLE}",
    f"INSERT INTO {TABLE} {_AGGREGATE} GROUP BY ALL ORDER BY minute",
    f"DELETE FROM {HOUR_TABLE}",
    f"INSERT INTO {HOUR_TABLE} {_HOURLY} GROUP BY ALL ORDER BY hour",
]


def minute_of(ts: int) -> int:
    """Return the start of the UTC minute holding `ts`."""
    return ts - ts % MINUTE_NS


def full_minutes(since: int, until: int) -> tuple[int, int]:
    """Return [lo, hi): the minute starts whose whole minute lies inside (since, until] (lo >= hi: none)."""
    lo = (since // MINUTE_NS + 1) * MINUTE_NS
    hi = ((until + 1) // MINUTE_NS) * MINUTE_NS
    return lo, hi


def window_source(since: int, until: int, coin: str | None = None, *, bar_ns: int | None = None) -> tuple[str, list[Any]]:
    """Return a subquery with the rollups' columns covering exactly (since, until], and its parameters.

    With `bar_ns` (a whole number of minutes), every row also has `bar`: the start of the bar, aligned to multiples of
    `bar_ns` from the epoch, its liquidations fall in (by event time). Hour rows are used only when `bar_ns` is a
    whole number of hours; otherwise whole minutes (an hour row cannot be split between bars). Grouping by `bar`
    splits the window's total exactly: nothing is counted twice or left out.

    Raises:
        ValueError: `bar_ns` is not a positive whole number of minutes.
    """
    if bar_ns is not None and (bar_ns <= 0 or bar_ns % MINUTE_NS):
        raise ValueError(f"bar_ns must be a positive whole number of minutes, was {bar_ns}")
    coin_sql = " AND coin = ?" if coin else ""
    coin_p: list[Any] = [coin.upper()] if coin else []

    def bar(column: str) -> str:
        return f", {column} - {column} % {int(bar_ns)} AS bar" if bar_ns is not None else ""

    raw = (
        f"SELECT {COLUMNS}, notional_usd AS usd, 1 AS n, notional_usd AS max_usd, ts_event AS first_ts, "
        f"ts_event AS last_ts{bar('ts_event')} FROM liquidations WHERE ts_event > ? AND ts_event <= ?{coin_sql}"
    )
    lo, hi = full_minutes(since, until)
    if lo >= hi:
        return raw, [since, until, *coin_p]
    minutes = (
        f"SELECT {COLUMNS}, usd, n, max_usd, first_ts, last_ts{bar('minute')} FROM {TABLE} "
        f"WHERE minute >= ? AND minute < ?{coin_sql}"
    )
    hours = (
        f"SELECT {COLUMNS}, usd, n, max_usd, first_ts, last_ts{bar('hour')} FROM {HOUR_TABLE} "
        f"WHERE hour >= ? AND hour < ?{coin_sql}"
    )
    hlo = -(-lo // HOUR_NS) * HOUR_NS  # first whole hour at or after lo
    hhi = hi - hi % HOUR_NS
    if hlo >= hhi or (bar_ns is not None and bar_ns % HOUR_NS):
        parts = [(raw, [since, lo - 1]), (minutes, [lo, hi]), (raw, [hi - 1, until])]
    else:
        parts = [(raw, [since, lo - 1]), (minutes, [lo, hlo]), (hours, [hlo, hhi]), (minutes, [hhi, hi]), (raw, [hi - 1, until])]
    sql = " UNION ALL ".join(p for p, _ in parts)
    params: list[Any] = []
    for _, bounds in parts:
        params += [*bounds, *coin_p]
    return sql, params
