"""Live liquidation state in process, updated per event: per-minute buckets, never a re-scan.

`App` feeds it through `bus.on_events`. Each event updates one minute bucket (USD, count and largest per
(coin, venue, margin, side)) and is deduplicated by its store key (`model.identity.dedup_key`), so a venue replaying on reconnect does
not double count. `totals(window_ns, at)` answers (at − window, at] exactly: whole minutes from the buckets, the two
partial edge minutes from the events kept for them. The events are kept as flat columns (time, USD, price,
quantity and a number for venue/symbol/side), not as `Liquidation` objects: ~130 bytes an event in all (measured:
466 before), so a day of 1M liquidations costs ~130 MB and a cascade at thousands a second does not exhaust memory. The answer has `liquidation_stats`'s JSON shape. Buckets older
than `retention_ns` are dropped as time advances. `seed(store, at)` loads the retention window from the store at
start, so a restart over a filled store shows the same totals as the store (events seen twice count once).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from liqwatch.analytics.metrics import coverage
from liqwatch.model import ContractType, FeedState, FeedStatus, Liquidation
from liqwatch.model.identity import dedup_key
from liqwatch.model.time import now_ns, ns_to_iso
from liqwatch.storage.base import EventStore
from liqwatch.storage.rollup import MINUTE_NS, full_minutes, minute_of

_DOWN = (FeedState.DISCONNECTED, FeedState.STALE)
_DOWN_NAMES = tuple(s.value for s in _DOWN)


_Key = tuple[str, str, str, str]  # coin, venue, margin, side
_Series = tuple[str, str, str, str, str, str]  # coin, venue, margin, side, symbol, market: what a row needs besides numbers
_Row = tuple[float, int, int, float, float]  # -notional_usd, ts_event, series, price, quantity
TOP_KEPT = 10


class _Minute:
    """One minute: sums per key, its largest events, every event in five flat columns (for the window's edge minutes)
    and their time span (an edge minute wholly inside the window is answered from its sums).

    An event costs ~36 bytes of columns (+ its dedup key) instead of a kept `Liquidation` object (~320 bytes with its
    floats), so a liquidation cascade of millions of events a day stays in memory (see `LiveAnalytics`)."""

    __slots__ = ("cutoff", "ids", "largest", "neg_usd", "newest", "oldest", "price", "qty", "series", "sums", "ts")

    def __init__(self) -> None:
        self.ts = array("q")
        self.neg_usd = array("d")
        self.price = array("d")
        self.qty = array("d")
        self.series = array("I")
        self.ids: set[int] = set()
        self.sums: dict[int, list[float]] = {}  # series → [usd, count]
        self.largest: list[_Row] = []  # the TOP_KEPT largest, and up to TOP_KEPT candidates more, in no order
        self.cutoff = float("inf")  # -USD of the smallest of the top after the last cut: smaller events cannot enter
        self.oldest = 2**63
        self.newest = -(2**63)

    def keep_large(self, row: _Row) -> None:
        """Keep a row that may be among the minute's TOP_KEPT largest (its -USD is at most `cutoff`).

        `largest` holds the top and at most as many candidates more, unsorted; a cut sorts and keeps the top. So a
        rising cascade, where every event is a new largest, costs an append per event, not an insort.
        """
        largest = self.largest
        largest.append(row)
        if len(largest) >= 2 * TOP_KEPT:
            largest.sort(key=_size)
            del largest[TOP_KEPT:]
            self.cutoff = largest[-1][0]

    def rows_between(self, since: int, until: int) -> Iterator[_Row]:
        """The minute's events in (since, until], as rows."""
        ts, neg_usd, series, price, qty = self.ts, self.neg_usd, self.series, self.price, self.qty
        for i, t in enumerate(ts):
            if since < t <= until:
                yield (neg_usd[i], t, series[i], price[i], qty[i])


_UNSET = _Minute()  # `_add_all`'s bucket before its first event: binds the locals without a per-batch allocation


def _size(row: _Row) -> tuple[float, int]:
    return (row[0], row[1])


def _margin(e: Liquidation) -> str:
    kind = e.contract_type
    return "coin" if kind is ContractType.INVERSE or kind is ContractType.QUANTO else "stablecoin"


class LiveAnalytics:
    """Rolling liquidation totals for any window up to `retention_ns`, from per-minute buckets."""

    def __init__(self, *, retention_ns: int = 25 * 3600 * 10**9) -> None:
        self.retention_ns = retention_ns
        self._minutes: dict[int, _Minute] = {}
        self._series: list[_Series] = []  # what a column `series` number stands for
        self._series_of: dict[tuple[str, str, str, str, str, ContractType], int] = {}
        self._outages: list[tuple[int, str]] = []
        self.newest_ns = 0
        self._evicted_below = -1
        self._next_evict_ns = 0

    def on_events(self, events: Iterable[object]) -> None:
        """Take a published batch (the bus callback): liquidations and feed-status changes; the rest is ignored."""
        liquidations = [e for e in events if type(e) is Liquidation]
        if liquidations:
            self._add_all(liquidations)
        for e in events:
            if type(e) is FeedStatus and e.state in _DOWN:
                self._outages.append((e.ts_event, e.venue))
                self._evicted_below = -1  # re-check the outages too
        if self.newest_ns >= self._next_evict_ns or self._evicted_below < 0:
            self._evict()

    def seed(self, store: EventStore, at: int | None = None) -> int:
        """Load the stored liquidations and outages of the retention window ending at `at` (default now); return how many."""
        until = now_ns() if at is None else at
        since = until - self.retention_ns
        rows = store.liquidations(since=since, until=until)
        self._add_all(msgspec.convert(row, Liquidation, strict=False) for row in rows)
        for status in store.feed_status_changes(since=since, until=until):
            if int(status["ts_event"]) > since and status["state"] in _DOWN_NAMES:
                self._outages.append((int(status["ts_event"]), str(status["venue"])))
        self._evicted_below = -1
        self._evict()
        return len(rows)

    def add(self, e: Liquidation) -> None:
        """Count one liquidation (once, whatever how often it is seen)."""
        self._add_all((e,))

    def _add_all(self, events: Iterable[Liquidation]) -> None:
        # The per-event hot path of the live totals (every liquidation the bus publishes): one pass, locals only, the
        # minute's column appends bound once per minute. What it does per event is `_Minute`'s layout, in order.
        minutes, series_of, key_of = self._minutes, self._series_of, dedup_key
        evicted_below, newest = self._evicted_below, self.newest_ns
        current = None
        bucket = _UNSET  # never written to: `current = None` makes the first event bind its own minute
        ids, sums = bucket.ids, bucket.sums
        add_ts, add_neg_usd, add_price, add_qty, add_series = (
            bucket.ts.append, bucket.neg_usd.append, bucket.price.append, bucket.qty.append, bucket.series.append
        )
        for e in events:
            ts = e.ts_event
            minute = ts - ts % MINUTE_NS
            if minute != current:
                found = minutes.get(minute)
                if found is None:
                    if minute < evicted_below:
                        continue  # older than the retention: `_evict` would drop it at once
                    found = minutes[minute] = _Minute()
                bucket, current = found, minute
                ids, sums = bucket.ids, bucket.sums
                add_ts, add_neg_usd, add_price, add_qty, add_series = (
                    bucket.ts.append, bucket.neg_usd.append, bucket.price.append, bucket.qty.append, bucket.series.append
                )
            key = key_of(e)
            if key in ids:
                continue
            ids.add(key)
            which = (e.venue, e.symbol, e.market, e.coin, e.position_side, e.contract_type)
            series = series_of.get(which)
            if series is None:
                series = series_of[which] = len(self._series)
                self._series.append((e.coin, e.venue, _margin(e), e.position_side, e.symbol, e.market))
            usd, price, qty = e.notional_usd, e.price, e.quantity
            add_ts(ts)
            add_neg_usd(-usd)
            add_price(price)
            add_qty(qty)
            add_series(series)
            cell = sums.get(series)
            if cell is None:
                sums[series] = [usd, 1]
            else:
                cell[0] += usd
                cell[1] += 1
            if ts < bucket.oldest:
                bucket.oldest = ts
            if ts > bucket.newest:
                bucket.newest = ts
                if ts > newest:
                    newest = ts
            if -usd <= bucket.cutoff:
                bucket.keep_large((-usd, ts, series, price, qty))
        self.newest_ns = newest

    def _evict(self) -> None:
        # the event clock, not the wall clock, so a replay of past days keeps its data
        oldest = minute_of(self.newest_ns - self.retention_ns) - MINUTE_NS
        if oldest == self._evicted_below:  # nothing new can be old enough: skip the scan (once per minute, not per batch)
            return
        self._evicted_below = oldest
        # the threshold moves only when newest_ns - retention_ns enters the next minute
        self._next_evict_ns = minute_of(self.newest_ns - self.retention_ns) + MINUTE_NS + self.retention_ns
        for m in [m for m in self._minutes if m < oldest]:
            del self._minutes[m]
        self._outages = [(t, v) for t, v in self._outages if t >= oldest]

    def _collect(self, since: int, until: int) -> tuple[dict[_Key, list[float]], list[_Row]]:
        lo, hi = full_minutes(since, until)
        by_series: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        candidates: list[_Row] = []
        for m, bucket in self._minutes.items():
            if lo <= m < hi or (m + MINUTE_NS > since and m <= until and since < bucket.oldest and bucket.newest <= until):
                for series, (usd, n) in bucket.sums.items():
                    cell = by_series[series]
                    cell[0] += usd
                    cell[1] += n
                candidates.extend(bucket.largest)
            elif m + MINUTE_NS > since and m <= until:
                for row in bucket.rows_between(since, until):
                    cell = by_series[row[2]]
                    cell[0] -= row[0]
                    cell[1] += 1
                    candidates.append(row)
        sums: dict[_Key, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for series, (usd, n) in by_series.items():
            cell = sums[self._series[series][:4]]
            cell[0] += usd
            cell[1] += n
        return sums, candidates

    def _row(self, row: _Row) -> dict[str, Any]:
        coin, venue, _, side, symbol, market = self._series[row[2]]
        return {
            "venue": venue,
            "symbol": symbol,
            "market": market,
            "coin": coin,
            "position_side": str(side),
            "price": row[3],
            "quantity": row[4],
            "notional_usd": -row[0],
            "ts_event": row[1],
            "ts": ns_to_iso(row[1]),
        }

    def rolling(self, at: int | None = None) -> dict[str, dict[str, Any]]:
        """Return `totals` for the standard 1h, 4h, 12h and 24h windows ending at `at` (default now)."""
        until = now_ns() if at is None else at
        return {f"{h}h": self.totals(h * 3600 * 10**9, until) for h in (1, 4, 12, 24)}

    def totals(self, window_ns: int, at: int | None = None, *, top: int = 5) -> dict[str, Any]:
        """Return the `liquidation_stats` JSON shape for (at − window_ns, at]; `at` defaults to now."""
        until = now_ns() if at is None else at
        since = until - window_ns
        sums, candidates = self._collect(since, until)
        largest = sorted(candidates, key=_size)[:top]
        outages: dict[str, int] = defaultdict(int)
        for t, venue in self._outages:
            if since < t <= until:
                outages[venue] += 1
        venues = sorted({k[1] for k in sums})
        return {
            "since": ns_to_iso(since),
            "until": ns_to_iso(until),
            "since_ns": since,
            "until_ns": until,
            **_block(sums, lambda k: ""),
            "by_coin": _grouped(sums, lambda k: k[0]),
            "by_venue": _grouped(sums, lambda k: k[1]),
            "by_margin": _grouped(sums, lambda k: k[2]),
            "largest": self._row(largest[0]) if largest else None,
            "top": [self._row(r) for r in largest],
            "coin": None,
            "coverage": {**coverage(venues), "outages": dict(sorted(outages.items()))},
            "live": True,
            "retention_s": self.retention_ns // 10**9,
        }


def _block(sums: dict[_Key, list[float]], group: Callable[[_Key], str], name: str = "") -> dict[str, Any]:
    long_usd = short_usd = 0.0
    long_count = short_count = 0
    for key, (usd, n) in sums.items():
        if group(key) != name:
            continue
        if key[3] == "long":
            long_usd, long_count = long_usd + usd, long_count + int(n)
        else:
            short_usd, short_count = short_usd + usd, short_count + int(n)
    total = long_usd + short_usd
    return {
        "total_usd": total,
        "long_usd": long_usd,
        "short_usd": short_usd,
        "long_share": long_usd / total if total else None,
        "count": long_count + short_count,
        "long_count": long_count,
        "short_count": short_count,
    }


def _grouped(sums: dict[_Key, list[float]], group: Callable[[_Key], str]) -> dict[str, dict[str, Any]]:
    blocks = {name: _block(sums, group, name) for name in {group(k) for k in sums}}
    return dict(sorted(blocks.items(), key=lambda kv: (-kv[1]["total_usd"], kv[0])))
