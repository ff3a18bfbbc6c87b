"""OKX v5: hand-computed numbers on the real recorded frames (tests/data/recorded/OKX.*.jsonl)."""

from __future__ import annotations

import json
import math

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
from liqwatch.venues import okx

MS = 1_000_000
INDEX = instruments_for("okx")


def frame(family: str, line: int) -> bytes:
    """Return the recorded frame on `line` of OKX.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"OKX.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def parse(raw: bytes | str, ts_recv: int = 7) -> list:
    return okx.parse_frame(raw.encode() if isinstance(raw, str) else raw, INDEX, ts_recv)


# --- liquidations ---------------------------------------------------------------------------------


def test_inverse_future_liquidation_from_the_ws_channel():
    # XRP-USD-230929: posSide short, side buy, sz 39 contracts × 10 USD, bkPx 0.55205
    [liq] = parse(frame("liquidations", 5))
    assert isinstance(liq, Liquidation)
    assert liq.symbol == "XRP-USD-230929" and liq.market == "XRP-USD-230929" and liq.coin == "XRP"
    assert liq.position_side is PositionSide.SHORT and liq.venue_side == "buy"
    assert liq.price == 0.55205 and liq.price_kind is PriceKind.BANKRUPTCY
    assert liq.contracts == 39
    assert liq.notional_usd == pytest.approx(390.0)
    assert liq.quantity == pytest.approx(390.0 / 0.55205)  # 706.4577… XRP
    assert liq.contract_type is ContractType.INVERSE
    assert liq.ts_event == 1_680_173_247_614 * MS and liq.ts_recv == 7


def test_linear_future_liquidation_from_tardis_generated_rest_line():
    # BTC-USDT-211231: 40 contracts × 0.01 BTC = 0.4 BTC at 49674.2 = 19869.68 USD
    [liq] = parse(frame("liquidations", 4))
    assert liq.symbol == "BTC-USDT-211231" and liq.position_side is PositionSide.SHORT
    assert liq.quantity == pytest.approx(0.4) and liq.notional_usd == pytest.approx(19_869.68)
    assert liq.contract_type is ContractType.LINEAR
    assert liq.ts_event == 1_640_140_211_925 * MS


def test_inverse_quarterly_liquidation_from_tardis_generated_rest_line():
    # BTC-USD-220624: 12 contracts × 100 USD = 1200 USD; base = 1200 / 51886.2
    [liq] = parse(frame("liquidations", 3))
    assert liq.notional_usd == pytest.approx(1200.0)
    assert liq.quantity == pytest.approx(0.023127536801693)
    assert liq.venue_event_id == "BTC-USD-220624|1640140210617|buy|short|12.0|51886.2"


@pytest.mark.parametrize("line", [1, 2])
def test_v3_futures_liquidation_table_is_not_supported(line):
    with pytest.raises(UnknownMessage, match="v3"):
        parse(frame("liquidations", line))


def _push(details: list[dict[str, str]], inst_id: str = "BTC-USDT-SWAP") -> dict[str, object]:
    return {"details": details, "instFamily": inst_id[:-5], "instId": inst_id, "instType": "SWAP"}


def _detail(
    side: str, pos_side: str, sz: str = "3", px: str = "30000", ts: str = "1652459223003"
) -> dict[str, str]:
    return {"bkLoss": "0", "bkPx": px, "ccy": "", "posSide": pos_side, "side": side, "sz": sz, "ts": ts}


@pytest.mark.parametrize(
    ("side", "pos_side", "expected"),
    [
        ("sell", "net", PositionSide.LONG),
        ("buy", "net", PositionSide.SHORT),
        ("sell", "long", PositionSide.LONG),
        ("buy", "short", PositionSide.SHORT),
    ],
)
def test_position_side_from_pos_side_or_from_the_order_side_when_net(side, pos_side, expected):
    msg = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [_push([_detail(side, pos_side)])],
    }
    [liq] = parse(json.dumps(msg))
    assert liq.position_side is expected and liq.venue_side == side


def test_one_push_with_several_instruments_and_details():
    msg = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [
            _push([_detail("sell", "net", sz="2"), _detail("buy", "net", sz="5", px="30100")]),
            _push([_detail("sell", "long", sz="7", px="2000")], "ETH-USD-SWAP"),
        ],
    }
    a, b, c = parse(json.dumps(msg))
    assert (a.quantity, a.notional_usd) == (pytest.approx(0.02), pytest.approx(600.0))  # 2 × 0.01 BTC × 30000
    assert (b.quantity, b.notional_usd) == (pytest.approx(0.05), pytest.approx(1505.0))
    assert c.symbol == "ETH-USD-SWAP" and c.notional_usd == pytest.approx(70.0)  # 7 × 10 USD
    assert c.quantity == pytest.approx(0.035)
    assert a.venue_event_id != b.venue_event_id


def test_rest_liquidation_orders_body_in_parse_frame_and_parse_poll():
    body = json.dumps(
        {"code": "0", "msg": "", "data": [_push([_detail("sell", "net", sz="10", px="29000")])]}
    )
    [liq] = parse(body)
    assert liq.position_side is PositionSide.LONG and liq.notional_usd == pytest.approx(2900.0)
    assert okx.parse_poll("liquidations", body.encode(), INDEX, 1)[0].notional_usd == pytest.approx(2900.0)


def test_resent_push_gets_the_same_event_id():
    msg = json.dumps(
        {
            "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [_push([_detail("buy", "net")])],
        }
    )
    assert parse(msg, 1)[0].venue_event_id == parse(msg, 2)[0].venue_event_id


@pytest.mark.parametrize(("sz", "px"), [("0", "30000"), ("3", "-1"), ("3", "abc")])
def test_bad_size_or_price_is_a_parse_error(sz, px):
    msg = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [_push([_detail("buy", "net", sz, px)])],
    }
    with pytest.raises(ParseError):
        parse(json.dumps(msg))


def test_unknown_symbol_raises_unknown_instrument():
    msg = {
        "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
        "data": [_push([_detail("buy", "net")], "NOPE-USDT-SWAP")],
    }
    with pytest.raises(UnknownInstrument):
        parse(json.dumps(msg))


# --- open interest --------------------------------------------------------------------------------


def test_open_interest_stream_linear_future():
    # FIL-USDT-220325: oi 236870 contracts × 0.1 FIL = oiCcy 23687 FIL, one-sided
    [oi] = parse(frame("open_interest", 1))
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == 23_687.0 == 236_870 * 0.1
    assert oi.open_interest_usd is None  # no oiUsd and no price in the frame
    assert (oi.raw_value, oi.raw_unit, oi.raw_two_sided) == (23_687.0, OpenInterestUnit.BASE, False)
    assert oi.origin is Origin.STREAM and oi.ts_event == 1_640_131_202_886 * MS


def test_open_interest_rest_body_inverse_swap():
    # BTC-USD-SWAP: 4092973 contracts × 100 USD = 409,297,300 USD; oiCcy 13840.0488… BTC
    btc, eth = parse(frame("open_interest", 6))
    assert btc.symbol == "BTC-USD-SWAP" and eth.symbol == "ETH-USD-SWAP"
    assert btc.open_interest == pytest.approx(13_840.048827662697)
    assert btc.open_interest_usd == pytest.approx(409_297_300.0)
    assert eth.open_interest_usd == pytest.approx(217_952_460.0)  # 21795246 × 10 USD
    assert btc.origin is Origin.POLL and btc.ts_event == 1_654_348_683_853 * MS
    polled = okx.parse_poll("open_interest", frame("open_interest", 6), INDEX, 7)
    assert polled == [btc, eth]


def test_open_interest_uses_oi_usd_when_present():
    msg = {
        "arg": {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "oi": "200",
                "oiCcy": "2",
                "oiUsd": "60000",
                "ts": "1",
            }
        ],
    }
    [oi] = parse(json.dumps(msg))
    assert (oi.open_interest, oi.open_interest_usd) == (2.0, 60_000.0)


# --- mark price, funding, candles -----------------------------------------------------------------


def test_mark_price():
    [mark] = parse(frame("tickers", 48))
    assert isinstance(mark, MarkPrice)
    assert mark.symbol == "WNCG-USDT-SWAP" and mark.mark_price == 2.1729
    assert mark.ts_event == 1_640_131_259_180 * MS


def test_funding_rate_gives_next_funding_time():
    [fund] = parse(frame("tickers", 57))
    assert fund.symbol == "BTC-USDT-SWAP" and fund.funding_rate == pytest.approx(0.0001534702159002)
    assert fund.ts_next_funding == 1_646_323_200_000 * MS and fund.mark_price is None


def test_funding_interval_from_next_funding_time():
    row = {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "fundingTime": "1700000000000",
           "nextFundingTime": "1700028800000", "ts": "1699990000000"}  # fmt: skip
    [fund] = parse(json.dumps({"arg": {"channel": "funding-rate", "instId": "BTC-USDT-SWAP"}, "data": [row]}))
    assert fund.funding_interval_s == 8 * 3600 and fund.ts_event == 1_699_990_000_000 * MS


def test_inverse_candle():
    # BTC-USD-220624: vol 166 contracts × 100 USD = 16600 USD; volCcy 0.554 BTC
    [bar] = parse(frame("klines", 1))
    assert isinstance(bar, Candle)
    assert (bar.open, bar.high, bar.low, bar.close) == (29_901.6, 29_921.2, 29_901.6, 29_921.2)
    assert bar.volume == 0.554 and bar.volume_usd == 16_600.0 and bar.interval_s == 60
    assert bar.ts_event == 1_654_154_580_000 * MS


def test_linear_candle_with_quote_volume_and_confirm():
    [old] = parse(frame("klines", 4))
    assert old.volume == pytest.approx(4070 * 0.01) and old.volume_usd is None  # 2022 rows had no volCcyQuote
    row = ["1700000000000", "100", "110", "90", "105", "50", "0.5", "52.5", "1"]
    [bar] = parse(json.dumps({"arg": {"channel": "candle1m", "instId": "BTC-USDT-SWAP"}, "data": [row]}))
    assert bar.closed is True and bar.volume == 0.5 and bar.volume_usd == 52.5
    [rest] = okx.parse_poll(
        "candles:BTC-USDT-SWAP", json.dumps({"code": "0", "msg": "", "data": [row]}).encode(), INDEX, 1
    )
    assert rest == msgspec.structs.replace(bar, ts_recv=1)


# --- control frames, errors -----------------------------------------------------------------------


def test_control_frames():
    assert parse(b"pong") == []
    assert (
        parse('{"event":"subscribe","arg":{"channel":"liquidation-orders","instType":"SWAP"},"connId":"a"}')
        == []
    )
    with pytest.raises(SubscribeRejected, match="60012: Invalid request"):
        parse('{"event":"error","code":"60012","msg":"Invalid request","connId":"a"}')
    with pytest.raises(ParseError, match="51001"):
        parse('{"code":"51001","msg":"Instrument ID does not exist","data":[]}')
    with pytest.raises(UnknownMessage):
        parse(frame("tickers", 1))  # tickers channel: not used


# --- instruments, connections ---------------------------------------------------------------------


def test_parse_instruments():
    lines = [rec.frame for rec in read_recording(recorded_dir() / "OKX.rest_instruments.jsonl")]
    swaps, futures = (okx.parse_instruments(f) for f in lines)
    by = {i.symbol: i for i in swaps + futures}
    assert (
        by["BTC-USDT-SWAP"].contract_type is ContractType.LINEAR and by["BTC-USDT-SWAP"].contract_size == 0.01
    )
    assert by["BTC-USDT-SWAP"].market == "BTC-USDT-PERP" and by["BTC-USDT-SWAP"].category == "SWAP"
    inv = by["BTC-USD-220624"]
    assert inv.contract_type is ContractType.INVERSE and inv.contract_size == 100.0 and inv.settle == "BTC"
    assert (
        inv.kind is InstrumentKind.FUTURE
        and inv.ts_expiry == 1_656_057_600_000 * MS
        and inv.category == "FUTURES"
    )
    assert by["DOGE-USDT-SWAP"].contract_size == 1000.0


def test_ws_connections_respect_limits_and_route_candles_to_business():
    insts = list(INDEX)
    conns = okx.ws_connections(insts, okx.SPEC.channels, okx.SPEC.ws_url)
    public = [c for c in conns if c.url == "wss://ws.okx.com/ws/v5/public"]
    business = [c for c in conns if c.url == "wss://ws.okx.com/ws/v5/business"]
    assert len(public) + len(business) == len(conns)
    args_by_conn = [[a for m in c.subscribe for a in json.loads(m)["args"]] for c in conns]
    assert all(len(m) <= okx.MAX_SUBSCRIBE_BYTES for c in conns for m in c.subscribe)
    assert all(len(a) <= okx.SPEC.max_streams_per_connection for a in args_by_conn)
    assert all(json.loads(m)["op"] == "subscribe" for c in conns for m in c.subscribe)
    pub_args = [a for c in public for m in c.subscribe for a in json.loads(m)["args"]]
    bus_args = [a for c in business for m in c.subscribe for a in json.loads(m)["args"]]
    assert {"channel": "liquidation-orders", "instType": "SWAP"} in pub_args
    assert {"channel": "liquidation-orders", "instType": "FUTURES"} in pub_args
    assert sorted(a["instId"] for a in bus_args) == sorted(i.symbol for i in insts)
    assert all(a["channel"] == "candle1m" for a in bus_args)
    assert sum(a["channel"] == "open-interest" for a in pub_args) == len(insts)
    assert sum(a["channel"] == "funding-rate" for a in pub_args) == sum(i.category == "SWAP" for i in insts)
    only_liq = okx.ws_connections(insts, frozenset({Channel.LIQUIDATIONS}), okx.SPEC.ws_url)
    assert len(only_liq) == 1 and len(only_liq[0].subscribe) == 1


def test_default_urls_are_port_443_and_the_api_host():
    # Issue 16: OKX stopped accepting port 8443 on 2026-10-31; port 443 serves the same protocol.
    assert okx.SPEC.ws_url == "wss://ws.okx.com/ws/v5/public"
    assert okx.SPEC.rest_url == "https://openapi.okx.com"
    conns = okx.ws_connections(list(INDEX), okx.SPEC.channels, okx.SPEC.ws_url)
    urls = {c.url for c in conns}
    assert urls == {"wss://ws.okx.com/ws/v5/public", "wss://ws.okx.com/ws/v5/business"}
    assert not any(":8443" in u for u in urls)
    candle_conns = [c for c in conns if any(b"candle1m" in m for m in c.subscribe)]
    assert candle_conns and all(c.url == "wss://ws.okx.com/ws/v5/business" for c in candle_conns)


@pytest.mark.parametrize(
    ("public", "business"),
    [
        ("ws://127.0.0.1:8123/okx/ws/v5/public", "ws://127.0.0.1:8123/okx/ws/v5/business"),
        ("wss://public-proxy.example/ws/v5/public/", "wss://public-proxy.example/ws/v5/business"),
        ("wss://wspap.okx.com/ws/v5/public?brokerId=9999", "wss://wspap.okx.com/ws/v5/business?brokerId=9999"),
    ],
)
def test_an_override_keeps_its_host_and_gets_its_business_url_beside_it(public: str, business: str):
    conns = okx.ws_connections(list(INDEX), okx.SPEC.channels, public)
    assert {c.url for c in conns} == {public, business}
    assert okx.business_url(public) == business


def test_heartbeat_and_spec():
    assert okx.heartbeat(0) == b"ping" and okx.reply_to(b"ping") is None
    assert okx.SPEC.heartbeat_interval_s is not None and okx.SPEC.heartbeat_interval_s < 30
    assert okx.SPEC.oi_origin is Origin.STREAM and not okx.SPEC.liquidations_complete
    assert math.isclose(okx.SPEC.stale_after_s, 60.0)
