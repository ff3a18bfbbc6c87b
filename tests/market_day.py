"""A generated market day from several venues: candles, liquidations, OI, funding and a feed outage.

Two UTC days (PRIOR, DAY) of 1m candles for BTC and ETH on binance-usdm, 60 days of daily BTC/ETH candles before
them (ATH known), liquidations on five venues (linear, inverse and quanto contracts) with a long-liquidation cluster
and an OI flush in DAY's 09:00 hour (the European session), OI polls every 5 minutes, CME end-of-day points,
funding marks, and an OKX outage. Deterministic (seeded): tests recompute every figure from `events` independently.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from factories import T0
from liqwatch.model import (
    Candle,
    ContractType,
    FeedState,
    FeedStatus,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)

M = 60 * 10**9
H = 60 * M
D = 24 * H
DAY = T0  # 2025-11-04T00:00:00Z
PRIOR = DAY - D
CLUSTER_HOUR = 9  # DAY 09:00–10:00: longs liquidated, OI flushed, price drops
ATH = {"BTC": 126_000.0, "ETH": 4_900.0}
ATH_DAY = DAY - 30 * D
BASE = {"BTC": 110_000.0, "ETH": 4_000.0}
LIQ_VENUES = (
    # venue, symbol template, market template, contract type
    ("binance-usdm", "{c}USDT", "{c}-USDT-PERP", ContractType.LINEAR),
    ("bybit", "{c}USDT", "{c}-USDT-PERP", ContractType.LINEAR),
    ("okx", "{c}-USDT-SWAP", "{c}-USDT-PERP", ContractType.LINEAR),
    ("binance-coinm", "{c}USD_PERP", "{c}-USD-PERP", ContractType.INVERSE),
    ("bitmex", "{c}USD", "{c}-USD-PERP", ContractType.QUANTO),
)
OI_VENUES = ("binance-usdm", "bybit", "okx")
OI_BASE = {"BTC": {"binance-usdm": 80_000.0, "bybit": 50_000.0, "okx": 30_000.0}, "ETH": {"binance-usdm": 2e6, "bybit": 1.2e6, "okx": 8e5}}
FLUSH = 0.08  # coin-terms OI falls 8% during the cluster hour
OUTAGE = (DAY + 15 * H, DAY + 15 * H + 10 * M)


def path(coin: str, t: int) -> float:
    """Return the generated price at minute start t: drifts down on PRIOR, drops 6% in the cluster hour, recovers a bit."""
    base = BASE[coin]
    x = (t - PRIOR) / D  # 0..2
    level = base * (1 - 0.02 * x)
    drop_start = DAY + CLUSTER_HOUR * H
    if t >= drop_start:
        level *= 1 - 0.06 * min(1.0, (t - drop_start) / H)
    if t >= drop_start + 2 * H:
        level *= 1 + 0.015 * min(1.0, (t - drop_start - 2 * H) / (4 * H))
    return level * (1 + 0.002 * math.sin(t / (17 * M)))


@dataclass
class MarketDay:
    events: list[Any] = field(default_factory=list)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def _candle(coin: str, t: int, interval_s: int, o: float, h: float, lo: float, c: float, venue: str = "binance-usdm") -> Candle:
    return Candle(
        venue=venue, symbol=f"{coin}USDT", market=f"{coin}-USDT-PERP", coin=coin, ts_event=t, ts_recv=t + interval_s * 10**9,
        interval_s=interval_s, open=o, high=h, low=lo, close=c, volume=1.0, volume_usd=c, closed=True,
    )


def _candles(rng: random.Random, coin: str) -> list[Candle]:
    out = []
    for i in range(60):  # daily history: the ATH is on ATH_DAY
        t = PRIOR - (60 - i) * D
        mid = BASE[coin] * (1.05 + 0.05 * math.sin(i / 5))
        high = ATH[coin] if t == ATH_DAY else min(mid * 1.02, ATH[coin] * 0.99)
        out.append(_candle(coin, t, 86_400, mid, high, mid * 0.97, mid * 1.001))
    for t in range(PRIOR, DAY + D, M):
        o, c = path(coin, t), path(coin, t + M)
        wiggle = abs(rng.gauss(0, 0.0005))
        out.append(_candle(coin, t, 60, o, max(o, c) * (1 + wiggle), min(o, c) * (1 - wiggle), c))
    return out


def _liquidations(rng: random.Random, coin: str) -> list[Liquidation]:
    out = []
    scale = 1.0 if coin == "BTC" else 0.4
    for i in range(2500 if coin == "BTC" else 1500):
        t = PRIOR + rng.randrange(2 * D)
        venue, sym, market, ctype = LIQ_VENUES[i % len(LIQ_VENUES)]
        if venue == "okx" and OUTAGE[0] <= t < OUTAGE[1]:
            continue
        long = rng.random() < 0.55
        usd = rng.lognormvariate(8.5, 1.3) * scale
        out.append(_liq(coin, t, venue, sym, market, ctype, long, usd, i))
    for j in range(300):  # the cluster: big longs
        t = DAY + CLUSTER_HOUR * H + rng.randrange(H)
        venue, sym, market, ctype = LIQ_VENUES[j % len(LIQ_VENUES)]
        out.append(_liq(coin, t, venue, sym, market, ctype, True, rng.lognormvariate(11.0, 1.0) * scale, 10_000 + j))
    return out


def _liq(coin: str, t: int, venue: str, sym: str, market: str, ctype: ContractType, long: bool, usd: float, i: int) -> Liquidation:
    px = path(coin, t - t % M)
    return Liquidation(
        venue=venue, symbol=sym.format(c=coin), market=market.format(c=coin), coin=coin, ts_event=t, ts_recv=t + 10**6,
        position_side=PositionSide.LONG if long else PositionSide.SHORT, venue_side="x", price=px, price_kind=PriceKind.FILL,
        quantity=usd / px, contracts=usd / px, notional_usd=usd, contract_type=ctype, venue_event_id=f"{coin}-{i}",
    )


def oi_coin(coin: str, venue: str, t: int) -> float:
    """Return the generated one-sided coin OI of a venue at time t (flat, minus FLUSH during the cluster hour)."""
    base = OI_BASE[coin][venue] * (1 + 0.01 * (t - PRIOR) / D)
    start = DAY + CLUSTER_HOUR * H
    return base * (1 - FLUSH * min(1.0, max(0.0, (t - start) / H)))


def _open_interest(coin: str) -> list[Any]:
    out: list[Any] = []
    for venue in OI_VENUES:
        sym = f"{coin}-USDT-SWAP" if venue == "okx" else f"{coin}USDT"
        for t in range(PRIOR, DAY + D, 5 * M):
            oi, px = oi_coin(coin, venue, t), path(coin, t)
            out.append(OpenInterest(
                venue=venue, symbol=sym, market=f"{coin}-USDT-PERP", coin=coin, ts_event=t, ts_recv=t, open_interest=oi,
                open_interest_usd=oi * px, reference_price=px, raw_value=oi, raw_unit=OpenInterestUnit.BASE, raw_two_sided=False,
                origin=Origin.POLL,
            ))
        for t in range(PRIOR, DAY + D, H):
            rate = 0.0001 * (1 + OI_VENUES.index(venue))
            out.append(MarkPrice(
                venue=venue, symbol=sym, market=f"{coin}-USDT-PERP", coin=coin, ts_event=t, ts_recv=t, mark_price=path(coin, t),
                funding_rate=rate, funding_interval_s=8 * 3600,
            ))
    for day_end, oi in ((DAY - 90 * M, 30_000.0), (DAY + D - 90 * M, 27_300.0)):  # CME end-of-day, 5 BTC contracts
        if coin == "BTC":
            out.append(OpenInterest(
                venue="cme", symbol="BTC", market="BTC-USD-CME", coin="BTC", ts_event=day_end, ts_recv=day_end, open_interest=oi,
                open_interest_usd=oi * path("BTC", day_end - day_end % M), reference_price=path("BTC", day_end - day_end % M),
                raw_value=oi / 5, raw_unit=OpenInterestUnit.CONTRACTS, raw_two_sided=False, origin=Origin.IMPORT,
            ))
    return out


def build(seed: int = 7) -> MarketDay:
    """Return the generated two days of events."""
    rng = random.Random(seed)
    day = MarketDay()
    for coin in ("BTC", "ETH"):
        day.events += _candles(rng, coin) + _liquidations(rng, coin) + _open_interest(coin)
    day.events += [
        FeedStatus(venue="okx", connection_id="okx-1", state=FeedState.DISCONNECTED, detail="test", ts_event=OUTAGE[0], ts_recv=OUTAGE[0]),
        FeedStatus(venue="okx", connection_id="okx-1", state=FeedState.CONNECTED, detail="", ts_event=OUTAGE[1], ts_recv=OUTAGE[1]),
    ]
    return day
