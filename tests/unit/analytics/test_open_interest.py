"""OI across venues: valuation sources, totals, windowed changes, the coin/USD/price decomposition, CME import.

Every expected number is worked by hand from the scenario in tests/oi_scenario.py (see its docstring).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from liqwatch.analytics.open_interest import open_interest_between, open_interest_summary, value_row
from liqwatch.backfill.cme import end_of_day_ns, parse_cme_csv, read_cme_file
from liqwatch.errors import ConfigError
from liqwatch.storage.duckdb_store import DuckDBStore
from oi_scenario import H, S, T, events

FIXTURES = Path(__file__).parents[2] / "fixtures" / "cme"
approx = pytest.approx


@pytest.fixture
def store(db_path: Path) -> Any:
    s = DuckDBStore(db_path)
    s.write(events())
    yield s
    s.close()


def test_latest_per_symbol_with_usd_source(store: DuckDBStore) -> None:
    result = open_interest_summary(store, at=T, coin="BTC")
    by = {(p["venue"], p["symbol"]): p for p in result["symbols"]}
    assert set(by) == {("binance-usdm", "BTCUSDT"), ("bybit", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")}
    binance, bybit, okx = by["binance-usdm", "BTCUSDT"], by["bybit", "BTCUSDT"], by["okx", "BTC-USDT-SWAP"]
    assert (binance["usd_source"], binance["oi_coin"], binance["oi_usd"]) == (
        "venue",
        84_000.0,
        approx(7_980_000_000),
    )
    # two-sided 98,000 normalised to 49,000 one-sided, valued at the mark at T−10s (not the one after T)
    assert (bybit["usd_source"], bybit["oi_coin"], bybit["price"]) == ("mark", 49_000.0, 95_000.0)
    assert bybit["raw_two_sided"] is True
    assert bybit["oi_usd"] == approx(4_655_000_000)
    # last closed 1m bar (95,100); the bar closing after T and the 5m bar are ignored
    assert (okx["usd_source"], okx["price"], okx["oi_usd"]) == ("candle", 95_100.0, approx(951_000_000))


def test_totals_and_24h_change(store: DuckDBStore) -> None:
    btc = open_interest_summary(store, at=T, coin="BTC")["coins"]["BTC"]
    total = btc["total"]
    assert total["oi_coin"] == approx(143_000)
    assert total["oi_usd"] == approx(13_586_000_000)
    assert total["usd_sources"] == {"venue": 1, "mark": 1, "candle": 1}
    assert (total["symbols"], total["venues"], total["stale_symbols"]) == (3, 3, 0)
    day = total["changes"]["24h"]
    # binance + bybit: USD 13.000bn → 12.635bn, coin 130,000 → 133,000, USD per coin 100,000 → 95,000
    assert day["usd_change"] == approx(12.635 / 13.0 - 1)
    assert day["coin_change"] == approx(133_000 / 130_000 - 1)
    assert day["price_change"] == approx(-0.05)
    assert day["coin_change_from_usd_and_price"] == approx(day["coin_change"])
    assert (1 + day["usd_change"]) / (1 + day["price_change"]) - 1 == approx(3 / 130)
    assert (day["symbols"], day["symbols_usd"], day["venues"]) == (2, 2, 2)
    assert day["skipped"] == {"not_at_start": 1}
    venues = btc["venues"]
    assert venues["binance-usdm"]["changes"]["24h"]["usd_change"] == approx(-0.0025)
    assert venues["binance-usdm"]["changes"]["24h"]["coin_change"] == approx(0.05)
    assert venues["bybit"]["changes"]["24h"]["usd_change"] == approx(-0.069)
    assert venues["bybit"]["changes"]["24h"]["coin_change"] == approx(-0.02)
    assert venues["okx"]["changes"]["24h"]["usd_change"] is None
    assert venues["okx"]["oi_usd"] == approx(951_000_000)


def test_short_windows_need_a_fresh_start_point(store: DuckDBStore) -> None:
    total = open_interest_summary(store, at=T, coin="BTC")["coins"]["BTC"]["total"]
    hour = total["changes"]["1h"]
    # only binance has a point near T−1h (83,000 at 96,000); bybit's start is 24h old
    assert hour["usd_change"] == approx(7.98 / 7.968 - 1)
    assert hour["coin_change"] == approx(84 / 83 - 1)
    assert hour["price_change"] == approx(95 / 96 - 1)
    assert (hour["symbols"], hour["skipped"]) == (1, {"not_at_start": 2})
    four = total["changes"]["4h"]
    assert (four["symbols"], four["usd_change"], four["coin_change"]) == (0, None, None)


def test_between_two_times(store: DuckDBStore) -> None:
    result = open_interest_between(store, start=S, end=T, coin="BTC")
    ch = result["coins"]["BTC"]["total"]["changes"]["change"]
    assert (ch["oi_usd_from"], ch["oi_usd_to"]) == (approx(13.0e9), approx(12.635e9))
    assert ch["price_change"] == approx(-0.05)
    assert result["from"] == "2025-11-04T00:00:00.000Z"
    assert result["to"] == "2025-11-05T00:00:00.000Z"


def test_coin_filter_and_all_coins(store: DuckDBStore) -> None:
    assert set(open_interest_summary(store, at=T)["coins"]) == {"BTC", "ETH"}
    assert open_interest_summary(store, at=T, coin="eth")["coins"]["ETH"]["total"]["oi_usd"] == approx(3.5e9)
    assert open_interest_summary(store, at=S - H)["coins"] == {}


def test_value_row_without_any_price() -> None:
    row = {"venue": "x", "symbol": "Y", "market": "m", "coin": "BTC", "ts_event": 1, "open_interest": 2.0}
    point = value_row(row)
    assert (point.usd_source, point.oi_usd, point.price) == ("none", None, None)


def test_cme_import_contracts_times_multiplier() -> None:
    got = {(e.symbol, e.ts_event): e for e in read_cme_file(FIXTURES / "synthetic_voi.csv")}
    nov3 = 1_762_214_400 * 10**9 - 1  # 2025-11-03T23:59:59.999999999Z
    assert end_of_day_ns(date(2025, 11, 3)) == nov3
    # BTC 10,000 + 5,000 contracts × 5; the options row (999) and ES are skipped
    assert got["BTC", nov3].open_interest == 75_000.0 and got["BTC", nov3].raw_value == 15_000.0
    assert got["MBT", nov3].open_interest == approx(2_000.0)
    assert got["ETH", nov3].open_interest == 150_000.0
    assert got["MET", nov3].open_interest == approx(4_000.0)
    assert got["BTC", nov3 + 24 * H].open_interest == 80_000.0
    assert len(got) == 5
    e = got["BTC", nov3]
    assert (e.venue, e.coin, e.origin.value, e.raw_unit.value, e.raw_two_sided, e.open_interest_usd) == (
        "cme",
        "BTC",
        "import",
        "contracts",
        False,
        None,
    )


def test_cme_settlement_gives_usd() -> None:
    (e,) = read_cme_file(FIXTURES / "synthetic_settle.csv")
    # 100 × 5 × 100,000 + 50 × 5 × 101,000
    assert e.open_interest == 750.0
    assert e.open_interest_usd == approx(75_250_000)
    assert e.reference_price == approx(75_250_000 / 750)


def test_cme_bad_file_names_the_columns() -> None:
    with pytest.raises(ConfigError, match="no date, oi column"):
        parse_cme_csv("Product,Volume\nBTC,1\n")
    with pytest.raises(ConfigError, match="no BTC, ETH, MBT or MET"):
        parse_cme_csv("Trade Date,Product Code,Open Interest\n20251103,ES,5\n")
    with pytest.raises(ConfigError, match="'2025/13/45'"):
        parse_cme_csv("Trade Date,Product Code,Open Interest\n2025/13/45,BTC,5\n")


def test_change_note_adds_up_with_a_coin_only_venue() -> None:
    """A coin-only (CME-like) symbol is in the coin change but not the USD one; the note's identity uses the same
    symbols on both sides, so USD = coin × price holds on what it prints (issue 18: −4.00% ≠ −4.52% and −2.95%)."""
    from liqwatch.analytics.open_interest import OiPoint, change
    from liqwatch.cli.oi import change_note

    def pt(venue: str, ts: int, coin_oi: float, price: float | None) -> OiPoint:
        return OiPoint(venue=venue, symbol="X", market="BTC-USD", coin="BTC", ts_event=ts, oi_coin=coin_oi,
                       oi_usd=coin_oi * price if price else None, price=price, usd_source="mark" if price else "none",
                       price_ts=ts if price else None, raw_two_sided=False, end_of_day=False)

    h = 3_600 * 10**9
    start = [pt("a", 0, 100.0, 100.0), pt("cme", 0, 50.0, None)]
    end = [pt("a", 24 * h, 90.0, 110.0), pt("cme", 24 * h, 40.0, None)]
    ch = change(start, end, start_at=0, end_at=24 * h)
    assert ch["coin_change"] == pytest.approx(130 / 150 - 1)
    assert ch["coin_change_usd_symbols"] == pytest.approx(-0.1)
    assert (1 + ch["usd_change"]) == pytest.approx((1 + ch["coin_change_usd_symbols"]) * (1 + ch["price_change"]))
    note = change_note("24h", ch)
    assert "coin [red]-13.33%[/] (2 symbols on 2 venues)" in note
    assert "on the 1 symbols valued in USD at both ends, USD [red]-1.00%[/] = coin [red]-10.00%[/] and price [green]+10.00%[/]" in note
