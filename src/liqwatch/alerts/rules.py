"""Pure rule evaluation: events in, `Fired` records out. No I/O, no clock but the events' own (and `tick(now)`).

Each evaluator keeps only the small state its rule needs (per-minute buckets, last close, latest OI per
contract, feed states). Cooldown and dedupe are not decided here but in `policy.py`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import msgspec

from liqwatch.config.alerts import (
    FeedRule,
    LiquidationRule,
    LiquidationTotalRule,
    OpenInterestRule,
    PriceRule,
    Rule,
    SignalRule,
)
from liqwatch.model import Candle, Event, FeedState, FeedStatus, Liquidation, OpenInterest, Signal

NS_PER_MIN = 60 * 1_000_000_000


class Fired(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's condition held: what, for which coin (or venue), when, and the numbers behind it."""

    rule: str
    rule_type: str
    subject: str  # the coin, or the venue for feed rules: the cooldown key with `rule`
    venue: str  # "*" when several venues contributed
    ts_trigger: int  # event time of the evaluation that fired
    headline: str
    values: dict[str, Any]
    venues: list[str]  # venues whose data went into it (for the coverage caveat)


def _match(rule: Rule, coin: str, venue: str) -> bool:
    if rule.venue and venue != rule.venue:
        return False
    want = getattr(rule, "coin", "")
    return not want or want.upper() == coin.upper()


def _side_ok(side: str, position_side: str) -> bool:
    return side == "any" or side == position_side


class LiquidationEval:
    """One liquidation of at least `min_usd`."""

    def __init__(self, rule: LiquidationRule) -> None:
        self.rule = rule

    def observe(self, event: Event | Signal) -> list[Fired]:
        r = self.rule
        if not isinstance(event, Liquidation) or not _match(r, event.coin, event.venue):
            return []
        if event.notional_usd < r.min_usd or not _side_ok(r.side, event.position_side.value):
            return []
        return [
            Fired(
                rule=r.name,
                rule_type="liquidation",
                subject=event.coin,
                venue=event.venue,
                ts_trigger=event.ts_event,
                headline=f"{event.coin} {event.position_side.value} liquidated: ${event.notional_usd:,.0f} on {event.venue}",
                values={
                    "notional_usd": event.notional_usd,
                    "side": event.position_side.value,
                    "price": event.price,
                    "quantity": event.quantity,
                    "market": event.market,
                    "threshold_usd": r.min_usd,
                },
                venues=[event.venue],
            )
        ]


