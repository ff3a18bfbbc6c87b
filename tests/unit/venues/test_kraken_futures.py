"""Kraken Futures: hand-computed numbers on the real recorded frames (tests/data/recorded/KRAKEN_FUTURES.*.jsonl)."""

from __future__ import annotations

import json
import math

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstrument, UnknownMessage
from liqwatch.model import (
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
from liqwatch.venues import kraken_futures as kf

MS = 1_000_000
INDEX = instruments_for("kraken-futures")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of KRAKEN_FUTURES.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"KRAKEN_FUTURES.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def test_inverse_sell_liquidation_is_a_long_and_qty_is_usd():
    # {"product_id":"PI_XRPUSD","uid":"3ee2…","side":"sell","type":"liquidation","time":1593561965283,"qty":12000,"price":0.1736}
    [liq] = kf.parse_frame(frame("liquidations", 1), INDEX, 7)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "sell"
    assert liq.symbol == "PI_XRPUSD" and liq.market == "XRP-USD-PERP" and liq.coin == "XRP"
    assert liq.contract_type is ContractType.INVERSE
    assert liq.contracts == 12000.0
    assert liq.notional_usd == 12000.0  # 12000 contracts × 1 USD
    assert math.isclose(liq.quantity, 69124.42396313364)  # 12000 / 0.1736 XRP
    assert liq.price == 0.1736 and liq.price_kind is PriceKind.FILL
    assert liq.ts_event == 1_593_561_965_283 * MS and liq.ts_recv == 7
    assert liq.venue_event_id == "3ee209b8-bc9f-4ed5-965b-8c6208b26411"


def test_inverse_buy_liquidation_is_a_short():
    # PI_ETHUSD buy 250 @ 231.6
    [liq] = kf.parse_frame(frame("liquidations", 2), INDEX, 0)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "buy"
    assert liq.notional_usd == 250.0
    assert math.isclose(liq.quantity, 250 / 231.6)  # 1.07944732… ETH
    assert liq.ts_event == 1_593_620_853_613 * MS


def test_linear_liquidation_qty_is_base():
    # Documented shape (docs/venues.md §10) on a multi-collateral perpetual: qty in BTC.
    raw = {"feed": "trade", "product_id": "PF_XBTUSD", "uid": "u1", "side": "sell", "type": "liquidation",
           "seq": 1, "time": 1_700_000_000_123, "qty": 0.25, "price": 36000.5}
    [liq] = kf.parse_frame(json.dumps(raw).encode(), INDEX, 0)
    assert isinstance(liq, Liquidation)
    assert liq.contract_type is ContractType.LINEAR and liq.coin == "BTC"
    assert liq.quantity == 0.25 and liq.contracts == 0.25
    assert liq.notional_usd == 0.25 * 36000.5 == 9000.125
    assert liq.position_side is PositionSide.LONG


def test_fills_yield_nothing_and_snapshots_are_scanned_for_liquidations():
    assert kf.parse_frame(frame("trades", 11), INDEX, 0) == []  # a `fill`
    assert kf.parse_frame(frame("trades", 16), INDEX, 0) == []  # trade_snapshot of fills
    snapshot = json.loads(frame("trades", 16))
    snapshot["trades"][1]["type"] = "liquidation"  # 0a265ed2…: sell 636 @ 39077.0
    item = snapshot["trades"][1]
    [liq] = kf.parse_frame(json.dumps(snapshot).encode(), INDEX, 0)
    assert isinstance(liq, Liquidation)
    assert liq.venue_event_id == item["uid"] == "0a265ed2-0c5d-4d81-ba70-4bbbd724783d"
    assert liq.position_side is PositionSide.LONG and liq.notional_usd == 636.0
    assert math.isclose(liq.quantity, 636.0 / 39077.0) and item["price"] == 39077.0


def test_ticker_open_interest_inverse_is_usd_contracts():
    # PI_XBTUSD ticker: openInterest 43967525 (USD contracts), markPrice 29919.75, time 1654164951042
    oi, mark = kf.parse_frame(frame("tickers", 101), INDEX, 0)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.raw_value == 43967525.0 and oi.raw_unit is OpenInterestUnit.CONTRACTS and not oi.raw_two_sided
    assert oi.open_interest_usd == 43967525.0
    assert math.isclose(oi.open_interest, 43967525.0 / 29919.75)  # 1469.515… BTC, one side
    assert oi.reference_price == 29919.75 and oi.origin is Origin.STREAM
    assert oi.ts_event == 1_654_164_951_042 * MS
    assert mark.mark_price == 29919.75 and mark.index_price == 29927.42
    assert mark.funding_rate == 9.6321875e-8  # relative_funding_rate, a fraction
    assert mark.ts_next_funding == 1_654_171_200_000 * MS


def test_ticker_open_interest_linear_is_base():
    # PF_SUIUSD ticker: openInterest 0, markPrice 1.3336 (linear: contracts = SUI)
    oi, mark = kf.parse_frame(frame("tickers", 99), INDEX, 0)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.open_interest == 0.0 and oi.open_interest_usd == 0.0
    raw = json.loads(frame("tickers", 99))
    raw["openInterest"] = 1500.0
    oi, _ = kf.parse_frame(json.dumps(raw).encode(), INDEX, 0)
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == 1500.0 and math.isclose(oi.open_interest_usd or 0, 1500.0 * 1.3336)


def test_control_frames_and_ticker_lite_yield_nothing():
    assert kf.parse_frame(frame("tickers", 1), INDEX, 0) == []  # ticker_lite: no OI, no mark
    for control in (b'{"event":"info","version":1}', b'{"event":"subscribed","feed":"trade","product_ids":["PI_XBTUSD"]}',
                    b'{"feed":"heartbeat","time":1534262350627}'):
        assert kf.parse_frame(control, INDEX, 0) == []


def test_errors():
    with pytest.raises(SubscribeRejected, match="Invalid product id"):
        kf.parse_frame(b'{"event":"error","message":"Invalid product id"}', INDEX, 0)
    with pytest.raises(UnknownMessage):
        kf.parse_frame(b'{"feed":"book","product_id":"PI_XBTUSD","side":"buy","seq":1,"price":1,"qty":1}', INDEX, 0)
    with pytest.raises(UnknownInstrument):
        kf.parse_frame(frame("liquidations", 1).replace(b"PI_XRPUSD", b"PI_NOPEUSD"), INDEX, 0)
    with pytest.raises(ParseError):
        kf.parse_frame(frame("liquidations", 1).replace(b'"qty":12000', b'"qty":0'), INDEX, 0)


def test_instruments_from_recorded_rest_body():
    path = recorded_dir() / "KRAKEN_FUTURES.rest_instruments.jsonl"
    [rec] = [r for r in read_recording(path) if not isinstance(r, Exception)]
    insts = {i.symbol: i for i in kf.parse_instruments(rec.frame)}
    assert len(insts) == 17  # 5 perpetuals + 12 dated inverse futures; the 10 spot indices are skipped
    pi = insts["PI_XBTUSD"]
    assert pi.contract_type is ContractType.INVERSE and pi.contract_size == 1.0
    assert pi.base == "BTC" and pi.quote == "USD" and pi.settle == "BTC" and pi.kind is InstrumentKind.PERPETUAL
    fi = insts["FI_XBTUSD_210924"]
    assert fi.kind is InstrumentKind.FUTURE and fi.market == "BTC-USD-210924"
    assert fi.ts_expiry == 1_632_495_600_000 * MS  # 2021-09-24T15:00:00Z


def test_subscribe_messages_and_keepalive():
    insts = [INDEX.get("kraken-futures", "PI_XBTUSD"), INDEX.get("kraken-futures", "PF_XBTUSD")]
    [conn] = kf.ws_connections([i for i in insts if i], frozenset(Channel), kf.SPEC.ws_url)
    msgs = [json.loads(m) for m in conn.subscribe]
    assert msgs[0] == {"event": "subscribe", "feed": "heartbeat"}
    assert {"event": "subscribe", "feed": "trade", "product_ids": ["PI_XBTUSD", "PF_XBTUSD"]} in msgs
    assert {"event": "subscribe", "feed": "ticker", "product_ids": ["PI_XBTUSD", "PF_XBTUSD"]} in msgs
    assert json.loads(kf.heartbeat(0) or b"") == {"event": "subscribe", "feed": "heartbeat"}
    assert kf.SPEC.heartbeat_interval_s is not None and kf.SPEC.heartbeat_interval_s < 60
