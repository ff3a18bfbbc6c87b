"""BitMEX: hand-computed numbers on the real recorded frames (tests/data/recorded/BITMEX.*)."""

from __future__ import annotations

import json
import math

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, UnknownInstrument, UnknownInstruments, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    InstrumentIndex,
    InstrumentKind,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import bitmex

S = 1_000_000_000
INDEX = instruments_for("bitmex")
REST = next(iter(read_recording(recorded_dir() / "BITMEX.rest_instruments.jsonl")))


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of BITMEX.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"BITMEX.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def test_instruments_from_recorded_instrument_active():
    assert not isinstance(REST, Exception)
    by_symbol = {i.symbol: i for i in bitmex.parse_instruments(REST.frame)}
    xbt = by_symbol["XBTUSD"]  # multiplier -1e8 / underlyingToSettleMultiplier -1e8 = 1 USD
    assert (xbt.contract_type, xbt.contract_size, xbt.market, xbt.settle) == (
        ContractType.INVERSE,
        1.0,
        "BTC-USD-PERP",
        "XBT",
    )
    eth = by_symbol["ETHUSD"]  # multiplier 100 XBt per price point = 1e-6 XBT
    assert eth.contract_type is ContractType.QUANTO and math.isclose(eth.contract_size, 1e-6)
    fut = by_symbol["XBTU21"]
    assert fut.kind is InstrumentKind.FUTURE and fut.market == "BTC-USD-210924"
    assert fut.ts_expiry == 1632484800 * S
    # XBT-quoted futures and the EUR contract have no USD notional: not loaded
    assert "XRPU21" not in by_symbol and "XBTEUR" not in by_symbol and "ETHU21" not in by_symbol


def test_recorded_insert_is_a_short_liquidation_in_usd_contracts():
    [liq] = bitmex.parse_frame(frame("liquidations", 1), INDEX, 123)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "Buy"  # Buy order closes a short
    assert liq.contracts == 9214 and liq.notional_usd == 9214.0  # XBTUSD: 1 contract = 1 USD
    assert math.isclose(liq.quantity, 9214 / 10106)  # 0.91174 XBT
    assert math.isclose(liq.quantity, 0.911735602612)
    assert liq.price == 10106 and liq.price_kind is PriceKind.ORDER
    assert liq.ts_event == liq.ts_recv == 123  # the table has no timestamp
    assert liq.venue_event_id == "dd9cea25-207c-0dab-15b5-b88da776f500"
    assert liq.contract_type is ContractType.INVERSE and liq.market == "BTC-USD-PERP" and liq.coin == "BTC"


def test_delete_and_update_count_nothing():
    assert bitmex.parse_frame(frame("liquidations", 2), INDEX, 1) == []
    update = (
        b'{"table":"liquidation","action":"update","data":[{"orderID":"x","symbol":"XBTUSD","leavesQty":10}]}'
    )
    assert bitmex.parse_frame(update, INDEX, 1) == []


def test_sell_is_a_long_liquidation():
    raw = b'{"table":"liquidation","action":"insert","data":[{"orderID":"a","symbol":"XBTU21","side":"Sell","price":32000,"leavesQty":64000}]}'
    [liq] = bitmex.parse_frame(raw, INDEX, 5)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.LONG and liq.quantity == 2.0 and liq.notional_usd == 64000.0


PARTIAL = (
    b'{"table":"liquidation","action":"partial","keys":["orderID"],"types":{"orderID":"guid","symbol":"symbol",'
    b'"side":"symbol","price":"float","leavesQty":"long"},"filter":{"symbol":"XBTUSD"},"data":['
    b'{"orderID":"rest-1","symbol":"XBTUSD","side":"Sell","price":31000,"leavesQty":5000},'
    b'{"orderID":"rest-2","symbol":"XBTUSD","side":"Buy","price":33000,"leavesQty":700}]}'
)
INSERT = b'{"table":"liquidation","action":"insert","data":[{"orderID":"new-1","symbol":"XBTUSD","side":"Buy","price":32500,"leavesQty":1200}]}'


