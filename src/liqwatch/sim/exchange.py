"""SimExchange: the simulated market published through a VenueServer in each venue's real wire format.

It steps the `Market`, encodes its events with `sim.wire`, applies each venue's publishing throttle
(Binance forceOrder: only the last liquidation per symbol per second), answers the venues' REST instruments
and open-interest calls from the market's state, and keeps a `Ledger` of what happened and what each venue
published, per venue, coin and side: the numbers a collector downstream must reproduce.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from liqwatch.model import Instrument
from liqwatch.sim.dialects import DIALECTS
from liqwatch.sim.market import Market, SimBar, SimEvent, SimLiquidation, SimSnapshot
from liqwatch.sim.scenario import Scenario
from liqwatch.sim.venue_server import VenueServer
from liqwatch.sim.wire import WIRES, Emitted, VenueWire
from liqwatch.venues import VENUES

_NS_PER_MS = 1_000_000


@dataclass
class Tally:
    """A count and a USD sum."""

    count: int = 0
    usd: float = 0.0

    def add(self, usd: float) -> None:
        self.count += 1
        self.usd += usd


@dataclass
class Ledger:
    """What the market liquidated (`occurred`) and what the venues' feeds carried (`published`), by (venue, coin, side)."""

    occurred: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    published: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    largest: tuple[float, str, str, str, int] | None = None  # (usd, venue, coin, side, ts_ns) among published
    frames: Counter[str] = field(default_factory=Counter)  # per venue, every frame pushed
    unsubscribed: Counter[str] = field(default_factory=Counter)  # frames not sent: no client subscribed their topic

    def record(self, book: dict[tuple[str, str, str], Tally], venue: str, coin: str, side: str, usd: float) -> None:
        book.setdefault((venue, coin, side), Tally()).add(usd)

    def totals(self, published: bool = True, by: tuple[str, ...] = ("venue", "side")) -> dict[tuple[str, ...], Tally]:
        """Return tallies summed over the dimensions not in `by` (venue, coin, side)."""
        index = {"venue": 0, "coin": 1, "side": 2}
        out: dict[tuple[str, ...], Tally] = {}
        for key, t in (self.published if published else self.occurred).items():
            k = tuple(key[index[d]] for d in by)
            agg = out.setdefault(k, Tally())
            agg.count += t.count
            agg.usd += t.usd
        return out

    def total_usd(self, published: bool = True) -> float:
        """Return the USD of every liquidation."""
        return sum(t.usd for t in (self.published if published else self.occurred).values())


