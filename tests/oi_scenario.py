"""A hand-built open-interest scenario shared by the OI analytics and CLI tests; expected numbers are worked by hand.

T = 2025-11-05T00:00:00Z, S = T − 24h.
* binance-usdm BTCUSDT: venue USD. S: 80,000 BTC / $8.000bn (100k); T−1h: 83,000 / $7.968bn (96k);
  T: 84,000 / $7.980bn (95k). Also ETHUSDT at T (filtered out by --coin BTC).
* bybit BTCUSDT: venue OI two-sided (raw 100,000 → 50,000 one-sided at S; 98,000 → 49,000 at T), no USD:
  valued at the mark price at or before the time (100,000 at S−30s; 95,000 at T−10s; a mark at T+10s is ignored).
* okx BTC-USDT-SWAP: only at T, 10,000 BTC, no USD, no mark: valued at the last closed 1m candle (95,100; the bar
  closing after T and a 5m bar are ignored).
"""

from __future__ import annotations

from typing import Any

from factories import make_open_interest
from liqwatch.model import Candle, Event, MarkPrice
from liqwatch.model.enums import OpenInterestUnit

H = 3_600 * 10**9
T = 1_762_300_800 * 10**9  # 2025-11-05T00:00:00Z
S = T - 24 * H
T_ISO = "2025-11-05T00:00:00Z"


def _mark(venue: str, symbol: str, ts: int, price: float) -> MarkPrice:
    return MarkPrice(
        venue=venue,
        symbol=symbol,
        market="BTC-USDT-PERP",
        coin="BTC",
        ts_event=ts,
        ts_recv=ts,
        mark_price=price,
    )


def _candle(venue: str, symbol: str, ts: int, close: float, interval_s: int = 60) -> Candle:
    return Candle(
        venue=venue,
        symbol=symbol,
        market="BTC-USDT-PERP",
        coin="BTC",
        ts_event=ts,
        ts_recv=ts,
        interval_s=interval_s,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=1.0,
        volume_usd=None,
        closed=True,
    )


def _binance(ts: int, oi: float, price: float) -> Any:
    return make_open_interest(
        ts_event=ts,
        ts_recv=ts,
        open_interest=oi,
        open_interest_usd=oi * price,
        reference_price=price,
        raw_value=oi,
    )


def _bybit(ts: int, raw_two_sided: float) -> Any:
    return make_open_interest(
        venue="bybit",
        ts_event=ts,
        ts_recv=ts,
        open_interest=raw_two_sided / 2,
        open_interest_usd=None,
        reference_price=None,
        raw_value=raw_two_sided,
        raw_unit=OpenInterestUnit.BASE,
        raw_two_sided=True,
    )


def events() -> list[Event]:
    """Return the scenario's events."""
    return [
        _binance(S, 80_000.0, 100_000.0),
        _binance(T - H, 83_000.0, 96_000.0),
        _binance(T, 84_000.0, 95_000.0),
        make_open_interest(
            symbol="ETHUSDT",
            market="ETH-USDT-PERP",
            coin="ETH",
            ts_event=T,
            ts_recv=T,
            open_interest=1_000_000.0,
            open_interest_usd=3_500_000_000.0,
            reference_price=3_500.0,
            raw_value=1_000_000.0,
        ),
        _bybit(S, 100_000.0),
        _bybit(T, 98_000.0),
        _mark("bybit", "BTCUSDT", S - 30 * 10**9, 100_000.0),
        _mark("bybit", "BTCUSDT", T - 10 * 10**9, 95_000.0),
        _mark("bybit", "BTCUSDT", T + 10 * 10**9, 1.0),
        make_open_interest(
            venue="okx",
            symbol="BTC-USDT-SWAP",
            ts_event=T,
            ts_recv=T,
            open_interest=10_000.0,
            open_interest_usd=None,
            reference_price=None,
            raw_value=1_000_000.0,
            raw_unit=OpenInterestUnit.CONTRACTS,
        ),
        _candle("okx", "BTC-USDT-SWAP", T - 120 * 10**9, 95_100.0),
        _candle("okx", "BTC-USDT-SWAP", T - 30 * 10**9, 1.0),
        _candle("okx", "BTC-USDT-SWAP", T - 600 * 10**9, 2.0, interval_s=300),
    ]
