"""Each venue's documented answer to a refused subscribe raises SubscribeRejected with the venue's own words.

The frames are the venues' published error shapes (see docs/venues-verification.md, "Subscribe errors"); the
request is what the answer names (an echoed id, topic or channel), None where it names nothing. The second test
checks the local exchange's reject mode answers each venue's real subscribe requests in a shape the parser
recognises, so `liqwatch doctor` and the fault tests see the same thing as against the venue.
"""

from __future__ import annotations

import gzip

import pytest

from golden import instruments_for
from liqwatch.errors import ParseError, SubscribeRejected
from liqwatch.feeds.parse import SKIP_SUBSCRIBE_REJECTED, FrameCounters, safe_parse
from liqwatch.model import InstrumentIndex
from liqwatch.sim.dialects import DIALECTS
from liqwatch.venues import get_venue

VENUES = ("bybit", "okx", "bitmex", "deribit", "htx", "bitget", "gate", "kraken-futures", "dydx", "hyperliquid")

# (venue, frame, the error text the exception keeps, the request it names)
CASES = [
    (
        "bybit",
        b'{"success":false,"ret_msg":"error:handler not found,topic:allLiquidation.BTCUSDX","conn_id":"c1",'
        b'"req_id":"linear-0-0","op":"subscribe"}',
        "error:handler not found,topic:allLiquidation.BTCUSDX",
        "linear-0-0",
    ),
    (
        "okx",
        b'{"event":"error","code":"60018","msg":"Wrong URL or channel:liquidation-orders,instId or instType:SWAPX '
        b"doesn't exist.\",\"connId\":\"a4d3ae55\"}",
        "60018: Wrong URL or channel:liquidation-orders,instId or instType:SWAPX doesn't exist.",
        None,
    ),
    (
        "bitmex",
        b'{"status":400,"error":"Unknown table: liquidations","meta":{},'
        b'"request":{"op":"subscribe","args":["liquidations:XBTUSD"]}}',
        "400: Unknown table: liquidations",
        "liquidations:XBTUSD",
    ),
    (
        "bitmex",  # a bare-string args, as BitMEX echoes a one-topic request
        b'{"status":400,"error":"Unknown table: x","meta":{},"request":{"op":"subscribe","args":"x"}}',
        "400: Unknown table: x",
        "x",
    ),
    (
        "deribit",
        b'{"jsonrpc":"2.0","id":2,"error":{"message":"Invalid params","data":{"reason":"wrong format",'
        b'"param":"channels"},"code":-32602},"usIn":1,"usOut":2,"usDiff":1,"testnet":false}',
        "-32602: Invalid params (wrong format)",
        "id 2",
    ),
    (
        "htx",  # the market websocket (klines, tickers): {"sub", "id"} answered by status:error
        b'{"id":"3","status":"error","err-code":"bad-request","err-msg":"invalid topic market.BTC-USDX.kline.1min",'
        b'"ts":1733500000000}',
        "bad-request: invalid topic market.BTC-USDX.kline.1min",
        "id 3",
    ),
    (
        "htx",  # the notify websocket (liquidations): {"op":"sub","cid","topic"} answered with a non-zero err-code
        b'{"op":"sub","cid":"1","topic":"public.BTC-USDX.liquidation_orders","ts":1733500000000,"err-code":4001,'
        b'"err-msg":"invalid topic"}',
        "4001: invalid topic",
        "public.BTC-USDX.liquidation_orders",
    ),
    (
        "bitget",
        b'{"event":"error","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"BTCUSDX"},"code":30001,'
        b'"msg":"instType:USDT-FUTURES,channel:ticker,instId:BTCUSDX doesn\'t exist","op":"subscribe"}',
        "30001: instType:USDT-FUTURES,channel:ticker,instId:BTCUSDX doesn't exist",
        "USDT-FUTURES/ticker/BTCUSDX",
    ),
    (
        "gate",
        b'{"time":1733500000,"time_ms":1733500000123,"channel":"futures.tickers","event":"subscribe",'
        b'"error":{"code":2,"message":"unknown contract BTC_USDX"},"result":null}',
        "2: unknown contract BTC_USDX",
        "futures.tickers",
    ),
    ("kraken-futures", b'{"event":"error","message":"Invalid product id"}', "Invalid product id", None),
    (
        "kraken-futures",
        b'{"event":"alert","message":"Failed to subscribe to authenticated feed"}',
        "Failed to subscribe to authenticated feed",
        None,
    ),
    (
        "dydx",
        b'{"type":"error","message":"Invalid subscribe message: channel v4_tradez is not valid",'
        b'"connection_id":"0a1b","message_id":1}',
        "Invalid subscribe message: channel v4_tradez is not valid",
        None,
    ),
    (
        "hyperliquid",
        b'{"channel":"error","data":"Invalid subscription {\\"type\\":\\"activeAssetCtx\\",\\"coin\\":\\"BTCX\\"}"}',
        'Invalid subscription {"type":"activeAssetCtx","coin":"BTCX"}',
        None,
    ),
]


@pytest.mark.parametrize(("venue", "frame", "text", "request_"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_the_venue_error_shape_raises_subscribe_rejected(venue: str, frame: bytes, text: str, request_: str | None) -> None:
    module = get_venue(venue)
    with pytest.raises(SubscribeRejected) as caught:
        module.parse_frame(frame, InstrumentIndex(), 0)
    assert caught.value.venue == venue
    assert caught.value.text == text
    assert caught.value.request == request_
    counters = FrameCounters()
    wire = gzip.compress(frame) if module.SPEC.frame_encoding == "gzip" else frame
    assert safe_parse(module, wire, InstrumentIndex(), 0, counters) == []
    assert counters.skipped == {SKIP_SUBSCRIBE_REJECTED: 1}
    assert text in counters.last_error


@pytest.mark.parametrize(
    ("venue", "frame"),
    [
        ("bitmex", b'{"status":401,"error":"Not authenticated","meta":{},"request":{"op":"authKeyExpires","args":[]}}'),
        ("deribit", b'{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"},"testnet":false}'),
        ("htx", b'{"status":"error","err-code":"bad-request","err-msg":"invalid contract","ts":1}'),
        ("gate", b'{"time":1,"channel":"futures.ping","event":"","error":{"code":1,"message":"invalid argument"}}'),
        ("kraken-futures", b'{"event":"unsubscribed_failed","feed":"ticker","product_ids":["PF_XBTUSD"]}'),
    ],
)
def test_errors_that_answer_no_subscribe_stay_parse_errors(venue: str, frame: bytes) -> None:
    with pytest.raises(ParseError):
        get_venue(venue).parse_frame(frame, InstrumentIndex(), 0)


@pytest.mark.parametrize("venue", VENUES)
def test_the_local_exchange_rejects_real_subscribes_in_the_venue_shape(venue: str) -> None:
    module, dialect = get_venue(venue), DIALECTS[venue]
    index = instruments_for(venue)
    instruments = index.for_venue(venue)[:3]
    conns = module.ws_connections(instruments, module.SPEC.channels, module.SPEC.ws_url)
    rejected = 0
    for conn in conns:
        for request in conn.subscribe:
            reply = dialect.on_message(request, True)
            if not reply.subscribe:  # not a subscription (Kraken's heartbeat feed, Deribit's set_heartbeat)
                continue
            for frame in reply.frames:
                with pytest.raises(SubscribeRejected) as caught:
                    module.parse_frame(frame, index, 0)
                assert caught.value.text
                rejected += 1
    assert rejected >= 1
