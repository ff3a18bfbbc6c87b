"""Bitget: hand-computed numbers on the real recorded frames (tests/data/recorded/BITGET.*.jsonl)."""

from __future__ import annotations

import json

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstrument, UnknownMessage
from liqwatch.model import (
    Candle,
    Channel,
    ContractType,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    Origin,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import bitget

MS = 1_000_000
INDEX = instruments_for("bitget")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of BITGET.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"BITGET.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def parse(raw: bytes | str, ts_recv: int = 7) -> list:
    return bitget.parse_frame(raw.encode() if isinstance(raw, str) else raw, INDEX, ts_recv)


def test_v1_contracts_are_stored_under_the_wire_symbol():
    usdt, coin = INDEX.get("bitget", "BTCUSDT"), INDEX.get("bitget", "BTCUSD")
    assert usdt is not None and coin is not None
    assert usdt.market == "BTC-USDT-PERP" and usdt.category == "usdt-futures" and usdt.settle == "USDT"
    assert coin.market == "BTC-USD-PERP" and coin.category == "coin-futures" and coin.settle == "BTC"
    assert all(i.contract_type is ContractType.LINEAR and i.contract_size == 1 for i in INDEX)
    assert INDEX.get("bitget", "BTCUSDT_UMCBL") is None


def test_recorded_liquidations_buy_is_long_and_amount_is_quote():
    # APEUSDT buy: 13.70319 USDT / 0.1649 = 83.1 APE; IPUSDT buy: 143.330431857868 / 0.500280739469 = 286.5 IP
    ape, ip = parse(frame("liquidations", 1))
    assert isinstance(ape, Liquidation) and isinstance(ip, Liquidation)
    assert ape.position_side is PositionSide.LONG and ape.venue_side == "buy"
    assert ape.price == 0.1649 and ape.price_kind is PriceKind.FILL
    assert ape.notional_usd == 13.70319 and ape.quantity == pytest.approx(83.1, rel=1e-12)
    assert ape.ts_event == 1_777_358_886_549 * MS and ape.ts_recv == 7 and ape.market == "APE-USDT-PERP"
    assert ip.quantity == pytest.approx(286.5, rel=1e-12) and ip.notional_usd == pytest.approx(143.330431857868)
    assert ip.ts_event == 1_777_358_876_983 * MS and ip.venue_event_id is None


def test_documented_example_and_sell_is_short():
    doc = '{"data":[{"symbol":"BTCUSDT","side":"sell","price":"89000","amount":"37.722858","ts":"1736371332162"}],"arg":{"instType":"usdt-futures","topic":"liquidation"},"action":"update","ts":1736371332162}'
    [liq] = parse(doc)
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "sell"
    assert liq.notional_usd == 37.722858 and liq.quantity == pytest.approx(37.722858 / 89000)
    assert liq.ts_event == 1_736_371_332_162 * MS


def test_v1_ticker_holding_is_one_sided_base_open_interest():
    # DASHUSDT v1 mix ticker: holding 21957.17 DASH at mark 113.381 → 2 489 525.89 USD; capitalRate -0.0001
    mark, oi = parse(frame("tickers", 1))
    assert isinstance(mark, MarkPrice) and isinstance(oi, OpenInterest)
    assert mark.mark_price == 113.381 and mark.index_price == 113.427 and mark.funding_rate == -0.0001
    assert mark.ts_event == 1_649_290_077_309 * MS and mark.ts_next_funding == 1_649_314_800_000 * MS
    assert oi.open_interest == 21957.17 and oi.raw_unit is OpenInterestUnit.BASE and not oi.raw_two_sided
    assert oi.open_interest_usd == pytest.approx(21957.17 * 113.381) and oi.reference_price == 113.381
    assert oi.origin is Origin.STREAM and oi.ts_recv == 7


def test_v2_ticker_holding_amount_and_funding():
    # STORJUSDT v2: holdingAmount 8 572 031.1 STORJ × 0.4705 = 4 033 140.63 USD, fundingRate 0.0001
    mark, oi = parse(frame("tickers", 218))
    assert mark.funding_rate == 0.0001 and mark.ts_next_funding == 1_730_361_600_000 * MS
    assert oi.open_interest == 8_572_031.1 and oi.open_interest_usd == pytest.approx(4_033_140.63255)
    assert oi.ts_event == 1_730_332_823_155 * MS


def test_uta_ticker_open_interest():
    mark, oi = parse(frame("tickers", 220))
    assert mark.symbol == "BTCUSDT" and mark.funding_rate == -0.00003
    assert oi.open_interest == 29539.3825 and oi.open_interest_usd == pytest.approx(29539.3825 * 76631.3)
    assert oi.ts_event == 1_777_358_880_084 * MS


def test_rest_open_interest_v1_and_v2():
    [oi] = parse(frame("open_interest", 2))  # BTCUSDT_UMCBL amount 89481.932 BTC
    assert oi.symbol == "BTCUSDT" and oi.open_interest == 89481.932 and oi.origin is Origin.POLL
    assert oi.ts_event == 1_654_337_723_059 * MS
    v2 = b'{"code":"00000","msg":"success","data":{"openInterestList":[{"symbol":"BTCUSD","size":"34278.06"}],"ts":"1695796781616"}}'
    [oi2] = bitget.parse_poll("open_interest", v2, INDEX, 3)
    assert oi2.symbol == "BTCUSD" and oi2.open_interest == 34278.06 and oi2.ts_event == 1_695_796_781_616 * MS


def test_candles_snapshot_closes_all_but_the_last_bar():
    bars = parse(frame("klines", 28))  # BTCUSD snapshot, 2 bars
    assert all(isinstance(b, Candle) for b in bars)
    assert [b.closed for b in bars] == [True, False]
    assert bars[0].ts_event == 1_654_017_420_000 * MS and bars[0].open == 31974 and bars[0].volume == 9.197
    [update] = parse(frame("klines", 3))
    assert not update.closed and update.close == 113.37


def test_control_and_bad_frames():
    assert parse(b"pong") == []
    assert parse('{"event":"subscribe","arg":{"instType":"usdt-futures","topic":"liquidation"}}') == []
    with pytest.raises(SubscribeRejected, match="30001: channel does not exist"):
        parse('{"event":"error","code":30001,"msg":"channel does not exist"}')
    with pytest.raises(UnknownMessage):
        parse(frame("trades", 1))
    with pytest.raises(UnknownMessage):
        parse(frame("tickers", 221))  # pre-2021 swap/funding_rate table
    with pytest.raises(UnknownInstrument):
        parse(frame("tickers", 219))  # BTCUSDZ24: no documented delivery spec
    with pytest.raises(ParseError):
        parse('{"arg":{"instType":"usdt-futures","topic":"liquidation"},"data":[{"symbol":"BTCUSDT","side":"long","price":"1","amount":"1","ts":"1"}]}')
    with pytest.raises(ParseError):
        parse('{"arg":{"instType":"usdt-futures","topic":"liquidation"},"data":[{"symbol":"BTCUSDT","side":"buy","price":"0","amount":"1","ts":"1"}]}')


def test_ws_connections_and_heartbeat():
    insts = [i for i in INDEX if i.symbol in ("BTCUSDT", "BTCUSD")]
    conns = bitget.ws_connections(insts, frozenset(Channel), bitget.SPEC.ws_url)
    liq, v2 = conns
    assert liq.url == "wss://ws.bitget.com/v3/ws/public"
    assert json.loads(liq.subscribe[0]) == {
        "op": "subscribe",
        "args": [{"instType": "coin-futures", "topic": "liquidation"}, {"instType": "usdt-futures", "topic": "liquidation"}],
    }
    assert v2.url == "wss://ws.bitget.com/v2/ws/public"
    args = json.loads(v2.subscribe[0])["args"]
    assert {"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"} in args
    assert {"instType": "COIN-FUTURES", "channel": "candle1m", "instId": "BTCUSD"} in args
    many = bitget.ws_connections(list(INDEX), frozenset({Channel.OPEN_INTEREST}), "ws://127.0.0.1:1/v3/ws/public")
    assert all(len(json.loads(c.subscribe[0])["args"]) <= 50 for c in many) and len(many) == 2
    assert many[0].url == "ws://127.0.0.1:1/v2/ws/public"
    assert bitget.heartbeat(0) == b"ping" and bitget.SPEC.heartbeat_interval_s == 30
    assert bitget.reply_to(b"ping") == b"pong" and bitget.reply_to(b"{}") is None
    assert bitget.instrument_requests()[0].params == (("productType", "USDT-FUTURES"),)


def test_v2_contracts_parse():
    body = b'{"code":"00000","data":[{"symbol":"BTCUSDT","baseCoin":"BTC","quoteCoin":"USDT","symbolType":"perpetual","symbolStatus":"normal","deliveryTime":""},{"symbol":"ETHUSDZ24","baseCoin":"ETH","quoteCoin":"USD","symbolType":"delivery","deliveryTime":"1735286400000","symbolStatus":"normal"}]}'
    perp, fut = bitget.parse_instruments(body)
    assert perp.market == "BTC-USDT-PERP" and perp.ts_expiry is None
    assert fut.symbol == "ETHUSDZ24" and fut.category == "coin-futures" and fut.ts_expiry == 1_735_286_400_000 * MS and fut.settle == "ETH"
