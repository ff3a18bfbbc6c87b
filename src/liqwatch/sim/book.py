"""The book of modelled leveraged positions of one coin: who is long or short, where each is liquidated.

Isolated-margin approximation (the usual exchange formula without fees or funding): a long of leverage L entered at `e` is
bankrupt at e·(1 − 1/L) and liquidated at e·(1 − 1/L + mmr); a short at e·(1 + 1/L) and e·(1 + 1/L − mmr),
with the maintenance-margin rate `mmr` of the position's notional bracket. Pure: no clock, no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

LONG, SHORT = "long", "short"


@dataclass(slots=True)
class Position:
    """One modelled position (quantity in base units)."""

    pid: int
    venue: str
    side: str
    quantity: float
    entry: float
    leverage: float
    liquidation_price: float
    bankruptcy_price: float
    alive: bool = True


def maintenance_rate(notional_usd: float, brackets: Sequence[tuple[float, float]]) -> float:
    """Return the maintenance-margin rate of the bracket holding `notional_usd`."""
    for cap, rate in brackets:
        if notional_usd <= cap:
            return rate
    return brackets[-1][1]


def liquidation_prices(side: str, entry: float, leverage: float, mmr: float) -> tuple[float, float]:
    """Return (liquidation price, bankruptcy price) of an isolated position."""
    if side == LONG:
        return entry * (1 - 1 / leverage + mmr), entry * (1 - 1 / leverage)
    return entry * (1 + 1 / leverage - mmr), entry * (1 + 1 / leverage)


def usable_leverage(leverage: float, mmr: float) -> float:
    """Cap leverage so the liquidation price stays on the safe side of the entry (1/L ≥ 2·mmr)."""
    return min(leverage, 0.5 / mmr)


@dataclass
class Book:
    """Positions of one coin with heaps by liquidation price and by planned close time."""

    venues: Sequence[str]
    positions: dict[int, Position] = field(default_factory=dict)
    quantity: dict[tuple[str, str], float] = field(default_factory=dict)  # (venue, side) → base units alive
    _longs: list[tuple[float, int]] = field(default_factory=list)  # (-liquidation price, pid): highest first
    _shorts: list[tuple[float, int]] = field(default_factory=list)  # (liquidation price, pid): lowest first
    _closes: list[tuple[int, int]] = field(default_factory=list)  # (ts_close, pid)

    def __post_init__(self) -> None:
        for v in self.venues:
            self.quantity[(v, LONG)] = 0.0
            self.quantity[(v, SHORT)] = 0.0

    def add(self, position: Position, ts_close: int | None) -> None:
        """Add an open position; it closes voluntarily at `ts_close` unless liquidated first (None: never)."""
        self.positions[position.pid] = position
        self.quantity[(position.venue, position.side)] += position.quantity
        if position.side == LONG:
            heapq.heappush(self._longs, (-position.liquidation_price, position.pid))
        else:
            heapq.heappush(self._shorts, (position.liquidation_price, position.pid))
        if ts_close is not None:
            heapq.heappush(self._closes, (ts_close, position.pid))

    def _remove(self, position: Position) -> None:
        position.alive = False
        del self.positions[position.pid]
        self.quantity[(position.venue, position.side)] -= position.quantity

    def next_long_trigger(self) -> float:
        """Return the highest liquidation price among live longs (0 when none)."""
        while self._longs and self._longs[0][1] not in self.positions:
            heapq.heappop(self._longs)
        return -self._longs[0][0] if self._longs else 0.0

    def next_short_trigger(self) -> float:
        """Return the lowest liquidation price among live shorts (inf when none)."""
        while self._shorts and self._shorts[0][1] not in self.positions:
            heapq.heappop(self._shorts)
        return self._shorts[0][0] if self._shorts else float("inf")

    def liquidate_longs(self, price: float) -> list[Position]:
        """Remove and return every live long whose liquidation price is at or above `price`."""
        out = []
        while self.next_long_trigger() >= price and self._longs:
            _, pid = heapq.heappop(self._longs)
            position = self.positions[pid]
            self._remove(position)
            out.append(position)
        return out

    def liquidate_shorts(self, price: float) -> list[Position]:
        """Remove and return every live short whose liquidation price is at or below `price`."""
        out = []
        while self.next_short_trigger() <= price and self._shorts:
            _, pid = heapq.heappop(self._shorts)
            position = self.positions[pid]
            self._remove(position)
            out.append(position)
        return out

    def close_due(self, ts: int) -> list[Position]:
        """Remove and return live positions whose planned close time is ≤ ts."""
        out = []
        while self._closes and self._closes[0][0] <= ts:
            _, pid = heapq.heappop(self._closes)
            position = self.positions.get(pid)
            if position is not None:
                self._remove(position)
                out.append(position)
        return out

    def venue_quantity(self, venue: str) -> float:
        """Return the base quantity of a venue's live positions, both sides."""
        return self.quantity[(venue, LONG)] + self.quantity[(venue, SHORT)]

    def imbalance(self, venue: str) -> float:
        """Return (longs − shorts) / (longs + shorts) of a venue's live quantity, 0 when empty."""
        long_q, short_q = self.quantity[(venue, LONG)], self.quantity[(venue, SHORT)]
        total = long_q + short_q
        return (long_q - short_q) / total if total > 0 else 0.0
