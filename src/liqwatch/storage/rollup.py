"""Per-minute liquidation rollups: what makes a window query cost O(window), not O(history).

`liquidations_1m` holds, per UTC minute and (venue, symbol, side), the USD sum, count, largest notional and
first/last event time. It is refreshed inside the same transaction as every liquidation insert, by
re-aggregating only the minutes the batch touched (so re-writing a duplicate never double counts).

A window (since, until] is answered exactly: whole minutes from the rollup, the partial minutes at both edges
from the raw table. `window_source` returns that union as SQL with the rollup's columns.
"""

from __future__ import annotations

from typing import Any

MINUTE_NS = 60 * 10**9
TABLE = "liquidations_1m"
COLUMNS = "venue, symbol, market, coin, contract_type, position_side"

DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (minute BIGINT, venue VARCHAR, symbol VARCHAR, market VARCHAR, "
    "coin VARCHAR, contract_type VARCHAR, position_side VARCHAR, usd DOUBLE, n BIGINT, max_usd DOUBLE, "
    "first_ts BIGINT, last_ts BIGINT)"
)

_AGGREGATE = (
    f"SELECT ts_event - ts_event % {MINUTE_NS} AS minute, {COLUMNS}, sum(notional_usd) AS usd, count(*) AS n, "
    "max(notional_usd) AS max_usd, min(ts_event) AS first_ts, max(ts_event) AS last_ts FROM liquidations"
)


def refresh_sql(minutes: list[int]) -> list[tuple[str, list[Any]]]:
    """Return the statements that recompute the rollup rows of these minute starts from the raw table."""
    if not minutes:
        return []
    lo, hi = min(minutes), max(minutes) + MINUTE_NS
    listed = ", ".join(str(int(m)) for m in sorted(set(minutes)))
    return [
        (f"DELETE FROM {TABLE} WHERE minute >= ? AND minute < ? AND minute IN ({listed})", [lo, hi]),
        (
            f"INSERT INTO {TABLE} {_AGGREGATE} WHERE ts_event >= ? AND ts_event < ? "
            f"AND ts_event - ts_event % {MINUTE_NS} IN ({listed}) GROUP BY ALL",
            [lo, hi],
        ),
    ]


REBUILD_SQL = [f"DELETE FROM {TABLE}", f"INSERT INTO {TABLE} {_AGGREGATE} GROUP BY ALL ORDER BY minute"]


def minute_of(ts: int) -> int:
    """Return the start of the UTC minute holding `ts`."""
    return ts - ts % MINUTE_NS


def full_minutes(since: int, until: int) -> tuple[int, int]:
    """Return [lo, hi): the minute starts whose whole minute lies inside (since, until] (lo >= hi: none)."""
    lo = (since // MINUTE_NS + 1) * MINUTE_NS
    hi = ((until + 1) // MINUTE_NS) * MINUTE_NS
    return lo, hi


def window_source(since: int, until: int, coin: str | None = None) -> tuple[str, list[Any]]:
    """Return a subquery with the rollup's columns covering exactly (since, until], and its parameters."""
    coin_sql = " AND coin = ?" if coin else ""
    coin_p: list[Any] = [coin.upper()] if coin else []
    raw = (
        f"SELECT {COLUMNS}, notional_usd AS usd, 1 AS n, notional_usd AS max_usd, ts_event AS first_ts, "
        f"ts_event AS last_ts FROM liquidations WHERE ts_event > ? AND ts_event <= ?{coin_sql}"
    )
    lo, hi = full_minutes(since, until)
    if lo >= hi:
        return raw, [since, until, *coin_p]
    rolled = f"SELECT {COLUMNS}, usd, n, max_usd, first_ts, last_ts FROM {TABLE} WHERE minute >= ? AND minute < ?{coin_sql}"
    sql = f"{raw} UNION ALL {rolled} UNION ALL {raw}"
    return sql, [since, lo - 1, *coin_p, lo, hi, *coin_p, hi - 1, until, *coin_p]
