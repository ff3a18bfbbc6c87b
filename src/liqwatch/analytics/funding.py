"""Funding per venue, normalised to an annualised rate, and its OI-weighted average per coin.

A venue's rate is per funding interval (8h on most, 1h on Hyperliquid/dYdX); annualised = rate × intervals per year.
Where a venue does not say its interval, 8h is assumed and the row says so (`interval_assumed`). The per-coin average
weights each symbol by its USD open interest at the same time; symbols without OI are listed but not weighted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from liqwatch.analytics.open_interest import value_rows
from liqwatch.model.time import ns_to_iso
from liqwatch.storage.base import EventStore

YEAR_S = 365 * 86_400
DEFAULT_INTERVAL_S = 8 * 3600


def annualise(rate: float, interval_s: int | None) -> float:
    """Return a per-interval funding rate as a simple annual rate (fraction)."""
    return rate * YEAR_S / (interval_s or DEFAULT_INTERVAL_S)


def funding_summary(store: EventStore, *, at: int, coin: str | None = None) -> dict[str, Any]:
    """Return per coin: each symbol's latest funding (raw and annualised) and the OI-weighted annualised average."""
    oi = {(p.venue, p.symbol): p.oi_usd for p in value_rows(store.open_interest_at(at, coin=coin))}
    coins: dict[str, dict[str, Any]] = defaultdict(lambda: {"symbols": [], "weighted_annualised": None, "oi_usd_weighted": 0.0})
    for r in store.funding_at(at=at, coin=coin):
        interval = r["funding_interval_s"]
        annual = annualise(float(r["funding_rate"]), interval)
        weight = oi.get((r["venue"], r["symbol"]))
        coins[r["coin"]]["symbols"].append(
            {
                "venue": r["venue"],
                "symbol": r["symbol"],
                "market": r["market"],
                "funding_rate": float(r["funding_rate"]),
                "interval_s": interval or DEFAULT_INTERVAL_S,
                "interval_assumed": interval is None,
                "annualised": annual,
                "oi_usd": weight,
                "ts": ns_to_iso(int(r["ts_event"])),
            }
        )
    for block in coins.values():
        weighted = [(s["annualised"], s["oi_usd"]) for s in block["symbols"] if s["oi_usd"]]
        total = sum(w for _, w in weighted)
        block["oi_usd_weighted"] = total
        block["weighted_annualised"] = sum(a * w for a, w in weighted) / total if total else None
    return {"at": ns_to_iso(at), "coins": dict(sorted(coins.items()))}
