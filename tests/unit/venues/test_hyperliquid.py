"""Hyperliquid: hand-computed numbers on the real recorded frames (tests/data/recorded/HYPERLIQUID.*.jsonl)."""

from __future__ import annotations

import json
import math

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import (
    SubscribeRejected,
    UnknownInstrument,
    UnknownInstruments,
    UnknownMessage,
)
from liqwatch.model import Channel, ContractType, MarkPrice, OpenInterest, OpenInterestUnit, Origin
from liqwatch.venues import hyperliquid as hl

INDEX = instruments_for("hyperliquid")


def frame(family: str, line: int = 1) -> bytes:
    """Return the recorded frame on `line` of HYPERLIQUID.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"HYPERLIQUID.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def test_active_asset_ctx_open_interest_and_mark():
    # MOODENG: openInterest 18617460.0 coin, markPx 0.19963, oraclePx 0.1995, funding 0.00004863
    oi, mark = hl.parse_frame(frame("tickers"), INDEX, 11)
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.open_interest == 18617460.0 and oi.raw_unit is OpenInterestUnit.BASE and not oi.raw_two_sided
    assert math.isclose(oi.open_interest_usd or 0, 3716603.5398)  # 18617460 × 0.19963
    assert oi.reference_price == 0.19963 and oi.origin is Origin.STREAM and oi.ts_event == 11
    assert mark.mark_price == 0.19963 and mark.index_price == 0.1995
    assert mark.funding_rate == 0.00004863 and mark.funding_interval_s == 3600


def test_trades_pong_and_acks_yield_nothing():
    for line in (1, 2, 3, 4):
        assert hl.parse_frame(frame("trades", line), INDEX, 0) == []
    assert hl.parse_frame(b'{"channel":"pong"}', INDEX, 0) == []
    assert hl.parse_frame(b'{"channel":"subscriptionResponse","data":{"method":"subscribe"}}', INDEX, 0) == []


def test_errors():
    with pytest.raises(UnknownMessage):
        hl.parse_frame(b'{"channel":"l2Book","data":{}}', INDEX, 0)
    with pytest.raises(SubscribeRejected, match="Invalid subscription"):
        hl.parse_frame(b'{"channel":"error","data":"Invalid subscription"}', INDEX, 0)
    with pytest.raises(UnknownInstrument):
        hl.parse_frame(frame("tickers").replace(b"MOODENG", b"NOPE"), INDEX, 0)


def test_meta_and_asset_ctxs_poll():
    ctx = json.loads(frame("tickers"))["data"]["ctx"]
    btc = dict(ctx, openInterest="9942.2624", markPx="107043.0", oraclePx="106956.0", funding="0.00003094")
    body = [{"universe": [{"name": "BTC", "szDecimals": 5}, {"name": "NEWCOIN", "szDecimals": 0}]}, [btc, ctx]]
    [req] = hl.poll_requests([])
    assert req.method == "POST" and json.loads(req.body or b"") == {"type": "metaAndAssetCtxs"}
    with pytest.raises(UnknownInstruments) as raised:  # NEWCOIN is not loaded: counted, BTC kept
        hl.parse_poll(req.tag, json.dumps(body).encode(), INDEX, 3)
    assert raised.value.symbols == ("NEWCOIN",)
    oi, mark = raised.value.events
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.symbol == "BTC" and oi.open_interest == 9942.2624 and oi.origin is Origin.POLL
    assert math.isclose(oi.open_interest_usd or 0, 9942.2624 * 107043.0)
    assert mark.funding_rate == 0.00003094


def test_instruments_subscriptions_and_ping():
    [req] = hl.instrument_requests()
    assert req.method == "POST" and json.loads(req.body or b"") == {"type": "meta"}
    [btc] = hl.parse_instruments(b'{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":40}]}')
    assert btc.contract_type is ContractType.LINEAR and btc.contract_size == 1.0 and btc.market == "BTC-USDC-PERP"
    [conn] = hl.ws_connections([btc], frozenset(Channel), hl.SPEC.ws_url)
    assert [json.loads(m) for m in conn.subscribe] == [
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}}
    ]
    assert json.loads(hl.heartbeat(0) or b"") == {"method": "ping"}
    assert Channel.LIQUIDATIONS not in hl.SPEC.channels and "no public market-wide liquidation feed" in hl.SPEC.coverage_note
