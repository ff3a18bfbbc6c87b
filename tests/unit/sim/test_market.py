"""The simulated market: liquidation prices, determinism, cascades, the scenario's story in a short run."""

from __future__ import annotations

import msgspec
import pytest

from liqwatch.errors import ConfigError
from liqwatch.sim.book import LONG, SHORT, Book, Position, liquidation_prices, maintenance_rate
from liqwatch.sim.market import Market, SimBar, SimLiquidation, SimSnapshot
from liqwatch.sim.scenario import Scenario, builtin_names, load_scenario, parse_scenario

HOUR_NS = 3600 * 10**9


def short_scenario(hours: float = 2.0, step_s: float = 1.0, oi_scale: float = 1.0) -> Scenario:
    base = load_scenario("selloff-2025-11-04")
    coins = {c: msgspec.structs.replace(cfg, open_interest_usd=cfg.open_interest_usd * oi_scale) for c, cfg in base.coins.items()}
    return msgspec.structs.replace(base, duration_h=hours, step_s=step_s, coins=coins)


def test_liquidation_prices_follow_the_isolated_margin_formula() -> None:
    # 10x long at 100,000 with 0.5% maintenance: liquidated at 100k × (1 − 0.1 + 0.005), bankrupt at 90,000
    assert liquidation_prices(LONG, 100_000, 10, 0.005) == pytest.approx((90_500, 90_000))
    assert liquidation_prices(SHORT, 100_000, 20, 0.004) == pytest.approx((104_600, 105_000))
    brackets = [(50e3, 0.004), (600e3, 0.005), (1e12, 0.05)]
    assert [maintenance_rate(x, brackets) for x in (1e3, 50e3, 60e3, 1e9)] == [0.004, 0.004, 0.005, 0.05]


def test_book_liquidates_the_crossed_side_only_highest_long_first() -> None:
    book = Book(["a"])
    for pid, (side, liq) in enumerate([(LONG, 95.0), (LONG, 99.0), (SHORT, 101.0), (LONG, 90.0)], start=1):
        book.add(Position(pid=pid, venue="a", side=side, quantity=1.0, entry=100.0, leverage=10, liquidation_price=liq,
                          bankruptcy_price=liq), None)
    assert [p.liquidation_price for p in book.liquidate_longs(94.0)] == [99.0, 95.0]
    assert book.liquidate_shorts(100.5) == []
    assert book.quantity[("a", LONG)] == 1.0 and book.quantity[("a", SHORT)] == 1.0
    assert [p.pid for p in book.liquidate_shorts(101.0)] == [3]


def run(market: Market) -> list[object]:
    return list(market.advance(market.ts_end))


def test_same_seed_same_market_other_seed_other_market() -> None:
    scenario = short_scenario(0.5, oi_scale=0.1)
    a, b, c = Market(scenario, 7), Market(scenario, 7), Market(scenario, 8)
    ea, eb, ec = run(a), run(b), run(c)
    assert ea == eb
    assert ea != ec
    assert a.done and a.progress == 1.0


def test_a_short_run_tells_the_story_of_the_scenario() -> None:
    scenario = short_scenario(2.0)
    market = Market(scenario, 1)
    events = run(market)
    liqs = [e for e in events if isinstance(e, SimLiquidation)]
    bars = [e for e in events if isinstance(e, SimBar)]
    snaps = [e for e in events if isinstance(e, SimSnapshot)]
    assert all(scenario.ts_start <= e.ts_ns <= scenario.ts_end for e in liqs)
    assert {e.venue for e in liqs} == set(scenario.venues) and {e.coin for e in liqs} == {"BTC", "ETH", "SOL"}
    long_usd = sum(e.quantity * e.bankruptcy_price for e in liqs if e.side == LONG)
    total = sum(e.quantity * e.bankruptcy_price for e in liqs)
    assert long_usd / total > 0.5  # a sell-off liquidates mostly longs
    # a long is filled at or below its liquidation trigger but above bankruptcy
    assert all(e.bankruptcy_price < e.price for e in liqs if e.side == LONG)
    assert len(bars) == len(snaps) == 3 * 120  # a bar and a snapshot per coin per minute
    btc = [b for b in bars if b.coin == "BTC"]
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in btc)
    assert abs(btc[-1].close / 110_400 - 1) < 0.05  # pulled along the path (110,400 at hour 3 → ~110.6k at hour 2)
    assert all(set(s.open_interest) == set(scenario.venues) and min(s.open_interest.values()) > 0 for s in snaps)


def test_the_whole_day_re_enacts_the_sell_off_with_its_whale() -> None:
    scenario = short_scenario(24.0, step_s=5.0)  # the whole day in coarser steps keeps the test quick
    market = Market(scenario, 1)
    whale = scenario.whales[0]
    liqs = [e for e in run(market) if isinstance(e, SimLiquidation)]
    usd = [(e.quantity * e.bankruptcy_price, e.side) for e in liqs]
    total = sum(u for u, _ in usd)
    assert 0.9e9 < total < 1.8e9  # ≈ $1.3B
    assert sum(u for u, side in usd if side == LONG) / total > 0.85  # ≈ 89% longs
    assert 0.90 < market.price("BTC") / 111_000 < 0.97  # $111k → ≈ $104k
    found = [e for e in liqs if e.quantity * e.bankruptcy_price > 40e6]
    assert len(found) == 1
    w = found[0]
    assert (w.coin, w.venue, w.side) == (whale.coin, whale.venue, whale.side)
    assert w.quantity * w.bankruptcy_price == pytest.approx(whale.notional_usd)


def test_builtin_scenario_and_bad_files_are_explained(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "selloff-2025-11-04" in builtin_names()
    with pytest.raises(ConfigError, match="did you mean 'selloff-2025-11-04'"):
        load_scenario("selloff-2025-11-05")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\nstart = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(bad)
    base = msgspec.to_builtins(load_scenario("selloff-2025-11-04"))
    base["venues"]["bybitt"] = {"share": 0.1}
    base["coins"]["BTC"]["path"] = [[0, 100], [1, -5]]
    base["coins"]["BTC"]["colour"] = "red"
    with pytest.raises(ConfigError, match="colour"):
        parse_scenario(base)
    del base["coins"]["BTC"]["colour"]
    with pytest.raises(ConfigError) as err:
        parse_scenario(base)
    assert "did you mean 'bybit'" in str(err.value) and "path" in str(err.value)
