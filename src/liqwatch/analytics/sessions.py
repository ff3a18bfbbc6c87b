"""Liquidations and price split by trading session (Asia / Europe / US, hours configurable) for one UTC day.

A session [start h, end h) UTC may wrap midnight (e.g. [22, 6]); then it runs from the previous day's start hour.
Each session's liquidations are the window (start − 1 ns, end − 1 ns] so a liquidation at exactly the boundary
belongs to the session it opens; its price figures come from the price source's 1m candles inside the session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from liqwatch.analytics.metrics import _side_block
from liqwatch.analytics.price import DEFAULT_VENUES, price_source
from liqwatch.model.time import ns_to_iso
from liqwatch.storage.base import EventStore

HOUR_NS = 3600 * 10**9
DAY_NS = 24 * HOUR_NS
DEFAULT_SESSIONS: dict[str, list[float]] = {"asia": [0.0, 8.0], "europe": [8.0, 14.0], "us": [14.0, 22.0]}


def session_bounds(day: int, hours: Sequence[float]) -> tuple[int, int]:
    """Return [start, end) in ns of a session on the UTC day starting at `day`."""
    start, end = (round(h * HOUR_NS) for h in hours)
    return (day + start - DAY_NS if start > end else day + start), day + end


def session_stats(
    store: EventStore,
    *,
    day: int,
    coin: str | None = None,
    sessions: Mapping[str, Sequence[float]] = DEFAULT_SESSIONS,
    venues: Sequence[str] = DEFAULT_VENUES,
    until: int | None = None,
) -> dict[str, Any]:
    """Return per session: bounds, liquidation totals by side and (with a coin) open/high/low/close and change."""
    src = price_source(store, coin=coin, at=day + DAY_NS, venues=venues) if coin else None
    out: dict[str, Any] = {"day": ns_to_iso(day)[:10], "coin": coin.upper() if coin else None, "sessions": {}}
    for name, hours in sessions.items():
        start, end = session_bounds(day, hours)
        if until is not None:
            end = min(end, until + 1)
        block: dict[str, Any] = {"from": ns_to_iso(start), "to": ns_to_iso(end), "started": until is None or start <= until}
        block.update(_side_block(store.liquidation_totals(since=start - 1, until=end - 1, coin=coin)[0]))
        if src is not None and end > start:
            bars = store.candle_bars(venue=src["venue"], symbol=src["symbol"], since=start, until=end)
            if bars:
                o, c = float(bars[0]["open"]), float(bars[-1]["close"])
                block.update(
                    open=o, high=max(float(b["high"]) for b in bars), low=min(float(b["low"]) for b in bars), close=c,
                    change_pct=(c / o - 1.0) * 100.0 if o else None,
                )
        out["sessions"][name] = block
    return out
