"""Deterministic synthetic REST history the local exchange serves for backfill: same request, same answer.

Bars and open-interest points are a function of their timestamp only; dYdX trades are a fixed list ending
at `DYDX_HISTORY_END_MS`, every `DYDX_LIQUIDATION_EVERY`-th one a liquidation.
"""

from __future__ import annotations

from typing import Any

MINUTE_MS = 60_000
DYDX_HISTORY_END_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DYDX_TRADES = 250  # one a minute, newest at the end
DYDX_LIQUIDATION_EVERY = 5
DYDX_TOP_HEIGHT = 40_000_000


def bar(open_ms: int) -> tuple[float, float, float, float, float]:
    """Return (open, high, low, close, base volume) of the 1-minute bar opening at `open_ms`."""
    k = open_ms // MINUTE_MS
    o = 50_000.0 + (k % 97)
    c = o + (k % 7) - 3
    return o, max(o, c) + 2, min(o, c) - 2, c, 1.0 + (k % 11)


def grid(start_ms: int, end_ms: int, step_ms: int, limit: int, *, newest_first: bool) -> list[int]:
    """Return the multiples of `step_ms` in [start_ms, end_ms]: the oldest `limit` (or newest, newest first)."""
    first = -(-start_ms // step_ms) * step_ms
    points = list(range(first, end_ms + 1, step_ms))
    return points[::-1][:limit] if newest_first else points[:limit]


def open_interest(ts_ms: int) -> float:
    """Return the two-sided open interest (base) at a 5-minute point."""
    return 2_000.0 + (ts_ms // 300_000) % 50


def dydx_trades(ticker: str, before_or_at_height: int | None, limit: int) -> list[dict[str, Any]]:
    """Return dYdX indexer trades, newest first, one block each, at or below the height."""
    out = []
    for k in range(DYDX_TRADES):  # k = 0 is the newest
        height = DYDX_TOP_HEIGHT - k
        if before_or_at_height is not None and height > before_or_at_height:
            continue
        ts_ms = DYDX_HISTORY_END_MS - k * MINUTE_MS
        out.append({
            "id": f"{ticker}-{height}", "side": "SELL" if k % 2 else "BUY", "size": f"{0.1 * (1 + k % 4):.1f}",
            "price": f"{bar(ts_ms)[3]:.1f}", "type": "LIQUIDATED" if k % DYDX_LIQUIDATION_EVERY == 0 else "LIMIT",
            "createdAt": _iso(ts_ms), "createdAtHeight": str(height),
        })
        if len(out) == limit:
            break
    return out


def _iso(ts_ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
