"""plan_additions: where a refresh puts the subscriptions of new listings (pure, real venue modules)."""

from __future__ import annotations

import json

from liqwatch.feeds.subscriptions import plan_additions
from liqwatch.model import Channel, ContractType, Instrument
from liqwatch.venues import _wire, get_venue

LIQ = frozenset({Channel.LIQUIDATIONS})
BYBIT_URL = "ws://127.0.0.1:1/v5/public/linear"


def linear(venue: str, symbol: str) -> Instrument:
    return _wire.make_instrument(
        venue=venue, symbol=symbol, base=symbol.removesuffix("USDT"), quote="USDT", settle="USDT",
        contract_type=ContractType.LINEAR, contract_size=1.0, category="linear",
    )


def args(messages: tuple[bytes, ...]) -> list[str]:
    return [a for m in messages for a in json.loads(m)["args"]]


def test_a_listing_that_fits_goes_onto_the_last_live_connection_of_its_url() -> None:
    bybit = get_venue("bybit")
    old = [linear("bybit", f"C{n}USDT") for n in range(250)]  # 250 topics → two connections (200 + 50)
    live = bybit.ws_connections(old, LIQ, BYBIT_URL)
    assert [c.name for c in live] == ["bybit-linear-0", "bybit-linear-1"]
    new = [linear("bybit", "NEWUSDT")]
    plan = plan_additions(bybit, live, old + new, new, LIQ, BYBIT_URL)
    assert plan.open == []
    assert list(plan.send) == ["bybit-linear-1"]
    assert args(plan.send["bybit-linear-1"]) == ["allLiquidation.NEWUSDT"]


def test_a_listing_beyond_the_per_connection_limit_opens_an_extra_connection() -> None:
    bybit = get_venue("bybit")
    old = [linear("bybit", f"C{n}USDT") for n in range(200)]  # exactly one full connection
    live = bybit.ws_connections(old, LIQ, BYBIT_URL)
    new = [linear("bybit", "NEWUSDT"), linear("bybit", "NEXTUSDT")]
    plan = plan_additions(bybit, live, old + new, new, LIQ, BYBIT_URL)
    assert plan.send == {}
    assert [c.name for c in plan.open] == ["bybit-linear-0+1"]
    assert plan.open[0].url == BYBIT_URL
    assert args(plan.open[0].subscribe) == ["allLiquidation.NEWUSDT", "allLiquidation.NEXTUSDT"]


def test_an_all_market_stream_needs_nothing_for_a_listing() -> None:
    binance = get_venue("binance-usdm")
    url = "ws://127.0.0.1:1/ws"
    old = [linear("binance-usdm", "BTCUSDT")]
    new = [linear("binance-usdm", "NEWUSDT")]
    live = binance.ws_connections(old, LIQ, url)
    plan = plan_additions(binance, live, old + new, new, LIQ, url)
    assert plan.send == {} and plan.open == []


def test_nothing_added_plans_nothing() -> None:
    bybit = get_venue("bybit")
    old = [linear("bybit", "BTCUSDT")]
    plan = plan_additions(bybit, bybit.ws_connections(old, LIQ, BYBIT_URL), old, [], LIQ, BYBIT_URL)
    assert plan.send == {} and plan.open == []


DYDX_URL = "ws://127.0.0.1:1/v4/ws"
DYDX_ALL = frozenset({Channel.LIQUIDATIONS, Channel.OPEN_INTEREST, Channel.MARK_PRICE})


def dydx_market(symbol: str) -> Instrument:
    return _wire.make_instrument(
        venue="dydx", symbol=symbol, base=symbol.split("-")[0], quote="USD", settle="USDC",
        contract_type=ContractType.LINEAR, contract_size=1.0, category="perpetual",
    )


def channels_sent(messages: tuple[bytes, ...]) -> list[tuple[str, str | None]]:
    return [(m["channel"], m.get("id")) for m in map(json.loads, messages)]


def test_a_dydx_listing_never_subscribes_v4_markets_twice() -> None:
    # v4_markets rides on the first connection only; a listing added to a later connection (or to a new one)
    # must not send it again: every mark price and OI update would arrive twice (issue 16)
    dydx = get_venue("dydx")
    for count, expect_open in ((40, False), (64, True)):
        old = [dydx_market(f"C{n}-USD") for n in range(count)]
        live = dydx.ws_connections(old, DYDX_ALL, DYDX_URL)
        assert sum(("v4_markets", None) in channels_sent(c.subscribe) for c in live) == 1
        new = [dydx_market("NEW-USD")]
        plan = plan_additions(dydx, live, old + new, new, DYDX_ALL, DYDX_URL)
        sent = [*(m for msgs in plan.send.values() for m in msgs), *(m for c in plan.open for m in c.subscribe)]
        assert channels_sent(tuple(sent)) == [("v4_trades", "NEW-USD")], count
        assert bool(plan.open) is expect_open, count
