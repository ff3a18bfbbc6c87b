"""Simulated frames go through the real venue parsers to exactly what the simulation says it published."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from liqwatch.feeds.parse import FrameCounters, safe_parse
from liqwatch.model import Candle, InstrumentIndex, Liquidation, MarkPrice, OpenInterest, PositionSide
from liqwatch.sim.exchange import SimExchange
from liqwatch.sim.history import daily_candles
from liqwatch.sim.market import SimLiquidation
from liqwatch.sim.scenario import load_scenario
from liqwatch.venues import VENUES


def scenario(hours: float = 0.25):  # type: ignore[no-untyped-def]
    return msgspec.structs.replace(load_scenario("selloff-2025-11-04"), duration_h=hours)


def index_of(exchange: SimExchange) -> InstrumentIndex:
    index = InstrumentIndex()
    for venue in exchange.wires:
        index.update(exchange.instruments(venue))
    return index


def test_each_venue_serves_its_three_perpetuals_with_real_contract_sizes() -> None:
    exchange = SimExchange(scenario(), 1)
    index = index_of(exchange)
    sizes = {(i.venue, i.symbol): i.contract_size for v in exchange.wires for i in index.for_venue(v)}
    assert sizes[("okx", "BTC-USDT-SWAP")] == 0.01 and sizes[("okx", "ETH-USDT-SWAP")] == 0.1
    assert sizes[("htx", "BTC-USDT")] == 0.001 and sizes[("binance-usdm", "SOLUSDT")] == 1.0
    assert {i.market for i in index.for_venue("bybit")} == {"BTC-USDT-PERP", "ETH-USDT-PERP", "SOL-USDT-PERP"}


@pytest.mark.parametrize(("venue", "side", "venue_side"), [
    ("binance-usdm", "long", "SELL"), ("bybit", "long", "Buy"), ("okx", "long", "sell"), ("htx", "long", "sell"),
    ("binance-usdm", "short", "BUY"), ("bybit", "short", "Sell"), ("okx", "short", "buy"), ("htx", "short", "buy"),
])
def test_liquidation_side_and_size_quirks(venue: str, side: str, venue_side: str) -> None:
    exchange = SimExchange(scenario(), 1)
    index = index_of(exchange)
    liq = SimLiquidation(ts_ns=exchange.scenario.ts_start + 5_000_000, coin="ETH", venue=venue, side=side, quantity=12.3456,
                         price=3600.0, bankruptcy_price=3500.0, leverage=20)
    emitted = exchange.wires[venue].liquidation(liq, liq.ts_ns // 1_000_000)
    [event] = safe_parse(VENUES[venue], emitted.frame, index, 0, FrameCounters())
    assert isinstance(event, Liquidation)
    assert event.position_side is PositionSide(side) and event.venue_side == venue_side
    assert event.notional_usd == pytest.approx(emitted.notional_usd, rel=1e-12)
    assert event.ts_event == liq.ts_ns
    # Binance values the fill (z × ap); the others the bankruptcy price; sizes are rounded to each venue's step
    price = 3600.0 if venue == "binance-usdm" else 3500.0
    assert event.price == price and event.quantity == pytest.approx(12.3456, abs=0.01)


def test_every_frame_of_a_run_parses_and_liquidations_match_the_ledger() -> None:
    exchange = SimExchange(scenario(0.5), 3)
    index = index_of(exchange)
    frames = exchange.encode(exchange.market.advance(exchange.scenario.ts_end))
    frames += [(v, e.frame) for v, t in exchange._throttles.items() for e in exchange._publish(t.flush(), v)]
    counters = FrameCounters()
    usd: Counter[tuple[str, str]] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    for venue, frame in frames:
        for e in safe_parse(VENUES[venue], frame, index, 0, counters):
            kinds[(venue, type(e).__name__)] += 1
            if isinstance(e, Liquidation):
                usd[(venue, e.position_side.value)] += e.notional_usd
    assert not counters.skipped, counters.last_error
    published = exchange.ledger.totals()
    assert set(usd) == set(published)
    for key, tally in published.items():
        assert usd[key] == pytest.approx(tally.usd, rel=1e-9)
    for venue in exchange.wires:  # every venue streams marks/funding, candles and (but Binance/HTX, polled) OI
        assert kinds[(venue, MarkPrice.__name__)] >= 90 and kinds[(venue, Candle.__name__)] == 90
    assert kinds[("bybit", OpenInterest.__name__)] == kinds[("okx", OpenInterest.__name__)] == 90
    # Binance publishes at most one liquidation per symbol per second: fewer than happened
    occurred = exchange.ledger.totals(published=False, by=("venue",))
    binance = exchange.ledger.totals(by=("venue",))[("binance-usdm",)]
    assert binance.count < occurred[("binance-usdm",)].count
    assert exchange.ledger.totals(by=("venue",))[("bybit",)].count == occurred[("bybit",)].count


def test_rest_open_interest_reports_the_market_state() -> None:
    exchange = SimExchange(scenario(), 1)
    index = index_of(exchange)
    snap = exchange.snapshots["BTC"]
    for venue, path, query in [("binance-usdm", "/fapi/v1/openInterest", {"symbol": "BTCUSDT"}),
                               ("htx", "/linear-swap-api/v1/swap_open_interest", {"business_type": "all"}),
                               ("okx", "/api/v5/public/open-interest", {"instType": "SWAP"})]:
        answer = exchange.rest(venue, path, query)
        assert answer is not None and answer[0] == 200
        tag = "open_interest:linear" if venue == "htx" else "open_interest"
        events = [e for e in VENUES[venue].parse_poll(tag, answer[1], index, 0) if e.coin == "BTC"]
        assert isinstance(events[0], OpenInterest)
        assert events[0].open_interest == pytest.approx(snap.open_interest[venue], rel=1e-4)
    assert exchange.rest("bybit", "/v5/market/nothing", {}) is None


def test_daily_history_holds_the_ath_once_and_ends_at_the_start_price() -> None:
    s = scenario()
    exchange = SimExchange(s, 1)
    instruments = {i.coin: i for i in exchange.instruments("binance-usdm")}
    candles = daily_candles(s, instruments, 1)
    btc = [c for c in candles if c.coin == "BTC"]
    assert len(btc) == s.coins["BTC"].history_days and all(c.interval_s == 86_400 and c.closed for c in btc)
    assert btc[-1].ts_event + 86_400 * 10**9 == s.ts_start and btc[-1].close == pytest.approx(111_000)
    top = max(btc, key=lambda c: c.high)
    assert top.high == 126_080 and sum(1 for c in btc if c.high >= 126_000) == 1
    assert daily_candles(s, instruments, 1) == candles and daily_candles(s, instruments, 2) != candles
