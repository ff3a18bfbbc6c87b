"""Open interest comparable across venues: one-sided coin and USD, per venue and per coin, and its changes.

Every venue's OI is stored one-sided in base units (`open_interest`); USD is the venue's own value where it gave one,
else the coin amount at the nearest mark price, else at the nearest 1m candle close (docs/analytics.md §4.4). A change
compares the same (venue, symbol) at both ends; USD-denominated OI moves with price, so each change carries the
coin-terms change and the decomposition coin ΔOI = (1 + ΔOI_usd) / (1 + Δprice) − 1 (§4.6), where Δprice is the
OI-weighted change of the USD value per coin over the same symbols, so the identity holds exactly on them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from liqwatch.model.time import ns_to_iso
from liqwatch.storage.base import EventStore

NS_PER_H = 3_600 * 10**9
DEFAULT_WINDOWS: tuple[tuple[str, int], ...] = (
    ("1h", NS_PER_H),
    ("4h", 4 * NS_PER_H),
    ("24h", 24 * NS_PER_H),
)
USD_SOURCES = ("venue", "mark", "candle", "none")
STALE_NS = NS_PER_H  # a live point older than this at the query time is flagged stale
DAY_NS = 24 * NS_PER_H  # end-of-day points only make changes over windows of at least a day
MAX_START_GRACE_NS = 15 * 60 * 10**9
EOD_TOLERANCE_NS = 4 * DAY_NS  # end-of-day (CME) points: weekends and holidays


class OiPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One (venue, symbol)'s one-sided OI at a time, valued in USD, with the price source named."""

    venue: str
    symbol: str
    market: str
    coin: str
    ts_event: int
    oi_coin: float
    oi_usd: float | None
    price: float | None
    usd_source: str  # venue | mark | candle | none
    price_ts: int | None
    raw_two_sided: bool
    end_of_day: bool  # imported daily figure (CME), not a live one


def value_row(row: dict[str, Any]) -> OiPoint:
    """Value one `open_interest_at` row in USD: the venue's USD, else mark price, else 1m candle close."""
    oi = float(row["open_interest"])
    usd: float | None = None
    price: float | None = None
    price_ts: int | None = None
    source = "none"
    if row.get("open_interest_usd") is not None:
        usd = float(row["open_interest_usd"])
        ref = row.get("reference_price")
        price = float(ref) if ref is not None else (usd / oi if oi else None)
        price_ts, source = int(row["ts_event"]), "venue"
    elif row.get("mark_price") is not None:
        price, price_ts, source = float(row["mark_price"]), int(row["mark_ts"]), "mark"
    elif row.get("candle_close") is not None:
        price, price_ts, source = float(row["candle_close"]), int(row["candle_ts"]), "candle"
    if usd is None and price is not None:
        usd = oi * price
    return OiPoint(
        venue=str(row["venue"]),
        symbol=str(row["symbol"]),
        market=str(row["market"]),
        coin=str(row["coin"]),
        ts_event=int(row["ts_event"]),
        oi_coin=oi,
        oi_usd=usd,
        price=price,
        usd_source=source,
        price_ts=price_ts,
        raw_two_sided=bool(row.get("raw_two_sided")),
        end_of_day=str(row.get("origin")) == "import",
    )


def value_rows(rows: Iterable[dict[str, Any]]) -> list[OiPoint]:
    """Value every row (see `value_row`)."""
    return [value_row(r) for r in rows]


def is_stale(p: OiPoint, at: int) -> bool:
    """Return whether a point is too old at `at` to be current (1h; end-of-day points 4 days)."""
    return p.ts_event < at - (EOD_TOLERANCE_NS if p.end_of_day else STALE_NS)


