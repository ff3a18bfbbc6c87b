"""The Python API for notebooks: `liqwatch.open(db)` → the same queries as the CLI, tables as polars DataFrames.

    >>> import liqwatch
    >>> lw = liqwatch.open("~/.local/share/liqwatch/liqwatch.duckdb")
    >>> lw.liquidations(since="24h").group_by("coin").agg(pl.col("notional_usd").sum())
    >>> lw.stats(window="24h")["long_share"]

Times are ISO-8601 UTC strings, relative forms such as "24h" (that long ago), or int epoch nanoseconds. Summaries
(`stats`, `oi`, `price`, `brief`) return the same dicts as the CLI's --json; row sets return polars DataFrames.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from liqwatch.model.time import now_ns, parse_duration_ns, parse_time_ns
from liqwatch.storage import EventStore

if TYPE_CHECKING:
    import polars as pl

    from liqwatch.analytics.brief import Brief

Time = str | int | None


def _t(value: Time, default: int | None = None) -> int | None:
    if value is None:
        return default
    return value if isinstance(value, int) else parse_time_ns(value)


def _w(value: str | int) -> int:
    return value if isinstance(value, int) else parse_duration_ns(value)


class Liqwatch:
    """A liqwatch store opened for analysis (read-only unless `writable=True`)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def _frame(self, table: str, since: Time, until: Time, coin: str | None, venue: str | None) -> pl.DataFrame:
        import polars as pl

        arrow = self.store.arrow(table, since=_t(since), until=_t(until), coin=coin, venue=venue)  # type: ignore[attr-defined]
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def liquidations(self, *, since: Time = None, until: Time = None, coin: str | None = None, venue: str | None = None) -> pl.DataFrame:
        """Return liquidations with since < ts_event <= until."""
        return self._frame("liquidations", since, until, coin, venue)

    def open_interest(self, *, since: Time = None, until: Time = None, coin: str | None = None, venue: str | None = None) -> pl.DataFrame:
        """Return stored open-interest points."""
        return self._frame("open_interest", since, until, coin, venue)

    def candles(self, *, since: Time = None, until: Time = None, coin: str | None = None, venue: str | None = None) -> pl.DataFrame:
        """Return stored candles (every interval; filter on `interval_s`)."""
        return self._frame("candles", since, until, coin, venue)

    def mark_prices(self, *, since: Time = None, until: Time = None, coin: str | None = None, venue: str | None = None) -> pl.DataFrame:
        """Return stored mark prices and funding rates."""
        return self._frame("mark_prices", since, until, coin, venue)

    def signals(self, *, since: Time = None, until: Time = None, coin: str | None = None) -> pl.DataFrame:
        """Return stored signals (inputs as JSON text)."""
        return self._frame("signals", since, until, coin, None)

    def stats(self, *, window: str | int = "24h", at: Time = None, coin: str | None = None) -> dict[str, Any]:
        """Return `liqwatch stats --json` for (at − window, at]."""
        from liqwatch.analytics.metrics import liquidation_stats

        until = _t(at, now_ns())
        assert until is not None
        return liquidation_stats(self.store, since=until - _w(window), until=until, coin=coin)

    def oi(self, *, at: Time = None, coin: str | None = None, start: Time = None) -> dict[str, Any]:
        """Return `liqwatch oi --json` at `at`, or between `start` and `at` when `start` is given."""
        from liqwatch.analytics.open_interest import open_interest_between, open_interest_summary

        end = _t(at, now_ns())
        assert end is not None
        begin = _t(start)
        if begin is not None:
            return open_interest_between(self.store, start=begin, end=end, coin=coin)
        return open_interest_summary(self.store, at=end, coin=coin)

    def price(self, coin: str, *, at: Time = None) -> dict[str, Any]:
        """Return `liqwatch price --json` for a coin."""
        from liqwatch.analytics.price import price_context

        when = _t(at, now_ns())
        assert when is not None
        return price_context(self.store, coin=coin, at=when)

    def brief(self, *, window: str | int = "24h", at: Time = None, coin: str | None = None) -> Brief:
        """Return the market brief (call .to_markdown(), .to_html() or .to_dict())."""
        from liqwatch.analytics.brief import build_brief

        when = _t(at, now_ns())
        assert when is not None
        return build_brief(self.store, at=when, window_ns=_w(window), coin=coin)

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def open(db: str | Path | None = None, *, writable: bool = False) -> Liqwatch:
    """Open a liqwatch store for analysis, read-only unless `writable`.

    Read-only never creates anything: a missing file raises `StoreNotFound` (naming the path); `writable=True`
    creates the file and its folders.

    DuckDB allows one process per file: while `liqwatch up` (or `demo`) holds the file, a read-only open reads
    through that process (the same queries, run there; see storage/remote.py); `writable` needs it stopped.
    """
    if writable:
        from liqwatch.storage.remote import open_writer

        return Liqwatch(open_writer(db))
    from liqwatch.storage.remote import open_reader

    return Liqwatch(open_reader(db, read_only=True))
