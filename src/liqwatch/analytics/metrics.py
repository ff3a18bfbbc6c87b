"""Liquidation totals by side, coin and venue over a window, with each venue's coverage stated."""

from __future__ import annotations

from typing import Any

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


def liquidation_stats(store: EventStore, *, since: int, until: int, coin: str | None = None, top: int = 5) -> dict[str, Any]:
    """Return totals, long/short split, by-coin/venue/margin breakdowns and the largest liquidations in (since, until].

    Served from the per-minute rollup (plus the raw partial minutes at the edges), so the cost depends on the window,
    not on how much history is stored. `by_margin` splits stablecoin- (linear) from coin-margined (inverse, quanto)
    contracts; `top` lists the `top` largest single liquidations (`largest` is the first of them).
    """
    total = store.liquidation_totals(since=since, until=until, coin=coin)[0]
    by_coin = {r["coin"]: _side_block(r) for r in store.liquidation_totals(since=since, until=until, group_by="coin", coin=coin)}
    by_venue = {
        r["venue"]: _side_block(r) for r in store.liquidation_totals(since=since, until=until, group_by="venue", coin=coin)
    }
    by_margin = {
        r["margin"]: _side_block(r) for r in store.liquidation_totals(since=since, until=until, group_by="margin", coin=coin)
    }
    largest_rows = [_liquidation(r) for r in store.top_liquidations(since=since, until=until, limit=max(top, 1), coin=coin)]
    activity = store.venues_active(since=since, until=until)
    return {
        "since": ns_to_iso(since),
        "until": ns_to_iso(until),
        "since_ns": since,
        "until_ns": until,
        **_side_block(total),
        "by_coin": by_coin,
        "by_venue": by_venue,
        "by_margin": by_margin,
        "largest": largest_rows[0] if largest_rows else None,
        "top": largest_rows[:top],
        "coin": coin.upper() if coin else None,
        "coverage": {
            **coverage(list(by_venue)),
            "outages": {r["venue"]: int(r["outages"]) for r in activity if r["outages"]},
        },
    }


def _liquidation(r: dict[str, Any]) -> dict[str, Any]:
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