def aggregate(points: Sequence[OiPoint], at: int) -> dict[str, Any]:
    """Sum OI in coin (every symbol) and USD (symbols with a USD value); count symbols, stale ones and USD sources."""
    sources = Counter(p.usd_source for p in points)
    valued = [p for p in points if p.oi_usd is not None]
    return {
        "oi_coin": sum(p.oi_coin for p in points),
        "oi_usd": sum(p.oi_usd for p in valued if p.oi_usd is not None) if valued else None,
        "symbols": len(points),
        "symbols_without_usd": len(points) - len(valued),
        "venues_without_usd": sorted({p.venue for p in points if p.oi_usd is None}),
        "stale_symbols": sum(is_stale(p, at) for p in points),
        "usd_sources": {s: sources[s] for s in USD_SOURCES if sources[s]},
        "venues": len({p.venue for p in points}),
        "ts_oldest": ns_to_iso(min(p.ts_event for p in points)) if points else None,
        "ts_newest": ns_to_iso(max(p.ts_event for p in points)) if points else None,
        "end_of_day": bool(points) and all(p.end_of_day for p in points),
    }


def _ratio(new: float, old: float) -> float | None:
    return new / old - 1.0 if old else None


def _tolerance(p: OiPoint, span: int) -> int:
    return max(span, EOD_TOLERANCE_NS) if p.end_of_day else span


def change(start: Sequence[OiPoint], end: Sequence[OiPoint], *, start_at: int, end_at: int) -> dict[str, Any]:
    """Compare OI between snapshots taken at `start_at` and `end_at`, symbol by symbol.

    A symbol counts only when its start point is no older than `start_at` minus the window (end-of-day points: 4
    days), its end point was observed after `end_at` minus the window, and after the start point (a carried-forward
    figure makes no change), and end-of-day points only
    over windows of a day or more; the others are counted under `skipped` by reason. `coin_change` covers every counted
    symbol (`symbols`); the USD change, the price change and the decomposition cover those valued in USD at both ends
    (`symbols_usd`); `coin_change_usd_symbols` is the coin change over those same symbols, so
    USD = coin_change_usd_symbols and price always adds up (coin_change_usd_symbols == coin_change_from_usd_and_price),
    and coin_change equals it whenever `symbols_usd` == `symbols`.
    """
    span = end_at - start_at
    before = {(p.venue, p.symbol): p for p in start}
    pairs: list[tuple[OiPoint, OiPoint]] = []
    skipped: Counter[str] = Counter()
    for p in end:
        q = before.get((p.venue, p.symbol))
        if p.end_of_day and span < DAY_NS:
            skipped["end_of_day"] += 1
        elif p.ts_event <= end_at - _tolerance(p, span):
            skipped["stale_at_end"] += 1
        elif q is None or q.ts_event < start_at - _tolerance(q, span):
            skipped["not_at_start"] += 1
        elif p.ts_event <= q.ts_event:
            skipped["not_updated"] += 1
        else:
            pairs.append((q, p))
    valued = [(q, p) for q, p in pairs if q.oi_usd is not None and p.oi_usd is not None]
    coin_from = sum(q.oi_coin for q, _ in pairs)
    coin_to = sum(p.oi_coin for _, p in pairs)
    vcoin_from = sum(q.oi_coin for q, _ in valued)
    vcoin_to = sum(p.oi_coin for _, p in valued)
    usd_from = sum(q.oi_usd or 0.0 for q, _ in valued)
    usd_to = sum(p.oi_usd or 0.0 for _, p in valued)
    usd_change = _ratio(usd_to, usd_from) if valued else None
    price_change = (
        _ratio(usd_to / vcoin_to, usd_from / vcoin_from) if vcoin_to and vcoin_from and usd_from else None
    )
    identity = (
        (1.0 + usd_change) / (1.0 + price_change) - 1.0
        if usd_change is not None and price_change is not None
        else None
    )
    return {
        "oi_coin_from": coin_from if pairs else None,
        "oi_coin_to": coin_to if pairs else None,
        "oi_usd_from": usd_from if valued else None,
        "oi_usd_to": usd_to if valued else None,
        "usd_change": usd_change,
        "coin_change": _ratio(coin_to, coin_from) if pairs else None,
        "coin_change_usd_symbols": _ratio(vcoin_to, vcoin_from) if valued else None,
        "price_change": price_change,
        "coin_change_from_usd_and_price": identity,
        "symbols": len(pairs),
        "symbols_usd": len(valued),
        "venues": len({p.venue for _, p in pairs}),
        "skipped": dict(skipped),
    }