class _Throttle:
    """Keep only the last liquidation per symbol per window (Binance: 'only the latest … within 1000 ms')."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.pending: dict[str, tuple[int, SimLiquidation, Emitted]] = {}

    def offer(self, liq: SimLiquidation, emitted: Emitted, ts_ms: int) -> list[Emitted]:
        window = ts_ms // self.window_ms
        held = self.pending.get(emitted.symbol)
        self.pending[emitted.symbol] = (window, liq, emitted)
        return [held[2]] if held is not None and held[0] != window else []

    def due(self, now_ms: int) -> list[Emitted]:
        out = [e for w, _, e in self.pending.values() if (w + 1) * self.window_ms <= now_ms]
        self.pending = {s: p for s, p in self.pending.items() if (p[0] + 1) * self.window_ms > now_ms}
        return out

    def flush(self) -> list[Emitted]:
        out = [e for _, _, e in self.pending.values()]
        self.pending.clear()
        return out


class SimExchange:
    """Run a scenario's market and publish it on a VenueServer; the server's `rest_hook` is `self.rest`."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.market = Market(scenario, seed)
        self.coins = sorted(scenario.coins)
        ticks = {c: scenario.coins[c].tick for c in self.coins}
        prices = {c: scenario.coins[c].path[0][1] for c in self.coins}
        self.wires: dict[str, VenueWire] = {v: WIRES[v](ticks, prices) for v in scenario.venues}
        self.ledger = Ledger()
        self.snapshots = {c: self.market.snapshot(c) for c in self.coins}
        self.first_snapshots = dict(self.snapshots)
        self.lows = {c: self.market.price(c) for c in self.coins}
        self._throttles = {v: _Throttle(s.throttle_ms) for v, s in scenario.venues.items() if s.throttle_ms > 0}
        self._keys: dict[str, set[tuple[str, int, str, str, str]]] = {v: set() for v in scenario.venues}
        self._topics: dict[str, set[str]] | None = None
        self.server: VenueServer | None = None

    @property
    def now_ns(self) -> int:
        """Return the simulated clock."""
        return self.market.ts_ns

    def instruments(self, venue: str) -> list[Instrument]:
        """Return the instruments the venue serves, parsed by the venue's own module."""
        wire, module = self.wires[venue], VENUES[venue]
        out: list[Instrument] = []
        for request in module.instrument_requests():
            body = wire.rest(request.path, dict(request.params), self.coins, self.snapshots, self.now_ns // _NS_PER_MS)
            if body is not None:
                out.extend(module.parse_instruments(body))
        return out

    def rest(self, venue: str, path: str, query: dict[str, str]) -> tuple[int, bytes] | None:
        """Answer a venue's REST call from the simulated market (None: not simulated, the dialect answers)."""
        wire = self.wires.get(venue)
        if wire is None:
            return None
        body = wire.rest(path, query, self.coins, self.snapshots, self.now_ns // _NS_PER_MS)
        return None if body is None else (200, body)

    def sample_topics(self) -> dict[str, set[str]]:
        """Return per venue the topics the simulation publishes on (a client must subscribe them all)."""
        out: dict[str, set[str]] = {}
        ts = self.scenario.ts_start
        for venue, wire in self.wires.items():
            topics: set[str] = set()
            for coin in self.coins:
                snap = self.snapshots[coin]
                bar = SimBar(ts_ns=ts, coin=coin, open=1.0, high=1.0, low=1.0, close=1.0, volume={venue: 1.0})
                for side in ("long", "short"):
                    liq = SimLiquidation(ts_ns=ts, coin=coin, venue=venue, side=side, quantity=1.0, price=1.0, bankruptcy_price=1.0, leverage=1.0)
                    topics.add(self._topic(venue, wire.liquidation(liq, ts // _NS_PER_MS).frame))
                topics.update(self._topic(venue, frame) for _, frame in wire.minute(snap, bar))
            out[venue] = topics
        return out

    @staticmethod
    def _topic(venue: str, frame: bytes) -> str:
        topic = DIALECTS[venue].topic_of(frame)
        assert topic is not None, f"{venue}: a simulated frame has no topic: {frame[:100]!r}"
        return topic

    def unsubscribed_topics(self, server: VenueServer) -> dict[str, set[str]]:
        """Return per venue the simulated topics no connection of the server subscribed (empty when ready)."""
        out = {}
        for venue, topics in self.sample_topics().items():
            subscribed = server.subscribed_topics(venue)
            missing = {t for t in topics if not DIALECTS[venue].subscribed_to(subscribed, t)}
            if missing:
                out[venue] = missing
        return out

    def attach(self, server: VenueServer) -> None:
        """Publish on `server` from now on, to the topics its clients have subscribed now."""
        self.server = server
        self._topics = {v: server.subscribed_topics(v) for v in self.wires}

    # ---- stepping --------------------------------------------------------------------------------

    async def advance(self, until_ns: int) -> int:
        """Step the market to `until_ns`, push every resulting frame; return how many were pushed."""
        frames = self.encode(self.market.advance(until_ns))
        for venue, throttle in self._throttles.items():
            frames.extend((venue, e.frame) for e in self._publish(throttle.due(self.now_ns // _NS_PER_MS), venue))
        return await self._push(frames)

    async def finish(self) -> int:
        """Publish what the throttles still hold (the scenario ended)."""
        frames = [(v, e.frame) for v, t in self._throttles.items() for e in self._publish(t.flush(), v)]
        return await self._push(frames)

    def encode(self, events: list[SimEvent]) -> list[tuple[str, bytes]]:
        """Return (venue, frame) for events in time order, record the ledger; throttled liquidations are held back."""
        out: list[tuple[str, bytes]] = []
        bars: dict[str, SimBar] = {}
        for event in events:
            if isinstance(event, SimLiquidation):
                out.extend((event.venue, e.frame) for e in self._liquidation(event))
            elif isinstance(event, SimBar):
                bars[event.coin] = event
                self.lows[event.coin] = min(self.lows[event.coin], event.low)
            elif isinstance(event, SimSnapshot):
                self.snapshots[event.coin] = event
                bar = bars.pop(event.coin, None)
                for venue, wire in self.wires.items():
                    out.extend((venue, frame) for _, frame in wire.minute(event, bar))
        return out

    def _liquidation(self, liq: SimLiquidation) -> list[Emitted]:
        wire = self.wires[liq.venue]
        ts_ms = liq.ts_ns // _NS_PER_MS
        emitted = wire.liquidation(liq, ts_ms)
        while emitted.key in self._keys[liq.venue]:  # the venue's store key must be unique: move a ms on
            ts_ms += 1
            emitted = wire.liquidation(liq, ts_ms)
        self._keys[liq.venue].add(emitted.key)
        self.ledger.record(self.ledger.occurred, liq.venue, liq.coin, liq.side, emitted.notional_usd)
        throttle = self._throttles.get(liq.venue)
        released = throttle.offer(liq, emitted, ts_ms) if throttle is not None else [emitted]
        return self._publish(released, liq.venue)

    def _publish(self, emitted: list[Emitted], venue: str) -> list[Emitted]:
        for e in emitted:
            coin = e.coin
            self.ledger.record(self.ledger.published, venue, coin, e.side, e.notional_usd)
            if self.ledger.largest is None or e.notional_usd > self.ledger.largest[0]:
                self.ledger.largest = (e.notional_usd, venue, coin, e.side, e.key[1] * _NS_PER_MS)
        return emitted

    async def _push(self, frames: list[tuple[str, bytes]]) -> int:
        if self.server is None or self._topics is None:
            return 0
        pushed = 0
        for venue, frame in frames:
            topic = DIALECTS[venue].topic_of(frame)
            if topic is None or not DIALECTS[venue].subscribed_to(self._topics[venue], topic):
                self.ledger.unsubscribed[venue] += 1
                continue
            await self.server.push(venue, frame)
            self.ledger.frames[venue] += 1
            pushed += 1
        return pushed


__all__ = ["Ledger", "SimExchange", "Tally"]
