"""Bybit v5: hand-computed numbers on the real recorded frames (tests/data/recorded/BYBIT.*.jsonl)."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import msgspec
import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import ParseError, SubscribeRejected, UnknownInstrument, UnknownMessage
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
from liqwatch.venues import bybit

MS = 1_000_000
INDEX = instruments_for("bybit")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of BYBIT.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"BYBIT.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def parse(raw: bytes | str, ts_recv: int = 7) -> list:
    return bybit.parse_frame(raw.encode() if isinstance(raw, str) else raw, INDEX, ts_recv)


# --- liquidations ---------------------------------------------------------------------------------


def test_all_liquidation_linear_sell_is_a_short_position():
    # allLiquidation.PIPPINUSDT: S=Sell (position side) → short; v 2846 PIPPIN at bankruptcy price 0.02456
    [liq] = parse(frame("liquidations", 8))
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "PIPPINUSDT" and liq.market == "PIPPIN-USDT-PERP" and liq.coin == "PIPPIN"
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "Sell"
    assert liq.price_kind is PriceKind.BANKRUPTCY and liq.price == 0.02456
    assert liq.quantity == 2846.0 and liq.contracts == 2846.0
    assert liq.notional_usd == pytest.approx(69.89776)  # 2846 × 0.02456
    assert liq.ts_event == 1740480207110 * MS  # T, not the push ts
    assert liq.contract_type is ContractType.LINEAR


def test_buy_is_a_long_position_the_reverse_of_binance():
    raw = '{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":2,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0.5","p":"60000"}]}'
    [liq] = parse(raw)
    assert liq.position_side is PositionSide.LONG and liq.order_side.value == "sell"
    assert liq.quantity == 0.5 and liq.notional_usd == 30000.0


def test_all_liquidation_inverse_size_is_usd():
    raw = '{"topic":"allLiquidation.BTCUSD","type":"snapshot","ts":2,"data":[{"T":1,"s":"BTCUSD","S":"Buy","v":"50000","p":"25000"},{"T":1,"s":"BTCUSD","S":"Sell","v":"100","p":"20000"}]}'
    first, second = parse(raw)
    assert first.contracts == 50000.0 and first.notional_usd == 50000.0 and first.quantity == 2.0  # 50 000 USD / 25 000
    assert first.position_side is PositionSide.LONG and second.position_side is PositionSide.SHORT
    assert second.quantity == pytest.approx(0.005) and first.contract_type is ContractType.INVERSE


def test_legacy_v5_liquidation_snapshot_linear():
    # liquidation.GALAUSDT (2023): side Buy → long, size 1637 GALA × 0.03803
    [liq] = parse(frame("liquidations", 6))
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "Buy"
    assert liq.quantity == 1637.0 and liq.notional_usd == pytest.approx(62.25511)
    assert liq.ts_event == 1673251091822 * MS


def test_legacy_v5_liquidation_snapshot_inverse():
    # liquidation.XRPUSD: 6949 USD contracts at 0.5149 → 13 495.82 XRP
    [liq] = parse(frame("liquidations", 7))
    assert liq.position_side is PositionSide.SHORT
    assert liq.notional_usd == 6949.0 and liq.contracts == 6949.0
    assert liq.quantity == pytest.approx(6949 / 0.5149) and liq.quantity == pytest.approx(13495.8244, rel=1e-8)
    assert liq.ts_event == 1680673944093 * MS


def test_pre_v5_qty_shapes():
    [eth] = parse(frame("liquidations", 3))  # ETHUSD inverse: qty 3655 USD at 3384.15
    assert eth.notional_usd == 3655.0 and eth.quantity == pytest.approx(1.080034868)
    assert eth.ts_event == 1631608881954 * MS and eth.position_side is PositionSide.SHORT
    [btc] = parse(frame("liquidations", 5))  # BTCUSDT linear: qty 0.009 BTC at 45 212.5
    assert btc.quantity == 0.009 and btc.notional_usd == pytest.approx(406.9125)


def test_generated_rest_lines_carry_ids_and_the_big_long_liquidation():
    # the 2021-09-20 sell-off: 1 257 079 USD of BTCUSD longs at 44 662.5 → 28.146 BTC
    big, *rest = parse(frame("liquidations", 2))
    assert len(rest) == 2
    assert big.position_side is PositionSide.LONG and big.venue_event_id == "10759329"
    assert big.notional_usd == 1257079.0 and big.quantity == pytest.approx(28.14618528, rel=1e-9)
    assert big.ts_event == 1632123292903 * MS


def test_every_recorded_liquidation_line_yields_events():
    total = 0
    for rec in read_recording(recorded_dir() / "BYBIT.liquidations.jsonl"):
        assert not isinstance(rec, Exception)
        events = bybit.parse_frame(rec.frame, INDEX, 1)
        assert events and all(isinstance(e, Liquidation) for e in events)
        total += len(events)
    assert total == 10


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"topic":"allLiquidation.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Long","v":"1","p":"2"}]}', ParseError),
        ('{"topic":"allLiquidation.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0","p":"2"}]}', ParseError),
        ('{"topic":"allLiquidation.BTCUSDT","data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"x","p":"2"}]}', ParseError),
        ('{"topic":"allLiquidation.BTCUSDT","data":{"T":1}}', ParseError),
        ('{"topic":"allLiquidation.NOPEUSDT","data":[{"T":1,"s":"NOPEUSDT","S":"Buy","v":"1","p":"2"}]}', UnknownInstrument),
        ('{"topic":"liquidation.BTCUSDT","data":{"symbol":"BTCUSDT","side":"Buy","price":"1"}}', ParseError),
        ('{"topic":"publicTrade.BTCUSDT","data":[]}', UnknownMessage),
        ('{"topic":"tickers.BTCUSDT","data":{"symbol":"BTCUSDT","markPrice":"abc"}}', ParseError),
        ('{"topic":"kline.1.BTCUSDT","data":[{"start":1}]}', ParseError),
        ('{"ret_code":0,"result":[]}', UnknownMessage),
        ('{"success":false,"ret_msg":"error:handler not found","op":"subscribe"}', SubscribeRejected),
        ('{"success":false,"ret_msg":"error:unknown op","op":"unsubscribe"}', ParseError),
    ],
)
def test_bad_frames_raise_contract_errors(raw, error):
    with pytest.raises(error):
        parse(raw)


def test_control_frames_yield_nothing():
    assert parse('{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}') == []
    assert parse('{"req_id":"t","op":"pong","args":["1675418560633"],"conn_id":"c"}') == []
    assert parse('{"success":true,"ret_msg":"","conn_id":"c","req_id":"linear-0-0","op":"subscribe"}') == []


# --- tickers: open interest and mark price --------------------------------------------------------


def test_linear_snapshot_uses_single_open_interest():
    # tickers.BTCUSDT snapshot 2026-08-09: openInterest 59 891.732 (both sides), singleOpenInterest 29 945.866
    oi, mark = parse(frame("tickers", 1), ts_recv=5)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.open_interest == 29945.866 and not oi.raw_two_sided and oi.raw_unit is OpenInterestUnit.BASE
    assert oi.open_interest_usd == 1949998132.50  # singleOpenInterestValue
    assert oi.open_interest_usd == pytest.approx(29945.866 * 65117.44, rel=1e-9)
    assert oi.reference_price == 65117.44 and oi.origin is Origin.STREAM
    assert oi.ts_event == 1786310817583 * MS and oi.ts_recv == 5
    assert mark.mark_price == 65117.44 and mark.index_price == 65137.76 and mark.funding_rate == 0.0001
    assert mark.funding_interval_s == 8 * 3600 and mark.ts_next_funding == 1786320000000 * MS


def test_open_interest_is_twice_single_open_interest_in_the_2026_recording():
    # Exact for BTCUSDT (59 891.732 = 2 × 29 945.866); other symbols round the single side to the same
    # number of decimals, so openInterest − 2 × single is at most one unit of that last decimal.
    pairs = 0
    exact = set()
    for rec in read_recording(recorded_dir() / "BYBIT.tickers.jsonl"):
        assert not isinstance(rec, Exception)
        msg = json.loads(rec.frame)
        data = msg.get("data")
        if not isinstance(data, dict) or "singleOpenInterest" not in data or "openInterest" not in data:
            continue
        total, single = Decimal(data["openInterest"]), Decimal(data["singleOpenInterest"])
        unit = Decimal(1).scaleb(int(single.as_tuple().exponent))
        assert abs(total - 2 * single) <= unit, (data["symbol"], total, single)
        if total == 2 * single:
            exact.add(data["symbol"])
        pairs += 1
    assert pairs == 20 and "BTCUSDT" in exact


def test_delta_with_open_interest_and_no_mark_uses_the_implied_valuation_price():
    # line 123, ETHUSDT delta: single 415 044.63 ETH, singleOpenInterestValue 797 952 354.30, no markPrice
    events = parse(frame("tickers", 123))
    [oi] = [e for e in events if isinstance(e, OpenInterest)]
    assert oi.open_interest == 415044.63 and oi.open_interest_usd == 797952354.30
    assert oi.reference_price == pytest.approx(797952354.30 / 415044.63)


def test_pre_single_open_interest_linear_frame_is_halved():
    # tickers.BTCUSDT 2023 (tardis): openInterest 52 774.528 BTC, openInterestValue 1 506 861 070.82, both sides
    [oi, mark] = parse(frame("tickers", 855))
    assert oi.raw_two_sided and oi.raw_value == 52774.528
    assert oi.open_interest == pytest.approx(26387.264) and oi.open_interest_usd == pytest.approx(753430535.41)
    assert mark.funding_interval_s is None  # that frame has no fundingIntervalHour


def test_inverse_open_interest_is_usd():
    # tickers.BTCUSD 2023: openInterest 449 736 676 USD (both sides) at mark 28 560 → 7 873.54 BTC per side,
    # which matches the frame's own openInterestValue 15 747.08 BTC / 2.
    oi, _ = parse(frame("tickers", 851))
    assert oi.raw_unit is OpenInterestUnit.USD and oi.raw_two_sided
    assert oi.open_interest_usd == 224868338.0
    assert oi.open_interest == pytest.approx(449736676 / 2 / 28560) and oi.open_interest == pytest.approx(15747.08 / 2, rel=1e-6)


def test_inverse_delta_without_prices_falls_back_to_mid_quote():
    # tickers.BTCUSD delta: openInterest 449 736 674 only; bid 28 560.00 / ask 28 560.50
    oi, mark = parse(frame("tickers", 852))
    assert oi.reference_price == 28560.25 and oi.open_interest == pytest.approx(449736674 / 2 / 28560.25)
    assert mark.mark_price is None and mark.funding_rate == 0.0001


def test_inverse_future_has_empty_funding_fields():
    # tickers.BTCUSDU23: fundingRate "" and nextFundingTime "" (a dated future)
    oi, mark = parse(frame("tickers", 853))
    assert oi.market == "BTC-USD-230929" and oi.open_interest_usd == 4547176 / 2
    assert mark.funding_rate is None and mark.ts_next_funding is None and mark.mark_price == 29023.6


def test_deltas_without_oi_or_mark_fields_yield_nothing_and_spot_tickers_are_skipped():
    assert parse(frame("tickers", 2)) == []  # bid/ask only
    spot = next(
        rec.frame
        for rec in read_recording(recorded_dir() / "BYBIT.tickers.jsonl")
        if not isinstance(rec, Exception) and b"usdIndexPrice" in rec.frame
    )
    with pytest.raises(UnknownMessage):
        parse(spot)


# --- candles -------------------------------------------------------------------------------------


def test_linear_kline():
    # kline.1.BTCUSDT: start 1786310760000, O 65119.9 H 65119.9 L 65114.2 C 65114.3, 1.576 BTC, 102 627.995 USDT
    [c] = parse(frame("klines", 1))
    assert isinstance(c, Candle)
    assert c.ts_event == 1786310760000 * MS and c.interval_s == 60
    assert (c.open, c.high, c.low, c.close) == (65119.9, 65119.9, 65114.2, 65114.3)
    assert c.volume == 1.576 and c.volume_usd == 102627.995 and not c.closed


def test_inverse_kline_volume_is_usd_and_turnover_is_coin():
    raw = '{"topic":"kline.1.BTCUSD","data":[{"start":60000,"end":119999,"interval":"1","open":"1","close":"1","high":"1","low":"1","volume":"30000","turnover":"1.5","confirm":true,"timestamp":1}],"ts":1,"type":"snapshot"}'
    [c] = parse(raw)
    assert c.volume == 1.5 and c.volume_usd == 30000.0 and c.closed


# --- REST ----------------------------------------------------------------------------------------


def test_instruments_parse_linear_and_dated_futures():
    btc = INDEX.get("bybit", "BTCUSDT")
    assert btc is not None and btc.category == "linear" and btc.contract_size == 1.0 and btc.settle == "USDT"
    future = INDEX.get("bybit", "BTCUSDT-14AUG26")
    assert future is not None and future.kind is InstrumentKind.FUTURE and future.market == "BTC-USDT-260814"
    assert future.ts_expiry == 1786694400000 * MS
    assert len([i for i in INDEX if i.venue == "bybit" and i.category == "linear"]) == 800


def test_inverse_instruments_response():
    body = {
        "retCode": 0,
        "result": {
            "category": "inverse",
            "list": [
                {"symbol": "BTCUSD", "contractType": "InversePerpetual", "status": "Trading", "baseCoin": "BTC",
                 "quoteCoin": "USD", "settleCoin": "BTC", "deliveryTime": "0"},
                {"symbol": "BTCUSDZ26", "contractType": "InverseFutures", "status": "Trading", "baseCoin": "BTC",
                 "quoteCoin": "USD", "settleCoin": "BTC", "deliveryTime": "1798790400000"},
            ],
        },
    }
    perp, future = bybit.parse_instruments(msgspec.json.encode(body))
    assert perp.contract_type is ContractType.INVERSE and perp.category == "inverse" and perp.market == "BTC-USD-PERP"
    assert future.kind is InstrumentKind.FUTURE and future.ts_expiry == 1798790400000 * MS


def test_instrument_requests_cover_both_categories():
    params = [dict(r.params)["category"] for r in bybit.instrument_requests()]
    assert params == ["linear", "inverse"]


def test_rest_open_interest_is_two_sided():
    body = b'{"retCode":0,"retMsg":"OK","result":{"symbol":"BTCUSDT","category":"linear","list":[{"openInterest":"1000.5","timestamp":"1669571400000"}],"nextPageCursor":""},"retExtInfo":{},"time":1}'
    [oi] = bybit.parse_poll("open_interest", body, INDEX, 3)
    assert oi.origin is Origin.POLL and oi.raw_two_sided and oi.open_interest == 500.25
    assert oi.ts_event == 1669571400000 * MS
    assert bybit.poll_requests(list(INDEX)) == []


def test_v2_rest_open_interest_lines_are_skipped():
    with pytest.raises(UnknownMessage):
        parse(frame("open_interest", 1))


# --- connections ---------------------------------------------------------------------------------


def test_ws_connections_split_by_category_and_cap_args():
    instruments = list(INDEX)
    conns = bybit.ws_connections(instruments, frozenset(Channel), bybit.SPEC.ws_url)
    linear = [c for c in conns if c.url.endswith("/linear")]
    inverse = [c for c in conns if c.url.endswith("/inverse")]
    assert inverse and inverse[0].url == "wss://stream.bybit.com/v5/public/inverse"
    topics = []
    for conn in conns:
        args = [a for m in conn.subscribe for a in msgspec.json.decode(m)["args"]]
        assert len(args) <= bybit.SPEC.max_streams_per_connection
        assert sum(len(a) + 3 for a in args) <= 21_000
        for m in conn.subscribe:
            msg = msgspec.json.decode(m)
            assert msg["op"] == "subscribe" and 1 <= len(msg["args"]) <= 10
        topics.extend(args)
    assert len(topics) == len(set(topics)) == 3 * len(instruments)
    assert {"allLiquidation.BTCUSDT", "tickers.BTCUSDT", "kline.1.BTCUSDT"} <= set(topics)
    inverse_topics = {a for c in inverse for m in c.subscribe for a in msgspec.json.decode(m)["args"]}
    assert "allLiquidation.BTCUSD" in inverse_topics and not any(t.endswith("USDT") for t in inverse_topics)
    assert math.ceil(3 * 800 / 200) == len(linear)


def test_heartbeat_is_op_ping():
    assert msgspec.json.decode(bybit.heartbeat(0) or b"") == {"op": "ping"}
    assert bybit.SPEC.heartbeat_interval_s == 20.0
    assert bybit.reply_to(b'{"op":"ping"}') is None