def _by_coin_venue(points: Iterable[OiPoint]) -> dict[str, dict[str, list[OiPoint]]]:
    out: dict[str, dict[str, list[OiPoint]]] = defaultdict(lambda: defaultdict(list))
    for p in points:
        out[p.coin][p.venue].append(p)
    return out


def snapshot_changes(
    end: Sequence[OiPoint], end_at: int, starts: Mapping[str, tuple[int, Sequence[OiPoint]]]
) -> dict[str, dict[str, Any]]:
    """Return per coin: each venue's and the total's OI at `end_at` and its change against each (time, snapshot)."""
    grouped = _by_coin_venue(end)
    out: dict[str, dict[str, Any]] = {}
    for coin in sorted(grouped):
        venues = grouped[coin]
        all_points = [p for v in venues.values() for p in v]
        coin_starts = {label: (t, [p for p in pts if p.coin == coin]) for label, (t, pts) in starts.items()}
        out[coin] = {
            "venues": {
                venue: {
                    **aggregate(pts, end_at),
                    "changes": {
                        label: change([p for p in s if p.venue == venue], pts, start_at=t, end_at=end_at)
                        for label, (t, s) in coin_starts.items()
                    },
                }
                for venue, pts in sorted(venues.items())
            },
            "total": {
                **aggregate(all_points, end_at),
                "changes": {
                    label: change(s, all_points, start_at=t, end_at=end_at)
                    for label, (t, s) in coin_starts.items()
                },
            },
        }
    return out


def start_grace(span: int) -> int:
    """How long after a window's start a symbol's first point may come and still stand for the start: 1% of the
    window, at most 15 minutes (a collection that began at the window's start polls its first OI a little later)."""
    return min(span // 100, MAX_START_GRACE_NS)


def _start_snapshot(store: EventStore, start_at: int, span: int, coin: str | None) -> list[OiPoint]:
    """The OI at `start_at`; a symbol with no point by then takes its last point within `start_grace` after it."""
    points = value_rows(store.open_interest_at(start_at, coin=coin))
    grace = start_grace(span)
    if grace <= 0:
        return points
    have = {(p.venue, p.symbol) for p in points}
    late = value_rows(store.open_interest_at(start_at + grace, coin=coin))
    return points + [p for p in late if (p.venue, p.symbol) not in have and p.ts_event > start_at]


def point_dict(p: OiPoint, at: int) -> dict[str, Any]:
    """Return a JSON-ready dict of a point with ISO times and its staleness at `at`."""
    d = msgspec.structs.asdict(p)
    d["ts"] = ns_to_iso(p.ts_event)
    d["stale"] = is_stale(p, at)
    d["price_ts"] = ns_to_iso(p.price_ts) if p.price_ts is not None else None
    return d


def open_interest_summary(
    store: EventStore,
    *,
    at: int,
    coin: str | None = None,
    windows: Sequence[tuple[str, int]] = DEFAULT_WINDOWS,
) -> dict[str, Any]:
    """Return OI per venue and total per coin at `at`, with changes over each window, and the per-symbol points."""
    end = value_rows(store.open_interest_at(at, coin=coin))
    starts = {label: (at - span, _start_snapshot(store, at - span, span, coin)) for label, span in windows}
    return {
        "at": ns_to_iso(at),
        "windows": [label for label, _ in windows],
        "coins": snapshot_changes(end, at, starts),
        "symbols": [point_dict(p, at) for p in end],
    }


def open_interest_between(
    store: EventStore, *, start: int, end: int, coin: str | None = None
) -> dict[str, Any]:
    """Return OI per venue and total per coin at `start` and `end`, and the change between them."""
    label = "change"
    summary = open_interest_summary(store, at=end, coin=coin, windows=((label, end - start),))
    summary["from"] = ns_to_iso(start)
    summary["to"] = summary.pop("at")
    summary.pop("windows")
    return summary
