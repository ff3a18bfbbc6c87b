"""What each page shows, composed from `queries`: window totals, the per-coin table, the venues view, coin charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liqwatch.analytics.live import LiveAnalytics
from liqwatch.model.time import NS_PER_S, ns_to_iso, parse_duration_ns
from liqwatch.web.queries import Queries, Unavailable

OVERVIEW_WINDOWS = ("1h", "4h", "12h", "24h")
MAX_COINS = 40
SERIES_INTERVALS = (60, 300, 900, 3600, 14_400, 86_400)  # seconds: 1m, 5m, 15m, 1h, 4h, 1d
MAX_SERIES_BARS = 120


def totals(q: Queries, *, at: int, windows: tuple[str, ...] = OVERVIEW_WINDOWS) -> dict[str, Any]:
    """Return `liqwatch stats --json` for each window ending at `at`."""
    return {
        "at": ns_to_iso(at),
        "at_ns": at,
        "windows": {label: {**q.stats(since=at - parse_duration_ns(label), until=at), "window": label} for label in windows},
    }


def series_interval(window_ns: int) -> int:
    """Return the bar length (seconds) for a window: the shortest of 1m … 1d giving at most `MAX_SERIES_BARS` bars."""
    for seconds in SERIES_INTERVALS:
        if window_ns <= seconds * NS_PER_S * MAX_SERIES_BARS:
            return seconds
    return SERIES_INTERVALS[-1]


def liquidation_series(q: Queries, *, since: int, until: int, interval_s: int, coin: str | None) -> dict[str, Any]:
    """Return the overview's liquidation chart: longs and shorts per bar of (since, until], oldest first.

    Bars are aligned to multiples of the interval from the epoch; the first and the last (current) bar hold only their
    part inside the window, so `bars` add up to the window's totals (the overview's card, `liqwatch stats`), which are
    returned beside them from the same rows.
    """
    rows = q.liquidation_series(since=since, until=until, bar_ns=interval_s * NS_PER_S, coin=coin)
    bars = [
        {
            "ts": ns_to_iso(int(r["bar"])),
            "ts_ns": int(r["bar"]),
            "long_usd": float(r["long_usd"]),
            "short_usd": float(r["short_usd"]),
            "count": int(r["long_count"]) + int(r["short_count"]),
        }
        for r in rows
    ]
    return {
        "since": ns_to_iso(since),
        "until": ns_to_iso(until),
        "since_ns": since,
        "until_ns": until,
        "interval_s": interval_s,
        "coin": coin,
        "bars": bars,
        "long_usd": sum(b["long_usd"] for b in bars),
        "short_usd": sum(b["short_usd"] for b in bars),
        "count": sum(b["count"] for b in bars),
    }


def live_totals(analytics: LiveAnalytics, *, at: int, windows: tuple[str, ...] = OVERVIEW_WINDOWS) -> dict[str, Any]:
    """Return `totals`'s shape from the live analytics (windows up to its retention), without touching the store."""
    return {
        "at": ns_to_iso(at),
        "at_ns": at,
        "live": True,
        "windows": {label: {**analytics.totals(parse_duration_ns(label), at), "window": label} for label in windows},
    }


def coin_table(q: Queries, *, at: int) -> list[dict[str, Any]]:
    """Return one row per coin: `price_context`'s price, 24h change and drawdown from ATH (percent, as `liqwatch price`),
    24h liquidations, OI and its 24h change (fractions), funding APR (OI-weighted, as `liqwatch funding`)."""
    day = 86_400 * NS_PER_S
    stats = q.stats(since=at - day, until=at)["by_coin"]
    oi = q.oi(at=at, coin=None)["coins"]
    funding = q.funding(at=at)
    coins = list(dict.fromkeys([*stats, *oi, *q.coins(until=at)]))[:MAX_COINS]
    rows = []
    for coin in coins:
        liq = stats.get(coin, {})
        total = (oi.get(coin) or {}).get("total") or {}
        change = (total.get("changes") or {}).get("24h") or {}
        price = q.price(coin=coin, at=at)
        source = price.get("source") or {}
        rows.append(
            {
                "coin": coin,
                "price": price["price"],
                "price_ts": price["price_ts"],
                "price_source": f"{source['venue']} {source['symbol']}" if source else None,
                "change_24h_pct": price["change_24h_pct"],
                "ath": price["ath"],
                "drawdown_pct": price["drawdown_pct"],
                "long_usd": liq.get("long_usd", 0.0),
                "short_usd": liq.get("short_usd", 0.0),
                "liquidations": liq.get("count", 0),
                "oi_usd": total.get("oi_usd"),
                "oi_coin": total.get("oi_coin"),
                "oi_usd_change_24h": change.get("usd_change"),
                "oi_coin_change_24h": change.get("coin_change"),
                "funding_apr": _funding_apr(funding.get(coin)),
            }
        )
    return rows


