"""Binance COIN-M: hand-computed numbers on the real recorded frames (tests/data/recorded/BINANCE_DELIVERY.*)."""

from __future__ import annotations

import json
import math

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, UnknownInstrument, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    InstrumentKind,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import binance_coinm

MS = 1_000_000
INDEX = instruments_for("binance-coinm")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of BINANCE_DELIVERY.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"BINANCE_DELIVERY.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def parse(raw: bytes | str, ts_recv: int = 7) -> list:
    return binance_coinm.parse_frame(raw.encode() if isinstance(raw, str) else raw, INDEX, ts_recv)


def test_instruments_are_inverse_with_the_exchange_contract_size():
    btc = INDEX.get("binance-coinm", "BTCUSD_PERP")
    eth = INDEX.get("binance-coinm", "ETHUSD_210924")
    assert btc is not None and eth is not None
    assert btc.contract_type is ContractType.INVERSE and btc.contract_size == 100 and btc.market == "BTC-USD-PERP"
    assert btc.kind is InstrumentKind.PERPETUAL and btc.ts_expiry is None and btc.settle == "BTC"
    assert eth.contract_size == 10 and eth.kind is InstrumentKind.FUTURE and eth.market == "ETH-USD-210924"
    assert eth.ts_expiry == 1_632_470_400_000 * MS
    assert all(i.contract_size in (10, 100) for i in INDEX)


def test_recorded_liquidation_sell_is_a_long_inverse_notional():
    # BTCUSD_200925: S=SELL, z=3 contracts × 100 USD = 300 USD at ap 9352.7 → 0.0320763 BTC
    [liq] = parse(frame("liquidations", 1))
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "SELL"
    assert liq.price == 9352.7 and liq.price_kind is PriceKind.FILL
    assert liq.contracts == 3 and liq.notional_usd == pytest.approx(300.0)
    assert liq.quantity == pytest.approx(300.0 / 9352.7) and round(liq.quantity, 7) == 0.0320763
    assert liq.contract_type is ContractType.INVERSE and liq.market == "BTC-USD-200925" and liq.coin == "BTC"
    assert liq.ts_event == 1_594_622_954_021 * MS and liq.ts_recv == 7
    assert math.isclose(liq.notional_usd, liq.quantity * liq.price, rel_tol=1e-12)


def test_documented_liquidation_example_bare_payload():
    # docs §2 official example: BTCUSD_200925 SELL z=1 ap=9496.5 → 100 USD, 0.01053 BTC
    doc = (
        '{"e":"forceOrder","E":1591154240950,"o":{"s":"BTCUSD_200925","ps":"BTCUSD","S":"SELL","o":"LIMIT",'
        '"f":"IOC","q":"1","p":"9425.5","ap":"9496.5","X":"FILLED","l":"1","z":"1","T":1591154240949}}'
    )
    [liq] = parse(doc)
    assert liq.position_side is PositionSide.LONG
    assert liq.notional_usd == pytest.approx(100.0) and liq.quantity == pytest.approx(100.0 / 9496.5)
    assert liq.ts_event == 1_591_154_240_949 * MS


def test_buy_is_a_short_and_eth_uses_ten_usd_contracts():
    doc = json.dumps(
        {"e": "forceOrder", "E": 2, "o": {"s": "ETHUSD_PERP", "S": "BUY", "q": "5", "p": "2000", "ap": "2010", "z": "4", "T": 1}}
    )
    [liq] = parse(doc)
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "BUY"
    assert liq.contracts == 4 and liq.notional_usd == pytest.approx(40.0) and liq.quantity == pytest.approx(40.0 / 2010)


def test_open_interest_is_contracts_times_contract_size_in_usd():
    # tardis-wrapped REST poll: 15279 contracts × 100 USD = 1 527 900 USD, no price in the body
    [oi] = parse(frame("open_interest", 1))
    assert isinstance(oi, OpenInterest)
    assert oi.raw_value == 15279 and oi.raw_unit is OpenInterestUnit.CONTRACTS and not oi.raw_two_sided
    assert oi.open_interest_usd == pytest.approx(1_527_900.0)
    assert math.isnan(oi.open_interest)  # base needs a price the REST body does not carry
    assert oi.ts_event == 1_592_265_372_706 * MS and oi.origin is Origin.POLL


