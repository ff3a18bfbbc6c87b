"""dYdX v4: hand-computed numbers on the real recorded frames (tests/data/recorded/DYDX_V4.*.jsonl)."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from golden import instruments_for, recorded_dir
from liqwatch.capture.format import read_recording
from liqwatch.errors import (
    SubscribeRejected,
    UnknownInstrument,
    UnknownInstruments,
    UnknownMessage,
)
from liqwatch.model import (
    Channel,
    ContractType,
    Instrument,
    Liquidation,
    MarkPrice,
    OpenInterest,
    OpenInterestUnit,
    PositionSide,
    PriceKind,
)
from liqwatch.venues import WsConnection, dydx

INDEX = instruments_for("dydx")


def frame(family: str, line: int = 1) -> bytes:
    """Return the recorded frame on `line` of DYDX_V4.<family>.jsonl."""
    for rec in read_recording(recorded_dir() / f"DYDX_V4.{family}.jsonl"):
        if not isinstance(rec, Exception) and rec.line_no == line:
            return rec.frame
    raise LookupError(line)


def test_liquidated_sell_is_a_long_and_limit_fills_are_skipped():
    # trades: LIMIT BUY 0.002 @ 60397 (skipped); LIQUIDATED SELL 3.9 @ 22.87, createdAt 2024-08-04T07:34:50.628Z
    [liq] = dydx.parse_frame(frame("liquidations"), INDEX, 5)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.LONG and liq.venue_side == "SELL"
    assert liq.symbol == "BTC-USD" and liq.contract_type is ContractType.LINEAR
    assert liq.quantity == 3.9 and liq.contracts == 3.9 and liq.price == 22.87
    assert math.isclose(liq.notional_usd, 89.193)  # 3.9 × 22.87
    assert liq.price_kind is PriceKind.FILL
    assert liq.ts_event == 1_722_756_890_628_000_000 and liq.ts_recv == 5
    assert liq.venue_event_id == "014f495a0000000200000005"


def test_subscribed_snapshot_batches_buy_side_and_deleveraged():
    trades = [
        {"id": "a1", "side": "BUY", "size": "0.5", "price": "60000", "type": "LIQUIDATED", "createdAt": "2024-08-22T00:00:01.000Z"},
        {"id": "a2", "side": "SELL", "size": "1", "price": "60000", "type": "DELEVERAGED", "createdAt": "2024-08-22T00:00:02.000Z"},
    ]
    sub = {"type": "subscribed", "connection_id": "c", "message_id": 1, "channel": "v4_trades", "id": "BTC-USD",
           "contents": {"trades": trades}}
    [liq] = dydx.parse_frame(json.dumps(sub).encode(), INDEX, 0)
    assert isinstance(liq, Liquidation)
    assert liq.position_side is PositionSide.SHORT and liq.notional_usd == 30000.0 and liq.venue_event_id == "a1"
    batch = dict(sub, type="channel_batch_data", contents=[{"trades": trades[:1]}, {"trades": trades}])
    assert len(dydx.parse_frame(json.dumps(batch).encode(), INDEX, 0)) == 2


def test_markets_open_interest_is_one_sided_base():
    # v4_markets trading: {"ETH-USD": {"openInterest": "15398.406"}}
    [oi] = dydx.parse_frame(frame("tickers", 1), INDEX, 9)
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == 15398.406 and oi.raw_unit is OpenInterestUnit.BASE and not oi.raw_two_sided
    assert oi.open_interest_usd is None and oi.ts_event == 9


def test_markets_oracle_price_and_funding():
    # oraclePrices: ETH-USD 2623.3521 effectiveAt 2024-08-23T00:00:54.301Z
    [mark] = dydx.parse_frame(frame("tickers", 2), INDEX, 0)
    assert isinstance(mark, MarkPrice)
    assert mark.mark_price == 2623.3521 and mark.ts_event == 1_724_371_254_301_000_000
    upd = {"type": "channel_data", "channel": "v4_markets", "contents": {"trading": {
        "ETH-USD": {"openInterest": "100", "oraclePrice": "2500", "nextFundingRate": "0.00001"},
        "NEW-USD": {"openInterest": "1"}}}}
    with pytest.raises(UnknownInstruments) as raised:  # NEW-USD is not loaded: counted, ETH-USD kept
        dydx.parse_frame(json.dumps(upd).encode(), INDEX, 0)
    assert raised.value.symbols == ("NEW-USD",)
    oi, mark = raised.value.events
    assert isinstance(oi, OpenInterest) and isinstance(mark, MarkPrice)
    assert oi.open_interest_usd == 250000.0  # 100 ETH × 2500
    assert mark.funding_rate == 0.00001 and mark.funding_interval_s == 3600


def test_control_and_errors():
    assert dydx.parse_frame(b'{"type":"connected","connection_id":"x","message_id":0}', INDEX, 0) == []
    assert dydx.parse_frame(frame("trades"), INDEX, 0) == []
    with pytest.raises(SubscribeRejected, match="Invalid subscribe message"):
        dydx.parse_frame(b'{"type":"error","message":"Invalid subscribe message"}', INDEX, 0)
    with pytest.raises(UnknownMessage):
        dydx.parse_frame(b'{"type":"channel_data","channel":"v4_orderbook","id":"BTC-USD","contents":{}}', INDEX, 0)
    with pytest.raises(UnknownInstrument):
        dydx.parse_frame(frame("liquidations").replace(b'"id":"BTC-USD"', b'"id":"NOPE-USD"'), INDEX, 0)
    with pytest.raises(UnknownInstrument):
        dydx.parse_frame(frame("tickers", 1).replace(b"ETH-USD", b"NOPE-USD"), INDEX, 0)


def test_instruments_and_subscriptions():
    body = {"markets": {"BTC-USD": {"clobPairId": "0", "ticker": "BTC-USD", "status": "ACTIVE", "oraclePrice": "60000",
                                    "openInterest": "500", "atomicResolution": -10, "stepSize": "0.0001", "marketType": "CROSS"}}}
    [btc] = dydx.parse_instruments(json.dumps(body).encode())
    assert btc.symbol == "BTC-USD" and btc.base == "BTC" and btc.quote == "USD" and btc.contract_size == 1.0
    conns = dydx.ws_connections([btc, btc], frozenset(Channel), dydx.SPEC.ws_url)
    msgs = [json.loads(m) for c in conns for m in c.subscribe]
    assert len(conns) == 1  # one market, listed twice, is one subscription
    assert msgs == [{"type": "subscribe", "channel": "v4_markets"}, {"type": "subscribe", "channel": "v4_trades", "id": "BTC-USD"}]


def _markets(n: int) -> list[Instrument]:
    body = {"markets": {f"C{k}-USD": {"ticker": f"C{k}-USD", "status": "ACTIVE", "marketType": "CROSS"} for k in range(n)}}
    return dydx.parse_instruments(json.dumps(body).encode())


# The indexer's limits (dydxprotocol/v4-chain indexer/services/socks: config.ts, lib/subscription.ts):
# 32 subscriptions per channel per connection; 2 subscribe messages per second per (connection, channel, id).
CHANNEL_LIMIT = 32


def _check_indexer_limits(conns: list[WsConnection]) -> Counter[tuple[str, str | None]]:
    seen: Counter[tuple[str, str | None]] = Counter()
    for c in conns:
        msgs = [json.loads(m) for m in c.subscribe]
        assert all(m["type"] == "subscribe" for m in msgs)
        per_channel = Counter(m["channel"] for m in msgs)
        assert all(n <= CHANNEL_LIMIT for n in per_channel.values()), per_channel
        keys = Counter((m["channel"], m.get("id")) for m in msgs)
        assert max(keys.values()) == 1  # each subscription once per connection: far below 2 a second
        seen.update(keys)
    return seen


@pytest.mark.parametrize(("n", "sockets"), [(1, 1), (32, 1), (33, 2), (150, 5), (300, 10)])
def test_subscriptions_are_packed_within_the_indexers_limits(n: int, sockets: int):
    # Issue 16: max 2 subscribe messages per connection opened 76 sockets for 150 markets (over 100 for 200+).
    markets = _markets(n)
    conns = dydx.ws_connections(markets, dydx.SPEC.channels, dydx.SPEC.ws_url)
    assert len(conns) == sockets == -(-n // CHANNEL_LIMIT)
    assert len({c.name for c in conns}) == len(conns) and {c.url for c in conns} == {dydx.SPEC.ws_url}
    seen = _check_indexer_limits(conns)
    assert seen == Counter([("v4_markets", None)] + [("v4_trades", m.symbol) for m in markets])  # every market once
    assert json.loads(conns[0].subscribe[0]) == {"type": "subscribe", "channel": "v4_markets"}


def test_channel_subsets_pack_the_same_way():
    markets = _markets(70)
    trades = dydx.ws_connections(markets, frozenset({Channel.LIQUIDATIONS}), dydx.SPEC.ws_url)
    assert len(trades) == 3 and _check_indexer_limits(trades) == Counter(("v4_trades", m.symbol) for m in markets)
    only_oi = dydx.ws_connections(markets, frozenset({Channel.OPEN_INTEREST}), dydx.SPEC.ws_url)
    assert [c.subscribe for c in only_oi] == [(b'{"type":"subscribe","channel":"v4_markets"}',)]
    assert dydx.ws_connections([], frozenset({Channel.LIQUIDATIONS}), dydx.SPEC.ws_url) == []
