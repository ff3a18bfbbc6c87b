"""Liquidation totals by side, coin and venue over a window, with each venue's coverage stated."""

from __future__ import annotations

from typing import Any

from liqwatch.analytics.connectivity import venue_connectivity
from liqwatch.model.time import ns_to_iso
from liqwatch.storage.base import EventStore
from liqwatch.venues import VENUES


def _side_block(row: dict[str, Any]) -> dict[str, Any]:
    long_usd, short_usd = float(row["long_usd"]), float(row["short_usd"])
    total = long_usd + short_usd
    return {
        "total_usd": total,
        "long_usd": long_usd,
        "short_usd": short_usd,
        "long_share": long_usd / total if total else None,
        "count": int(row["long_count"]) + int(row["short_count"]),
        "long_count": int(row["long_count"]),
        "short_count": int(row["short_count"]),
    }


def coverage(venues: list[str]) -> dict[str, Any]:
    """Return which of these venues publish complete liquidation streams and which only samples."""
    sampled = sorted(v for v in venues if v in VENUES and not VENUES[v].SPEC.liquidations_complete)
    return {
        "venues": sorted(venues),
        "sampled": sampled,
        "complete": sorted(v for v in venues if v in VENUES and VENUES[v].SPEC.liquidations_complete),
        "lower_bound": bool(sampled),
        "notes": {v: VENUES[v].SPEC.coverage_note for v in sorted(venues) if v in VENUES},
    }


def liquidation_stats(store: EventStore, *, since: int, until: int) -> dict[str, Any]:
    """Return totals, long/short split, by-coin and by-venue breakdowns and the largest liquidation in (since, until]."""
    total = store.liquidation_totals(since=since, until=until)[0]
    by_coin = {r["coin"]: _side_block(r) for r in store.liquidation_totals(since=since, until=until, group_by="coin")}
    by_venue = {r["venue"]: _side_block(r) for r in store.liquidation_totals(since=since, until=until, group_by="venue")}
    largest = _largest(store, since, until)
    activity = store.venues_active(since=since, until=until)
    return {
        "since": ns_to_iso(since),
        "until": ns_to_iso(until),
        "since_ns": since,
        "until_ns": until,
        **_side_block(total),
        "by_coin": by_coin,
        "by_venue": by_venue,
        "largest": largest,
        "coverage": {
            **coverage(list(by_venue)),
            "outages": {r["venue"]: int(r["outages"]) for r in activity if r["outages"]},
            **connection_coverage(store, list(by_venue), since=since, until=until),
        },
    }


def connection_coverage(store: EventStore, venues: list[str], *, since: int, until: int) -> dict[str, Any]:
    """Return which venues were connected for the whole window, which had gaps, and which recorded no status.

    `venues` (those with liquidations) are always listed; venues with feed_status rows but no liquidations too.
    """
    per_venue = venue_connectivity(store.feed_status_changes(since=since, until=until), since=since, until=until)
    return {
        "connected_whole_window": sorted(v for v, c in per_venue.items() if c["whole_window"]),
        "with_gaps": sorted(v for v, c in per_venue.items() if not c["whole_window"]),
        "no_status": sorted(v for v in set(venues) if v not in per_venue),
        "connectivity": per_venue,
    }


def _largest(store: EventStore, since: int, until: int) -> dict[str, Any] | None:
    rows = store.top_liquidations(since=since, until=until, limit=1)
    if not rows:
        return None
    r = rows[0]
    return {
        "venue": r["venue"],
        "symbol": r["symbol"],
        "market": r["market"],
        "coin": r["coin"],
        "position_side": r["position_side"],
        "price": r["price"],
        "quantity": r["quantity"],
        "notional_usd": r["notional_usd"],
        "ts_event": r["ts_event"],
        "ts": ns_to_iso(r["ts_event"]),
    }
