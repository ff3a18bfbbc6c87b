"""The few SQL forms DuckDB and PostgreSQL spell differently, for queries written once for both stores.

Queries use `?` placeholders (PostgresStore.execute translates them) and portable SQL everywhere else: bucket
starts as `ts - ts % width` (not DuckDB's `//`), latest-row-per-key as `row_number() OVER (…) = 1` in a
subquery (not QUALIFY), and a subquery in FROM always has an alias. What has no common spelling is here.
"""

from __future__ import annotations

import msgspec


class Dialect(msgspec.Struct, frozen=True):
    """SQL spellings of one engine."""

    name: str

    def last(self, value: str, order: str) -> str:
        """Return an aggregate: `value` at the row with the greatest `order`, skipping NULL values (DuckDB arg_max)."""
        if self.name == "duckdb":
            return f"arg_max({value}, {order})"
        return f"(array_agg({value} ORDER BY {order} DESC) FILTER (WHERE {value} IS NOT NULL AND {order} IS NOT NULL))[1]"

    def first(self, value: str, order: str) -> str:
        """Return an aggregate: `value` at the row with the least `order`, skipping NULL values (DuckDB arg_min)."""
        if self.name == "duckdb":
            return f"arg_min({value}, {order})"
        return f"(array_agg({value} ORDER BY {order}) FILTER (WHERE {value} IS NOT NULL AND {order} IS NOT NULL))[1]"

    def median(self, value: str) -> str:
        """Return the interpolated median aggregate of `value`."""
        if self.name == "duckdb":
            return f"median({value})"
        return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {value})"


DUCKDB = Dialect("duckdb")
POSTGRES = Dialect("postgres")


def dialect_of(store: object) -> Dialect:
    """Return the dialect of a store (its `dialect` attribute; DuckDB when it has none)."""
    return POSTGRES if getattr(store, "dialect", "duckdb") == "postgres" else DUCKDB


__all__ = ["DUCKDB", "POSTGRES", "Dialect", "dialect_of"]