def test_partial_then_insert_yields_only_the_inserts_liquidations():
    # Issue 16: the partial lists orders resting when the subscription starts; they were emitted as new ones.
    events = [e for f in (PARTIAL, INSERT) for e in bitmex.parse_frame(f, INDEX, 7)]
    assert [(e.venue_event_id, e.position_side, e.notional_usd) for e in events if isinstance(e, Liquidation)] == [
        ("new-1", PositionSide.SHORT, 1200.0)
    ]
    assert len(events) == 1
    assert bitmex._parse_general(PARTIAL, INDEX, 7) == []  # the general path agrees
    empty_partial = b'{"table":"liquidation","action":"partial","data":[]}'
    assert bitmex.parse_frame(empty_partial, INDEX, 7) == []


def test_xbt_settled_quanto_liquidation_is_skipped_with_a_reason():
    raw = b'{"table":"liquidation","action":"insert","data":[{"orderID":"q","symbol":"ETHUSD","side":"Sell","price":2000,"leavesQty":50}]}'
    with pytest.raises(UnknownMessage, match="quanto"):
        bitmex.parse_frame(raw, INDEX, 5)


def test_linear_liquidation_uses_underlying_to_position_multiplier():
    row = {
        "symbol": "XBTUSDT",
        "typ": "FFWCSX",
        "state": "Open",
        "underlying": "XBT",
        "quoteCurrency": "USDT",
        "settlCurrency": "USDt",
        "multiplier": 1,
        "underlyingToPositionMultiplier": 1000000,
        "isQuanto": False,
        "isInverse": False,
    }
    [inst] = bitmex.parse_instruments(json.dumps([row]).encode())
    assert inst.contract_type is ContractType.LINEAR and inst.contract_size == 1e-6 and inst.settle == "USDT"
    raw = b'{"table":"liquidation","action":"insert","data":[{"orderID":"l","symbol":"XBTUSDT","side":"Sell","price":23000,"leavesQty":2000000}]}'
    [liq] = bitmex.parse_frame(raw, InstrumentIndex([inst]), 5)
    assert isinstance(liq, Liquidation)
    assert math.isclose(liq.quantity, 2.0) and math.isclose(liq.notional_usd, 46000.0)


def test_open_interest_and_mark_from_recorded_rest_body():
    assert not isinstance(REST, Exception)
    with pytest.raises(UnknownInstruments) as raised:  # XBT-quoted futures are not loaded: counted, the rest kept
        bitmex.parse_poll("instruments", REST.frame, INDEX, 9)
    assert "XRPU21" in raised.value.symbols and all(INDEX.get("bitmex", s) is None for s in raised.value.symbols)
    events = raised.value.events
    oi = {e.symbol: e for e in events if isinstance(e, OpenInterest)}
    xbt = oi["XBTUSD"]  # openInterest 574 264 600 contracts = USD, mark 32 184.89
    assert (
        xbt.raw_value == 574_264_600 and xbt.raw_unit is OpenInterestUnit.CONTRACTS and not xbt.raw_two_sided
    )
    assert xbt.open_interest_usd == 574_264_600.0
    assert math.isclose(xbt.open_interest, 574_264_600 / 32184.89) and math.isclose(
        xbt.open_interest, 17842.677, rel_tol=1e-6
    )
    assert xbt.ts_event == 1626993365 * S and xbt.origin is Origin.POLL
    eth = oi["ETHUSD"]  # quanto: openValue 281 246 565 675 XBt × XBTUSD mark 32 184.89 = 90 518 898 USD
    assert math.isclose(eth.open_interest_usd or 0, 2812.46565675 * 32184.89)
    assert math.isclose(eth.open_interest_usd or 0, 90_518_897.79, rel_tol=1e-9)
    assert math.isclose(eth.open_interest, 2812.46565675 * 32184.89 / 2003.93)  # 45 171 ETH
    mark = next(e for e in events if isinstance(e, MarkPrice) and e.symbol == "XBTUSD")
    assert mark.mark_price == 32184.89 and mark.funding_rate == 0.0001 and mark.funding_interval_s == 8 * 3600