def test_poll_parses_the_bare_rest_body():
    [oi] = binance_coinm.parse_poll("open_interest", frame("open_interest", 3), INDEX, 9)
    assert oi.symbol == "BTCUSD_PERP" and oi.open_interest_usd == pytest.approx(582_789_700.0)
    assert oi.ts_event == 1_654_336_819_740 * MS and oi.ts_recv == 9
    with pytest.raises(UnknownMessage):
        binance_coinm.parse_poll("nope", b"{}", INDEX, 9)


def test_mark_price_all_market_array_and_empty_delivery_funding():
    btc, eth = parse(frame("tickers", 5))
    assert isinstance(btc, MarkPrice) and isinstance(eth, MarkPrice)
    assert btc.mark_price == 59003.37984561 and btc.funding_rate == 0.00073684
    assert btc.ts_next_funding == 1_617_321_600_000 * MS and btc.ts_event == 1_617_309_501_002 * MS
    assert eth.symbol == "ETHUSD_PERP" and eth.mark_price == 1981.89
    delivery = '{"stream":"btcusd_211231@markPrice","data":{"e":"markPriceUpdate","E":1,"s":"BTCUSD_211231","p":"10934.6","P":"1","i":"10933.6","r":"","T":0}}'
    [mp] = parse(delivery)
    assert mp.funding_rate is None and mp.ts_next_funding is None and mp.index_price == 10933.6


def test_kline_volume_is_base_and_usd_from_contracts():
    # BTCUSD_220624: v=191 contracts × 100 USD = 19 100 USD; q=0.65623556 BTC
    [bar] = parse(frame("klines", 34))
    assert isinstance(bar, Candle)
    assert bar.symbol == "BTCUSD_220624" and bar.interval_s == 60 and not bar.closed
    assert bar.volume == 0.65623556 and bar.volume_usd == pytest.approx(19_100.0)
    assert bar.open == 29105.5 and bar.close == 29107.9 and bar.ts_event == 1_653_818_820_000 * MS


def test_unhandled_and_bad_frames():
    with pytest.raises(UnknownMessage):
        parse(frame("tickers", 2))  # indexPriceUpdate
    with pytest.raises(UnknownMessage):
        parse(frame("trades", 1))  # aggTrade
    assert parse('{"result":null,"id":1}') == []
    with pytest.raises(ParseError):
        parse('{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP"}}}')
    with pytest.raises(ParseError):
        parse('{"e":"forceOrder","E":1,"o":{"s":"BTCUSD_PERP","S":"SELL","q":"0","p":"0","z":"0","T":1}}')
    with pytest.raises(UnknownInstrument):
        parse('{"e":"forceOrder","E":1,"o":{"s":"NOPEUSD_PERP","S":"SELL","q":"1","p":"1","z":"1","ap":"1","T":1}}')


def test_ws_connections_subscribe_real_stream_names():
    insts = [i for i in INDEX if i.symbol in ("BTCUSD_PERP", "ETHUSD_PERP")]
    [conn] = binance_coinm.ws_connections(insts, frozenset(Channel), binance_coinm.SPEC.ws_url)
    liq, mark, klines = (json.loads(m) for m in conn.subscribe)
    assert conn.url == "wss://dstream.binance.com/market/stream" and liq["method"] == "SUBSCRIBE"
    # each in its own request: Binance refuses a whole SUBSCRIBE over one invalid stream
    assert (liq["params"], liq["id"]) == (["!forceOrder@arr"], 1)
    assert (mark["params"], mark["id"]) == (["!markPrice@arr@1s"], 2)
    assert sorted(klines["params"]) == ["btcusd_perp@kline_1m", "ethusd_perp@kline_1m"] and klines["id"] == 3
    many = binance_coinm.ws_connections(list(INDEX) * 10, frozenset(Channel), "wss://x")
    assert len(many) > 1 and all(sum(len(json.loads(m)["params"]) for m in c.subscribe) <= 200 for c in many)
    assert [json.loads(m)["id"] for m in many[1].subscribe] == [4]
    reqs = binance_coinm.poll_requests(insts)
    assert {r.path for r in reqs} == {"/dapi/v1/openInterest"} and len(reqs) == 2