def venues(q: Queries, status: dict[str, Any], *, at: int) -> dict[str, Any]:
    """Return per venue its live state and per-connection counters (when collecting) and the last 24 h in the store."""
    stored = {r["venue"]: r for r in q.venue_activity(since=at - 86_400 * NS_PER_S, until=at)}
    feeds: dict[str, Any] = status.get("feeds") or {}
    out = []
    for name in sorted(set(feeds) | set(stored)):
        feed = feeds.get(name) or {}
        row = stored.get(name) or {}
        out.append(
            {
                "venue": name,
                "state": feed.get("state", "not collected"),
                "detail": feed.get("detail", ""),
                "connections": [
                    {
                        "connection": conn,
                        "state": c.get("state"),
                        "last_message_age_s": c.get("last_message_age_s"),
                        "messages_per_min": c.get("messages_per_min"),
                        "reconnects": c.get("reconnects", 0),
                        "skipped": sum((c.get("skipped") or {}).values()),
                        "skipped_by_reason": c.get("skipped") or {},
                        "events": c.get("events", 0),
                        "diagnoses": c.get("diagnoses") or [],
                    }
                    for conn, c in sorted((feed.get("connections") or {}).items())
                ],
                "diagnoses": feed.get("diagnoses") or [],
                "liquidations_24h": int(row.get("liquidations", 0)),
                "outages_24h": int(row.get("outages", 0)),
                "last_liquidation": ns_to_iso(int(row["last_ts"])) if row.get("last_ts") else None,
            }
        )
    return {"at": ns_to_iso(at), "live": bool(feeds), "venues": out, "writer": status.get("writer"), "bus": status.get("bus")}


def coin_chart(
    q: Queries, *, coin: str, since: int, until: int, interval_s: int, venue: str | None, symbol: str | None
) -> dict[str, Any]:
    """Return the coin page's series: candles of one reference market, liquidation bars and OI, in one bucket size."""
    bucket = interval_s * NS_PER_S
    market = (venue, symbol) if venue and symbol else q.reference_market(coin, since=since, until=until)
    candles = q.candles(venue=market[0], symbol=market[1], since=since, until=until, bucket_ns=bucket) if market else []
    return {
        "coin": coin,
        "since": ns_to_iso(since),
        "until": ns_to_iso(until),
        "interval_s": interval_s,
        "market": {"venue": market[0], "symbol": market[1]} if market else None,
        "candles": candles,
        "liquidations": q.liquidation_bars(coin=coin, since=since, until=until, bucket_ns=bucket),
        "open_interest": q.oi_series(coin=coin, since=since, until=until, bucket_ns=bucket),
        "signals": _or_none(lambda: q.signals(since=since, until=until, coin=coin)),
        "levels": configured_levels(q, coin),
    }


def configured_levels(q: Queries, coin: str) -> dict[str, Any]:
    """Return the coin's configured level rules ([signals.levels.COIN]): levels, [low, high] zones, daily_close."""
    rules = q.settings.signals.levels.get(coin) or q.settings.signals.levels.get(coin.lower())
    if rules is None:
        return {"levels": [], "zones": [], "daily_close": None, "configured": False}
    return {"levels": list(rules.levels), "zones": [list(z) for z in rules.zones], "daily_close": rules.daily_close, "configured": True}


def _funding_apr(block: dict[str, Any] | None) -> float | None:
    # OI-weighted as `liqwatch funding`; the plain mean where no symbol has OI to weigh by
    if not block or not block["symbols"]:
        return None
    if block["weighted_annualised"] is not None:
        return float(block["weighted_annualised"])
    return sum(float(s["annualised"]) for s in block["symbols"]) / len(block["symbols"])


def _or_none(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Unavailable:
        return None
