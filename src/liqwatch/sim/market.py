"""The simulated market: per coin a price pulled along the scenario's path, a book of leveraged positions, cascades.

Each step (`Scenario.step_s`) every coin's log-deviation from its path takes a GARCH-scaled shock (correlated
across coins) and, now and then, a common jump; it mean-reverts towards the path. Positions whose liquidation
price the step crossed are liquidated, and the net liquidated USD moves the price further
(`impact_bp_per_musd`), which may cross more liquidation prices in the same step: a cascade. New positions
open at the price across leverage tiers, others close when their holding time ends. Every minute each coin
yields a 1-minute bar and a snapshot (mark, funding from the long/short imbalance and the last hour's move,
open interest = background + half the modelled positions). Deterministic for a seed; no clock, no I/O.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from liqwatch.sim.book import (
    LONG,
    SHORT,
    Book,
    Position,
    liquidation_prices,
    maintenance_rate,
    usable_leverage,
)
from liqwatch.sim.scenario import CoinScenario, Scenario

NS_PER_S = 1_000_000_000
_MINUTE_NS = 60 * NS_PER_S
_HOUR_S = 3600.0
_CORRELATION = 0.7  # of the coins' shocks and jumps
_FUNDING_PERIOD_NS = 8 * 3600 * NS_PER_S
_EDGE = 0.03  # the initial book thins out within this distance of its liquidation price (margin added, closed)


@dataclass(frozen=True, slots=True)
class SimLiquidation:
    """A position the market force-closed: `price` is the fill (the market at the trigger)."""

    ts_ns: int
    coin: str
    venue: str
    side: str
    quantity: float
    price: float
    bankruptcy_price: float
    leverage: float


@dataclass(frozen=True, slots=True)
class SimBar:
    """A closed 1-minute bar of one coin; `volume` in base units per venue."""

    ts_ns: int  # open time
    coin: str
    open: float
    high: float
    low: float
    close: float
    volume: dict[str, float]


@dataclass(frozen=True, slots=True)
class SimSnapshot:
    """One coin's state at a minute's close, per venue where it differs."""

    ts_ns: int
    coin: str
    mark_price: float
    index_price: float
    funding_rate: dict[str, float]  # per 8 h
    ts_next_funding: int
    open_interest: dict[str, float]  # base units, one side


SimEvent = SimLiquidation | SimBar | SimSnapshot


@dataclass
class _Bar:
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: dict[str, float]


@dataclass
class _Coin:
    name: str
    cfg: CoinScenario
    rng: np.random.Generator
    hours: list[float]
    log_prices: list[float]
    book: Book
    background: dict[str, float]
    price: float
    x: float = 0.0
    h: float = 0.0
    next_pid: int = 0
    bar: _Bar | None = None
    closes: deque[float] = field(default_factory=lambda: deque(maxlen=61))


class Market:
    """Step a scenario forward: `advance(until_ns)` returns the events of every step that ends by then."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.venues = list(scenario.venues)
        total_share = sum(v.share for v in scenario.venues.values())
        self.shares = np.array([scenario.venues[v].share / total_share for v in self.venues])
        self._share_list = [float(x) for x in self.shares]
        self.step_ns = round(scenario.step_s * NS_PER_S)
        self.ts_start = self.ts_ns = scenario.ts_start
        self.ts_end = scenario.ts_end
        tiers = scenario.leverage
        self._leverages = np.array([t.leverage for t in tiers])
        self._tier_weights = np.array([t.weight for t in tiers]) / sum(t.weight for t in tiers)
        seeds = np.random.SeedSequence(seed).spawn(1 + len(scenario.coins))
        self._rng = np.random.default_rng(seeds[0])
        self.coins = {
            name: self._new_coin(name, scenario.coins[name], np.random.default_rng(s))
            for name, s in zip(sorted(scenario.coins), seeds[1:], strict=True)
        }
        for whale in scenario.whales:
            self._add_whale(self.coins[whale.coin], whale.venue, whale.side, whale.notional_usd, whale.leverage, whale.entry_price)

    # ---- set-up ----------------------------------------------------------------------------------

    def _new_coin(self, name: str, cfg: CoinScenario, rng: np.random.Generator) -> _Coin:
        price = cfg.path[0][1]
        coin = _Coin(
            name=name, cfg=cfg, rng=rng, hours=[h for h, _ in cfg.path], log_prices=[math.log(p) for _, p in cfg.path],
            book=Book(self.venues), background={}, price=price, h=self._target_variance(cfg),
        )
        self._seed_book(coin)
        oi_base = cfg.open_interest_usd / price
        for venue, share in zip(self.venues, self.shares, strict=True):
            modelled = 0.5 * coin.book.venue_quantity(venue)
            coin.background[venue] = max(0.0, oi_base * share - modelled)
        coin.closes.append(price)
        return coin

    def _target_variance(self, cfg: CoinScenario) -> float:
        return cfg.daily_volatility**2 * self.scenario.step_s / 86400.0

    def _notionals(self, rng: np.random.Generator, cfg: CoinScenario, n: int) -> np.ndarray:
        raw = cfg.median_notional_usd * np.exp(cfg.notional_sigma * rng.standard_normal(n))
        return np.clip(raw, 200.0, cfg.max_notional_usd)

    def _seed_book(self, coin: _Coin) -> None:
        cfg, rng, p0 = coin.cfg, coin.rng, coin.price
        target = 2 * cfg.open_interest_usd * cfg.tracked_share  # both sides of the modelled book
        added = 0.0
        while added < target:
            n = 4096
            longs = rng.random(n) < cfg.long_share
            notional = self._notionals(rng, cfg, n)
            bias = np.where(longs, cfg.long_entry_bias, cfg.short_entry_bias)
            entry = p0 * np.exp(bias + cfg.entry_spread * rng.standard_normal(n))
            tiers = rng.choice(len(self._leverages), size=n, p=self._tier_weights)
            venues = rng.choice(len(self.venues), size=n, p=self.shares)
            keep_draw = rng.random(n)
            hold = rng.exponential(cfg.hold_h * _HOUR_S, size=n)
            for k in range(n):
                side = LONG if longs[k] else SHORT
                position = self._position(coin, str(self.venues[venues[k]]), side, float(notional[k]) / float(entry[k]),
                                          float(entry[k]), float(self._leverages[tiers[k]]))
                distance = (p0 - position.liquidation_price) / p0 if side == LONG else (position.liquidation_price - p0) / p0
                if distance <= 0 or keep_draw[k] > distance / _EDGE:
                    continue
                coin.book.add(position, self.ts_ns + round(float(hold[k]) * NS_PER_S))
                added += float(notional[k])
                if added >= target:
                    break

    def _position(self, coin: _Coin, venue: str, side: str, quantity: float, entry: float, leverage: float) -> Position:
        mmr = maintenance_rate(quantity * entry, self.scenario.maintenance)
        leverage = usable_leverage(leverage, mmr)
        liq, bankrupt = liquidation_prices(side, entry, leverage, mmr)
        coin.next_pid += 1
        return Position(pid=coin.next_pid, venue=venue, side=side, quantity=quantity, entry=entry, leverage=leverage,
                        liquidation_price=liq, bankruptcy_price=bankrupt)

    def _add_whale(self, coin: _Coin, venue: str, side: str, notional_usd: float, leverage: float, entry: float) -> None:
        mmr = maintenance_rate(notional_usd, self.scenario.maintenance)
        _, bankrupt = liquidation_prices(side, entry, usable_leverage(leverage, mmr), mmr)
        position = self._position(coin, venue, side, notional_usd / bankrupt, entry, leverage)
        coin.book.add(position, None)
        coin.background[venue] = max(0.0, coin.background[venue] - 0.5 * position.quantity)

    # ---- stepping --------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Return whether the scenario's end was reached."""
        return self.ts_ns + self.step_ns > self.ts_end

    @property
    def progress(self) -> float:
        """Return the share of the scenario simulated so far."""
        return min(1.0, (self.ts_ns - self.ts_start) / max(1, self.ts_end - self.ts_start))

    def advance(self, until_ns: int) -> list[SimEvent]:
        """Run every step that ends at or before `until_ns` (and the scenario's end); return its events in time order."""
        out: list[SimEvent] = []
        limit = min(until_ns, self.ts_end)
        while self.ts_ns + self.step_ns <= limit:
            out.extend(self._step())
        out.sort(key=lambda e: e.ts_ns)
        return out

    def _step(self) -> list[SimEvent]:
        t0, t1 = self.ts_ns, self.ts_ns + self.step_ns
        market_shock = float(self._rng.standard_normal())
        jump_draw, jump_shock = float(self._rng.random()), float(self._rng.standard_normal())
        out: list[SimEvent] = []
        for coin in self.coins.values():
            out.extend(self._step_coin(coin, t0, t1, market_shock, jump_draw, jump_shock))
        self.ts_ns = t1
        if t1 // _MINUTE_NS != t0 // _MINUTE_NS:
            for coin in self.coins.values():
                out.extend(self._minute(coin, t1))
        return out

    def _anchor(self, coin: _Coin, ts_ns: int) -> float:
        hour = (ts_ns - self.ts_start) / (_HOUR_S * NS_PER_S)
        k = bisect.bisect_right(coin.hours, hour)
        if k >= len(coin.hours):
            return coin.log_prices[-1]
        a, b = coin.hours[k - 1], coin.hours[k]
        w = (hour - a) / (b - a) if b > a else 1.0
        return coin.log_prices[k - 1] * (1 - w) + coin.log_prices[k] * w

    def _step_coin(self, coin: _Coin, t0: int, t1: int, market_shock: float, jump_draw: float, jump_shock: float) -> list[SimEvent]:
        cfg, rng, dt = coin.cfg, coin.rng, self.scenario.step_s
        kappa = math.log(2) / (cfg.mean_reversion_h * _HOUR_S)
        shock = _CORRELATION * market_shock + math.sqrt(1 - _CORRELATION**2) * float(rng.standard_normal())
        x = coin.x * (1 - kappa * dt) + math.sqrt(coin.h) * shock
        if jump_draw < cfg.jump_rate_per_h * dt / _HOUR_S:
            own = _CORRELATION * jump_shock + math.sqrt(1 - _CORRELATION**2) * float(rng.standard_normal())
            x += cfg.jump_mean + cfg.jump_std * own
        anchor = self._anchor(coin, t1)
        p_prev = coin.price
        price = math.exp(anchor + x)
        low, high = min(p_prev, price), max(p_prev, price)
        liquidated: list[Position] = []
        fills: list[float] = []
        for _ in range(200):  # the cascade: liquidations move the price, which may liquidate more
            batch = coin.book.liquidate_longs(low) + coin.book.liquidate_shorts(high)
            if not batch:
                break
            net_usd = 0.0
            for position in batch:
                fill = min(max(position.liquidation_price, low), high)
                fills.append(fill)
                net_usd += position.quantity * fill * (1 if position.side == LONG else -1)
            liquidated.extend(batch)
            x -= cfg.impact_bp_per_musd * 1e-4 * net_usd / 1e6
            price = math.exp(anchor + x)
            low, high = min(low, price), max(high, price)
        coin.x, coin.price = x, price
        self._update_variance(coin, math.log(price / p_prev) - (anchor - self._anchor(coin, t0)))
        out: list[SimEvent] = self._liquidation_events(coin, t0, liquidated, fills)
        traded = {v: 0.0 for v in self.venues}
        for position in liquidated:
            traded[position.venue] += position.quantity
        for position in coin.book.close_due(t1):
            traded[position.venue] += position.quantity
        self._open_positions(coin, t1, traded)
        self._update_bar(coin, t0, p_prev, low, high, price, traded)
        return out

    def _update_variance(self, coin: _Coin, r: float) -> None:
        cfg, dt = coin.cfg, self.scenario.step_s
        target = self._target_variance(cfg)
        persistence = 0.5 ** (dt / (cfg.vol_half_life_h * _HOUR_S))
        alpha = min(0.05, 0.002 * dt)
        beta = max(0.0, persistence - alpha)
        h = target * (1 - alpha - beta) + alpha * r * r + beta * coin.h
        coin.h = min(max(h, target / 10), target * 50)

    def _liquidation_events(self, coin: _Coin, t0: int, positions: list[Position], fills: list[float]) -> list[SimEvent]:
        if not positions:
            return []
        offsets = sorted(int(o) for o in coin.rng.integers(0, self.step_ns, size=len(positions)))
        return [
            SimLiquidation(ts_ns=t0 + off, coin=coin.name, venue=p.venue, side=p.side, quantity=p.quantity, price=fill,
                           bankruptcy_price=p.bankruptcy_price, leverage=p.leverage)
            for p, fill, off in zip(positions, fills, offsets, strict=True)
        ]

    def _open_positions(self, coin: _Coin, t1: int, traded: dict[str, float]) -> None:
        cfg, rng = coin.cfg, coin.rng
        mean_notional = cfg.median_notional_usd * math.exp(cfg.notional_sigma**2 / 2)
        per_s = cfg.turnover_per_day * 2 * cfg.open_interest_usd * cfg.tracked_share / mean_notional / 86400.0
        n = int(rng.poisson(per_s * self.scenario.step_s))
        for _ in range(n):
            side = LONG if rng.random() < cfg.new_long_share else SHORT
            venue = self.venues[int(rng.choice(len(self.venues), p=self.shares))]
            leverage = float(self._leverages[int(rng.choice(len(self._leverages), p=self._tier_weights))])
            notional = float(self._notionals(rng, cfg, 1)[0])
            position = self._position(coin, venue, side, notional / coin.price, coin.price, leverage)
            coin.book.add(position, t1 + round(float(rng.exponential(cfg.hold_h * _HOUR_S)) * NS_PER_S))
            traded[venue] += position.quantity

    def _update_bar(self, coin: _Coin, t0: int, p_prev: float, low: float, high: float, price: float, traded: dict[str, float]) -> None:
        cfg = coin.cfg
        minute = t0 - t0 % _MINUTE_NS
        if coin.bar is None or coin.bar.ts_ns != minute:
            coin.bar = _Bar(ts_ns=minute, open=p_prev, high=p_prev, low=p_prev, close=p_prev, volume={v: 0.0 for v in self.venues})
        bar = coin.bar
        bar.high, bar.low, bar.close = max(bar.high, high), min(bar.low, low), price
        activity = math.sqrt(coin.h / self._target_variance(cfg))
        background = cfg.volume_usd_per_day * self.scenario.step_s / 86400.0 * activity / price * (0.5 + float(coin.rng.random()))
        for venue, share in zip(self.venues, self._share_list, strict=True):
            bar.volume[venue] += traded[venue] + background * share

    def _minute(self, coin: _Coin, t1: int) -> list[SimEvent]:
        out: list[SimEvent] = []
        bar = coin.bar
        if bar is not None:
            out.append(SimBar(ts_ns=bar.ts_ns, coin=coin.name, open=bar.open, high=bar.high, low=bar.low, close=bar.close,
                              volume=dict(bar.volume)))
            coin.bar = None
        coin.closes.append(coin.price)
        out.append(self.snapshot(coin.name, t1))
        return out

    def snapshot(self, coin_name: str, ts_ns: int | None = None) -> SimSnapshot:
        """Return a coin's mark, funding and open interest now."""
        coin = self.coins[coin_name]
        cfg, ts = coin.cfg, self.ts_ns if ts_ns is None else ts_ns
        hour_move = coin.price / coin.closes[0] - 1 if coin.closes else 0.0
        frac = self.progress
        funding: dict[str, float] = {}
        oi: dict[str, float] = {}
        for venue in self.venues:
            rate = cfg.funding_base + 0.0004 * coin.book.imbalance(venue) + 0.02 * hour_move
            funding[venue] = round(min(0.003, max(-0.003, rate)), 8)
            oi[venue] = coin.background[venue] * (1 + cfg.oi_drift * frac) + 0.5 * coin.book.venue_quantity(venue)
        mean_rate = sum(funding.values()) / len(funding)
        return SimSnapshot(
            ts_ns=ts, coin=coin.name, mark_price=coin.price * (1 + 0.5 * (mean_rate - cfg.funding_base)), index_price=coin.price,
            funding_rate=funding, ts_next_funding=(ts // _FUNDING_PERIOD_NS + 1) * _FUNDING_PERIOD_NS, open_interest=oi,
        )

    def price(self, coin: str) -> float:
        """Return a coin's last price."""
        return self.coins[coin].price


__all__ = ["Market", "SimBar", "SimEvent", "SimLiquidation", "SimSnapshot"]