class LiquidationTotalEval:
    """Rolling liquidated USD per coin (and side) in per-minute buckets over `window`."""

    def __init__(self, rule: LiquidationTotalRule) -> None:
        self.rule = rule
        self.minutes = max(1, -(-rule.window_ns // NS_PER_MIN))
        self._buckets: dict[str, dict[int, list[Any]]] = defaultdict(dict)  # coin → minute → [usd, count, venues]
        self._newest: dict[str, int] = {}

    def observe(self, event: Event | Signal) -> list[Fired]:
        r = self.rule
        if not isinstance(event, Liquidation) or not _match(r, event.coin, event.venue):
            return []
        if not _side_ok(r.side, event.position_side.value):
            return []
        minute = event.ts_event // NS_PER_MIN
        buckets = self._buckets[event.coin]
        newest = max(minute, self._newest.get(event.coin, minute))
        if minute <= newest - self.minutes:
            return []  # older than the window: late data cannot fire
        self._newest[event.coin] = newest
        bucket = buckets.setdefault(minute, [0.0, 0, set()])
        bucket[0] += event.notional_usd
        bucket[1] += 1
        bucket[2].add(event.venue)
        for old in [m for m in buckets if m <= newest - self.minutes]:
            del buckets[old]
        total = sum(b[0] for b in buckets.values())
        if total < r.min_usd:
            return []
        venues = sorted(set().union(*(b[2] for b in buckets.values())))
        side = "" if r.side == "any" else f"{r.side} "
        return [
            Fired(
                rule=r.name,
                rule_type="liquidation-total",
                subject=event.coin,
                venue=venues[0] if len(venues) == 1 else "*",
                ts_trigger=event.ts_event,
                headline=f"{event.coin} {side}liquidations ${total:,.0f} in {r.window}",
                values={
                    "total_usd": total,
                    "count": sum(b[1] for b in buckets.values()),
                    "side": r.side,
                    "window": r.window,
                    "threshold_usd": r.min_usd,
                },
                venues=venues,
            )
        ]


class SignalEval:
    """Forward an analytics or level `Signal` that matches kind, coin, venue and direction."""

    def __init__(self, rule: SignalRule) -> None:
        self.rule = rule

    def observe(self, event: Event | Signal) -> list[Fired]:
        r = self.rule
        if not isinstance(event, Signal) or not _match(r, event.coin, "" if event.venue == "*" else event.venue):
            return []
        if r.venue and event.venue != r.venue:
            return []
        if (r.kinds and event.kind not in r.kinds) or (r.direction and event.direction != r.direction):
            return []
        try:
            inputs = msgspec.json.decode(event.inputs)
        except msgspec.DecodeError:
            inputs = {"inputs": event.inputs}
        values = inputs if isinstance(inputs, dict) else {"inputs": inputs}
        venues = [str(v) for v in values.get("venues", [])] if isinstance(values.get("venues"), list) else []
        return [
            Fired(
                rule=r.name,
                rule_type="signal",
                subject=event.coin,
                venue=event.venue,
                ts_trigger=event.ts_event,
                headline=f"{event.coin} {event.kind} ({event.direction}, {event.timeframe}): {event.message}",
                values={"kind": event.kind, "timeframe": event.timeframe, "direction": event.direction, **values},
                venues=venues or ([] if event.venue == "*" else [event.venue]),
            )
        ]


class PriceEval:
    """A closed 1-minute candle whose close crosses `level` from the previous close of the same contract."""

    def __init__(self, rule: PriceRule) -> None:
        self.rule = rule
        self._last: dict[tuple[str, str], float] = {}

    def observe(self, event: Event | Signal) -> list[Fired]:
        r = self.rule
        if not isinstance(event, Candle) or not event.closed or event.interval_s != 60:
            return []
        if not _match(r, event.coin, event.venue):
            return []
        key = (event.venue, event.symbol)
        previous = self._last.get(key)
        self._last[key] = event.close
        if previous is None:
            return []
        up = previous < r.level <= event.close
        down = previous > r.level >= event.close
        if not ((up and r.direction != "down") or (down and r.direction != "up")):
            return []
        word = "above" if up else "below"
        return [
            Fired(
                rule=r.name,
                rule_type="price",
                subject=event.coin,
                venue=event.venue,
                ts_trigger=event.ts_event + event.interval_s * 1_000_000_000,
                headline=f"{event.coin} closed {word} {r.level:,g} on {event.venue} ({event.close:,g})",
                values={"level": r.level, "close": event.close, "previous_close": previous, "market": event.market, "bar": "1m"},
                venues=[event.venue],
            )
        ]


class OpenInterestEval:
    """Change of one coin's OI (summed over its contracts) versus `window` ago, in USD or coin terms.

    Only contracts with a value at or before the window start count, so a venue that joins later never
    looks like an OI jump.
    """

    def __init__(self, rule: OpenInterestRule) -> None:
        self.rule = rule
        self.window_ns = rule.window_ns
        self._series: dict[str, dict[tuple[str, str], deque[tuple[int, float]]]] = defaultdict(dict)

    def observe(self, event: Event | Signal) -> list[Fired]:
        r = self.rule
        if not isinstance(event, OpenInterest) or not _match(r, event.coin, event.venue):
            return []
        value = event.open_interest_usd if r.unit == "usd" else event.open_interest
        if value is None or value <= 0:
            return []
        series = self._series[event.coin].setdefault((event.venue, event.symbol), deque())
        if series and event.ts_event < series[-1][0]:
            return []  # out of order
        series.append((event.ts_event, value))
        start = event.ts_event - self.window_ns
        then_sum = now_sum = 0.0
        venues: set[str] = set()
        for (venue, _), points in self._series[event.coin].items():
            while len(points) >= 2 and points[1][0] <= start:
                points.popleft()
            if points[0][0] <= start:
                then_sum += points[0][1]
                now_sum += points[-1][1]
                venues.add(venue)
        if then_sum <= 0:
            return []
        pct = (now_sum - then_sum) / then_sum * 100
        if abs(pct) < r.pct or (r.direction == "up" and pct < 0) or (r.direction == "down" and pct > 0):
            return []
        unit = "USD" if r.unit == "usd" else event.coin
        return [
            Fired(
                rule=r.name,
                rule_type="oi-change",
                subject=event.coin,
                venue=next(iter(venues)) if len(venues) == 1 else "*",
                ts_trigger=event.ts_event,
                headline=f"{event.coin} open interest {pct:+.2f}% in {r.window} ({unit})",
                values={"pct": round(pct, 4), "now": now_sum, "then": then_sum, "unit": r.unit, "window": r.window, "threshold_pct": r.pct},
                venues=sorted(venues),
            )
        ]


class FeedEval:
    """A venue not fully connected for `minutes`; fires once per outage, from FeedStatus and App venue states."""

    def __init__(self, rule: FeedRule) -> None:
        self.rule = rule
        self._states: dict[str, dict[str, FeedState]] = defaultdict(dict)
        self._status_down: dict[str, int] = {}  # from FeedStatus events
        self._app_down: dict[str, int] = {}  # from the App's venue states (REST unreachable: no sockets at all)
        self._fired: set[str] = set()  # venues alerted for their current outage

    def observe(self, event: Event | Signal) -> list[Fired]:
        if isinstance(event, FeedStatus) and (not self.rule.venue or event.venue == self.rule.venue):
            states = self._states[event.venue]
            states[event.connection_id] = event.state
            if all(s is FeedState.CONNECTED for s in states.values()):
                self._status_down.pop(event.venue, None)
            else:
                self._status_down.setdefault(event.venue, event.ts_event)
        return []

    def venue_states(self, states: dict[str, str], now: int) -> None:
        """Take the App's per-venue state words (connected, degraded, unreachable, starting)."""
        for venue, state in states.items():
            if self.rule.venue and venue != self.rule.venue:
                continue
            if state in ("unreachable", "degraded"):
                self._app_down.setdefault(venue, now)
            else:
                self._app_down.pop(venue, None)

    @property
    def down_since(self) -> dict[str, int]:
        """Return venue → since when it has been down, by either source."""
        out = dict(self._app_down)
        for venue, since in self._status_down.items():
            out[venue] = min(since, out.get(venue, since))
        return out

    def tick(self, now: int) -> list[Fired]:
        out = []
        limit = int(self.rule.minutes * NS_PER_MIN)
        down = self.down_since
        self._fired &= set(down)  # a recovered venue can alert again on its next outage
        for venue, since in sorted(down.items()):
            if now - since < limit or venue in self._fired:
                continue
            self._fired.add(venue)
            minutes = (now - since) / NS_PER_MIN
            out.append(
                Fired(
                    rule=self.rule.name,
                    rule_type="feed-down",
                    subject=venue,
                    venue=venue,
                    ts_trigger=since,
                    headline=f"{venue} data down for {minutes:.0f} min",
                    values={"down_since_ns": since, "minutes": round(minutes, 1), "threshold_minutes": self.rule.minutes},
                    venues=[venue],
                )
            )
        return out


Evaluator = LiquidationEval | LiquidationTotalEval | SignalEval | PriceEval | OpenInterestEval | FeedEval


def build(rule: Rule) -> Evaluator:
    """Return the evaluator for one rule."""
    if isinstance(rule, LiquidationRule):
        return LiquidationEval(rule)
    if isinstance(rule, LiquidationTotalRule):
        return LiquidationTotalEval(rule)
    if isinstance(rule, SignalRule):
        return SignalEval(rule)
    if isinstance(rule, PriceRule):
        return PriceEval(rule)
    if isinstance(rule, OpenInterestRule):
        return OpenInterestEval(rule)
    return FeedEval(rule)
