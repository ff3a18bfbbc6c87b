"""Silent-feed detection decides from liquidations seen, not from the clock alone."""

from __future__ import annotations

from factories import make_liquidation
from liqwatch.feeds.silence import LiquidationSilence

MIN = 60 * 10**9


def monitor() -> LiquidationSilence:
    return LiquidationSilence(["binance-usdm", "bybit", "okx", "htx"], silence_ns=15 * MIN, started_ns=0)


def test_a_quiet_venue_is_flagged_while_peers_liquidate() -> None:
    m = monitor()
    for t in range(0, 20 * MIN, MIN):
        m.observe([make_liquidation(venue="bybit"), make_liquidation(venue="okx"), make_liquidation(venue="htx")], t)
    silent = m.check(20 * MIN)
    assert [v for v, _ in silent] == ["binance-usdm"]
    assert "no liquidation for 15 min" in silent[0][1] and "bybit" in silent[0][1]
    # flagged once per silence period, not on every check
    assert m.check(21 * MIN) == []
    assert [v for v, _ in m.check(36 * MIN)] == []  # peers went quiet too: after 15 min of nothing, no evidence


def test_a_quiet_market_is_not_a_dead_feed() -> None:
    m = monitor()
    m.observe([make_liquidation(venue="bybit")], 0)  # one peer is not enough evidence
    assert m.check(30 * MIN) == []


def test_a_venue_that_reports_is_not_flagged() -> None:
    m = monitor()
    for t in range(0, 20 * MIN, MIN):
        m.observe([make_liquidation(venue=v) for v in ("binance-usdm", "bybit", "okx", "htx")], t)
    assert m.check(20 * MIN) == []