def test_quanto_oi_update_without_prices_is_skipped():
    with pytest.raises(UnknownMessage, match="ETHUSD"):
        bitmex.parse_frame(frame("tickers", 4), INDEX, 1)


def test_inverse_oi_update_uses_open_value_without_mark():
    raw = b'{"table":"instrument","action":"update","data":[{"symbol":"XBTUSD","openInterest":1000000,"openValue":3000000000,"timestamp":"2021-07-22T22:36:05.000Z"}]}'
    [oi] = bitmex.parse_frame(raw, INDEX, 1)
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == 30.0 and oi.open_interest_usd == 1_000_000.0  # 3e9 XBt = 30 XBT
    assert oi.reference_price is not None and math.isclose(oi.reference_price, 1_000_000 / 30)


def test_recorded_instrument_frames():
    assert bitmex.parse_frame(frame("tickers", 1), INDEX, 1) == []  # lastTickDirection only
    with pytest.raises(UnknownInstrument):  # ETHM19 is XBT-quoted and expired
        bitmex.parse_frame(frame("tickers", 2), INDEX, 1)


def test_recorded_funding_table():
    [m] = bitmex.parse_frame(frame("tickers", 5), INDEX, 1)
    assert isinstance(m, MarkPrice)
    assert m.symbol == "XBTUSD" and m.funding_rate == 0.000817 and m.funding_interval_s == 28800
    assert m.ts_event == 1617307200 * S  # 2021-04-01T20:00:00Z


def test_recorded_trade_bin_1m():
    [c] = bitmex.parse_frame(frame("klines", 1), INDEX, 1)
    assert isinstance(c, Candle)
    assert c.ts_event == 1675209960 * S  # bin stamped 00:07:00 closes the 00:06 minute
    assert c.volume == 14.843308120000001 and c.volume_usd == 342600 and c.interval_s == 60
    assert (c.open, c.high, c.low, c.close) == (23077.5, 23096.5, 23076.5, 23085)
    with pytest.raises(UnknownMessage):
        bitmex.parse_frame(frame("klines", 2), INDEX, 1)  # tradeBin5m is not handled


def test_control_frames_and_errors():
    assert bitmex.parse_frame(b"pong", INDEX, 1) == []
    assert bitmex.parse_frame(b'{"info":"Welcome to the BitMEX Realtime API."}', INDEX, 1) == []
    assert bitmex.parse_frame(b'{"success":true,"subscribe":"liquidation:XBTUSD"}', INDEX, 1) == []
    with pytest.raises(ParseError):
        bitmex.parse_frame(b'{"error":"Unknown table: foo"}', INDEX, 1)
    with pytest.raises(ParseError):
        bitmex.parse_frame(
            b'{"table":"liquidation","action":"insert","data":[{"orderID":"z","symbol":"XBTUSD","side":"Sell","price":-1,"leavesQty":5}]}',
            INDEX,
            1,
        )


def test_ws_connections_and_heartbeat():
    xbt = INDEX.get("bitmex", "XBTUSD")
    assert xbt is not None
    [conn] = bitmex.ws_connections([xbt], bitmex.SPEC.channels, bitmex.SPEC.ws_url)
    assert conn.url == "wss://ws.bitmex.com/realtime"
    assert json.loads(conn.subscribe[0]) == {
        "op": "subscribe",
        "args": ["liquidation:XBTUSD", "instrument:XBTUSD", "tradeBin1m:XBTUSD"],
    }
    assert bitmex.heartbeat(0) == b"ping" and bitmex.reply_to(b"pong") is None
    assert Channel.LIQUIDATIONS in bitmex.SPEC.channels
