"""Alert rule evaluation throughput: events per second through AlertEngine.observe with one rule of each type.

Run: PYTHONPATH=src python bench/alerts_rules.py [N]
"""

from __future__ import annotations

import sys
import time

import msgspec

from liqwatch.alerts.engine import AlertEngine
from liqwatch.config.alerts import AlertSettings
from liqwatch.model import (
    ContractType,
    Liquidation,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.storage.duckdb_store import DuckDBStore

T0 = 1_762_214_400_000_000_000


def main(n: int) -> None:
    rules = [
        {"type": "liquidation", "name": "big", "min_usd": 5e6},
        {"type": "liquidation-total", "name": "flush", "min_usd": 1e12, "window": "5m"},
        {"type": "signal", "name": "sig", "kinds": ["zone-lost"]},
        {"type": "price", "name": "px", "level": 1e9},
        {"type": "oi-change", "name": "oi", "pct": 50, "window": "1h"},
        {"type": "feed-down", "name": "down", "minutes": 5},
    ]
    settings = msgspec.convert({"terminal": False, "rules": rules}, AlertSettings, strict=False)
    engine = AlertEngine(settings, DuckDBStore(":memory:"))
    coins = ["BTC", "ETH", "SOL", "XRP", "DOGE"]
    events: list[Liquidation | OpenInterest] = []
    for i in range(n):
        coin = coins[i % len(coins)]
        ts = T0 + i * 10_000_000  # 100 events/s of event time
        if i % 10 == 0:
            events.append(OpenInterest(venue="bybit", symbol=f"{coin}USDT", market=f"{coin}-USDT-PERP", coin=coin, ts_event=ts, ts_recv=ts,
                                       open_interest=1e4, open_interest_usd=1e9 + i, reference_price=1e5, raw_value=1e4,
                                       raw_unit=OpenInterestUnit.BASE, raw_two_sided=False, origin=Origin.STREAM))
        else:
            events.append(Liquidation(venue="bybit", symbol=f"{coin}USDT", market=f"{coin}-USDT-PERP", coin=coin, ts_event=ts, ts_recv=ts,
                                      position_side=PositionSide.LONG, venue_side="Buy", price=1e5, price_kind=PriceKind.BANKRUPTCY,
                                      quantity=0.1, contracts=0.1, notional_usd=1e4, contract_type=ContractType.LINEAR))
    start = time.perf_counter()
    for k in range(0, n, 1000):
        engine.observe(events[k : k + 1000])
    elapsed = time.perf_counter() - start
    print(f"| events | rules | seconds | events/s | alerts fired |\n|---|---|---|---|---|\n| {n:,} | {len(rules)} | {elapsed:.2f} | {n / elapsed:,.0f} | {engine.fired} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
