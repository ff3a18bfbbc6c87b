"""Write candles and OI for the heatmap, stress and study tests into a real store (no mocks)."""

from __future__ import annotations

from collections.abc import Sequence

from liqwatch.model import Candle, OpenInterest, OpenInterestUnit, Origin

MIN = 60 * 10**9


def bar_events(
    rows: Sequence[tuple[float, float, float, float, float | None]], *, start: int, venue: str = "bybit",
    symbol: str = "BTCUSDT", coin: str = "BTC", interval_s: int = 60,
) -> list[Candle | OpenInterest]:
    """Return one candle per row (open, high, low, close, OI) and the OI at its close (None: no OI row)."""
    out: list[Candle | OpenInterest] = []
    step = interval_s * 10**9
    for i, (o, h, lo, c, oi) in enumerate(rows):
        ts = start + i * step
        common = {"venue": venue, "symbol": symbol, "market": f"{coin}-USDT-PERP", "coin": coin}
        out.append(Candle(**common, ts_event=ts, ts_recv=ts + step, interval_s=interval_s, open=o, high=h, low=lo,
                          close=c, volume=1.0, volume_usd=None, closed=True))
        if oi is not None:
            out.append(OpenInterest(**common, ts_event=ts + step - 10**9, ts_recv=ts + step, open_interest=oi,
                                    open_interest_usd=oi * c, reference_price=c, raw_value=oi,
                                    raw_unit=OpenInterestUnit.BASE, raw_two_sided=False, origin=Origin.POLL))
    return out
