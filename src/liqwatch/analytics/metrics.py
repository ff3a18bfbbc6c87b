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


_COIN_MARGINED = ("inverse", "quanto")


def _blocks(rows: list[dict[str, Any]], key: str | None) -> dict[str, dict[str, Any]]:
    sums: dict[str, dict[str, Any]] = {}
    for r in rows:
        if key == "margin":
            name = "coin" if r["contract_type"] in _COIN_MARGINED else "stablecoin"
        else:
            name = str(r[key]) if key else ""
        cell = sums.setdefault(name, {"long_usd": 0.0, "short_usd": 0.0, "long_count": 0, "short_count": 0})
        side = "long" if r["position_side"] == "long" else "short"
        cell[f"{side}_usd"] += float(r["usd"])
        cell[f"{side}_count"] += int(r["n"])
    blocks = {name: _side_block(cell) for name, cell in sums.items()}
    return dict(sorted(blocks.items(), key=lambda kv: (-kv[1]["total_usd"], kv[0])))


def liquidation_stats(store: EventStore, *, since: int, until: int, coin: str | None = None, top: int = 5) -> dict[str, Any]:
    """Return totals, long/short split, by-coin/venue/margin breakdowns and the largest liquidations in (since, until].

    Served by one pass over the per-hour and per-minute rollups (plus the raw partial minutes at the edges), so the
    cost depends on the window, not on how much history is stored. `by_margin` splits stablecoin- (linear) from
    coin-margined (inverse, quanto) contracts; `top` lists the `top` largest single liquidations (`largest` is the
    first of them).
    """
    rows = store.liquidation_summary(since=since, until=until, coin=coin)
    n = max(top, 1)
    maxima = sorted((float(r["max_usd"]) for r in rows), reverse=True)
    # the n-th largest group maximum is a lower bound of the n-th largest liquidation
    floor = maxima[min(n, len(maxima)) - 1] if maxima else None
    largest_rows = (
        [_liquidation(r) for r in store.top_liquidations(since=since, until=until, limit=n, coin=coin, min_usd=floor)]
        if rows
        else []
    )
    total = _blocks(rows, None).get("", _side_block({"long_usd": 0.0, "short_usd": 0.0, "long_count": 0, "short_count": 0}))
    return {
        "since": ns_to_iso(since),
        "until": ns_to_iso(until),
        "since_ns": since,
        "until_ns": until,
        **total,
        "by_coin": _blocks(rows, "coin"),
        "by_venue": _blocks(rows, "venue"),
        "by_margin": _blocks(rows, "margin"),
        "largest": largest_rows[0] if largest_rows else None,
        "top": largest_rows[:top],
        "coin": coin.upper() if coin else None,
        "coverage": {
            **coverage(sorted({str(r["venue"]) for r in rows})),
            "outages": store.feed_outages(since=since, until=until),
            **connection_coverage(store, sorted({str(r["venue"]) for r in rows}), since=since, until=until),
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
