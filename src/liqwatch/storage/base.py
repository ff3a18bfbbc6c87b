"""The store interface every backend implements, and the query results it returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from liqwatch.model import Event, Instrument, Signal
from liqwatch.storage.dead_letters import DeadLetter


class SideTotals(msgspec.Struct, kw_only=True):
    """Liquidated USD and counts by position side."""

    long_usd: float = 0.0
    short_usd: float = 0.0
    long_count: int = 0
    short_count: int = 0

    @property
    def total_usd(self) -> float:
        return self.long_usd + self.short_usd

    @property
    def count(self) -> int:
        return self.long_count + self.short_count


class EventStore(Protocol):
    """What the rest of liqwatch may ask of a store."""

    def write(self, events: Sequence[Event | Signal]) -> dict[str, int]:
        """Store events idempotently; return how many new rows each table got."""
        ...

    def write_instruments(self, instruments: Sequence[Instrument], ts_updated: int) -> int:
        """Insert or replace instrument specs; return how many were written."""
        ...

    def write_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep events the store could not take, with the reason (table dead_letters); return how many were given."""
        ...

    def dead_letters(self, *, since: int, until: int, limit: int = 1000) -> list[dict[str, Any]]:
        """Return the dead letters kept in (since, until], newest first."""
        ...

    def load_instruments(self, venue: str | None = None) -> list[Instrument]:
        """Return cached instrument specs."""
        ...

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
        """Return liquidations with since < ts_event <= until as plain rows."""
        ...

    def top_liquidations(
        self, *, since: int, until: int, limit: int = 10, coin: str | None = None, min_usd: float | None = None
    ) -> list[dict[str, Any]]:
        """Return the largest liquidations by USD notional in (since, until] (`min_usd`: a known lower bound)."""
        ...

    def liquidation_summary(self, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per (coin, venue, contract_type, position_side): USD, count, largest, first/last time."""
        ...

    def feed_outages(self, *, since: int, until: int) -> dict[str, int]:
        """Return per venue the number of disconnected/stale feed-status changes in (since, until]."""
        ...

    def liquidation_totals(
        self, *, since: int, until: int, group_by: str | None = None, coin: str | None = None
    ) -> list[dict[str, Any]]:
        """Return long/short USD and counts over (since, until], optionally grouped (coin, venue, market, margin…)."""
        ...

    def liquidation_series(self, *, since: int, until: int, bar_ns: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per bar (start, aligned from the epoch) long/short USD and counts in (since, until]: the window's
        total split by bar exactly (the first and last bar hold only their part inside the window)."""
        ...

    def liquidation_bars(self, *, since: int, until: int, bar_ns: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return per bar and coin long/short USD and counts, from the per-minute rollup."""
        ...

    def candle_sources(self, *, coin: str, since: int, until: int) -> list[dict[str, Any]]:
        """Return (venue, symbol, market) with their 1m candle count in (since, until]."""
        ...

    def candle_bars(
        self, *, venue: str, symbol: str, since: int, until: int, interval_s: int = 60
    ) -> list[dict[str, Any]]:
        """Return one symbol's candles whose close time is in (since, until], oldest first."""
        ...

    def price_high(self, *, venue: str, symbol: str, until: int) -> dict[str, Any] | None:
        """Return the highest high of any closed candle of a symbol up to `until`."""
        ...

    def mark_at(self, *, venue: str, symbol: str, at: int, max_age_ns: int) -> dict[str, Any] | None:
        """Return the newest mark price of a symbol at or before `at`."""
        ...

    def funding_at(self, *, at: int, coin: str | None = None, max_age_ns: int = 86_400 * 10**9) -> list[dict[str, Any]]:
        """Return the newest funding rate per (venue, symbol) at or before `at`."""
        ...

    def signal_rows(self, *, since: int, until: int, coin: str | None = None) -> list[dict[str, Any]]:
        """Return stored signals with since < ts_event <= until, newest first."""
        ...

    def venues_active(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return, per venue, event counts and feed-status changes within (since, until]."""
        ...

    def feed_status_changes(self, *, since: int, until: int) -> list[dict[str, Any]]:
        """Return each connection's last feed_status at or before `since`, then every one in (since, until]."""
        ...

    def count(self, table: str) -> int:
        """Return the number of rows of a table."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...

    def open_interest_at(
        self, at: int, *, coin: str | None = None, price_max_age_ns: int = 86_400 * 10**9
    ) -> list[dict[str, Any]]:
        """Return the latest OI row per (venue, symbol) at or before `at`, with the nearest mark price and 1m close."""
        ...
