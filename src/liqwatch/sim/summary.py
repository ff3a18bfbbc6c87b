"""What a demo run stored, read back through the store: the numbers that tell the scenario's story."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from liqwatch.sim.scenario import Scenario
from liqwatch.storage.base import EventStore

_NS_PER_S = 1_000_000_000


@dataclass
class Story:
    """Stored totals of a scenario's timeline."""

    long_usd: float = 0.0
    short_usd: float = 0.0
    count: int = 0
    by_venue: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # venue → (long USD, short USD, count)
    by_coin: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    largest: dict[str, Any] | None = None
    open_interest_usd: dict[str, tuple[float, float]] = field(default_factory=dict)  # coin → (first, last) across venues
    open_interest_base: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def total_usd(self) -> float:
        """Return long + short USD."""
        return self.long_usd + self.short_usd

    @property
    def long_share(self) -> float:
        """Return the longs' share of the liquidated USD (0 when nothing)."""
        return self.long_usd / self.total_usd if self.total_usd else 0.0


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[str, tuple[float, float, int]]:
    return {
        str(r[key]): (float(r["long_usd"]), float(r["short_usd"]), int(r["long_count"]) + int(r["short_count"])) for r in rows
    }


def _oi(store: EventStore, at: int) -> dict[tuple[str, str, str], tuple[float, float | None]]:
    out: dict[tuple[str, str, str], tuple[float, float | None]] = {}
    for row in store.open_interest_at(at):
        price = row["mark_price"] or row["candle_close"]
        usd = row["open_interest_usd"] if row["open_interest_usd"] is not None else (row["open_interest"] * price if price else None)
        out[(str(row["coin"]), str(row["venue"]), str(row["symbol"]))] = (float(row["open_interest"]), usd)
    return out


def read_story(store: EventStore, scenario: Scenario, until: int | None = None) -> Story:
    """Return what the store holds for the scenario's timeline (up to `until`, default its end)."""
    since, end = scenario.ts_start - 1, (until if until is not None else scenario.ts_end) + 60 * _NS_PER_S
    story = Story()
    total = store.liquidation_totals(since=since, until=end)
    if total:
        t = total[0]
        story.long_usd, story.short_usd = float(t["long_usd"]), float(t["short_usd"])
        story.count = int(t["long_count"]) + int(t["short_count"])
    story.by_venue = _grouped(store.liquidation_totals(since=since, until=end, group_by="venue"), "venue")
    story.by_coin = _grouped(store.liquidation_totals(since=since, until=end, group_by="coin"), "coin")
    top = store.top_liquidations(since=since, until=end, limit=1)
    story.largest = top[0] if top else None
    first, last = _oi(store, scenario.ts_start + 120 * _NS_PER_S), _oi(store, end)
    for key in sorted(first.keys() & last.keys()):  # the same venues at both ends
        coin = key[0]
        (b0, u0), (b1, u1) = first[key], last[key]
        base_from, base_to = story.open_interest_base.get(coin, (0.0, 0.0))
        story.open_interest_base[coin] = (base_from + b0, base_to + b1)
        if u0 is not None and u1 is not None:
            usd_from, usd_to = story.open_interest_usd.get(coin, (0.0, 0.0))
            story.open_interest_usd[coin] = (usd_from + u0, usd_to + u1)
    return story


__all__ = ["Story", "read_story"]
