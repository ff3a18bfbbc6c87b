"""Feed against the local exchange server: real sockets on 127.0.0.1, real venue wire formats."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _local import Sink, free_port, wait_until

from liqwatch.feeds.parse import SKIP_MALFORMED, SKIP_UNKNOWN_INSTRUMENT
from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, InstrumentIndex, PositionSide
from liqwatch.sim import VenueServer
from liqwatch.sim.venue_server import DEFAULT_RECORDED_DIR
from liqwatch.venues import VENUES, get_venue

pytestmark = pytest.mark.timeout(20)

BINANCE = "binance-usdm"
LIQ_BTC = (
    b'{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1584059031426,"o":{"s":"BTCUSDT","S":"BUY",'
    b'"o":"LIMIT","f":"IOC","q":"0.014","p":"4793.91","ap":"4706.04","X":"FILLED","l":"0.015","z":"0.014","T":1584059031421}}}'
)


def binance_liq(symbol: str, side: str, qty: str, price: str, ts_ms: int = 1700000000000) -> bytes:
    return (
        f'{{"stream":"!forceOrder@arr","data":{{"e":"forceOrder","E":{ts_ms},"o":{{"s":"{symbol}","S":"{side}",'
        f'"o":"LIMIT","f":"IOC","q":"{qty}","p":"{price}","ap":"{price}","X":"FILLED","l":"{qty}","z":"{qty}","T":{ts_ms}}}}}}}'
    ).encode()


class Running:
    def __init__(self, feed: Feed, sink: Sink, task: asyncio.Task[None]) -> None:
        self.feed, self.sink, self.task = feed, sink, task


async def start_feed(
    venue: str, server: VenueServer, session: aiohttp.ClientSession, *, ws_url: str | None = None,
    index: InstrumentIndex | None = None, coins: frozenset[str] | None = None, **kw: Any,
) -> Running:
    sink = Sink()
    feed = Feed(
        get_venue(venue), session=session, ws_url=ws_url or server.ws_url(venue), rest_url=server.rest_url(venue),
        channels=frozenset({Channel.LIQUIDATIONS}), instruments=index if index is not None else InstrumentIndex(),
        coins=coins, emit=sink, backoff_base_s=0.05, backoff_cap_s=0.2, **kw,
    )
    return Running(feed, sink, asyncio.create_task(feed.run()))


async def stop(run: Running) -> None:
    run.feed.stop()
    await asyncio.wait_for(run.task, 5)


async def test_binance_instruments_subscribe_and_liquidations(server: VenueServer, session: aiohttp.ClientSession) -> None:
    run = await start_feed(BINANCE, server, session)
    await server.wait_subscribed(BINANCE)
    assert "!forceOrder@arr" in server.subscribed_topics(BINANCE)
    assert len(run.feed.instruments.for_venue(BINANCE)) > 100  # recorded exchangeInfo over REST
    await server.push(BINANCE, LIQ_BTC)
    await server.push(BINANCE, binance_liq("ETHUSDT", "SELL", "2", "2000"))
    await wait_until(lambda: len(run.sink.liquidations) == 2, what="two liquidations")
    btc, eth = run.sink.liquidations
    assert (btc.symbol, btc.position_side, btc.quantity, btc.price) == ("BTCUSDT", PositionSide.SHORT, 0.014, 4706.04)
    assert btc.notional_usd == pytest.approx(0.014 * 4706.04)
    assert (eth.symbol, eth.position_side, eth.notional_usd) == ("ETHUSDT", PositionSide.LONG, 4000.0)
    assert run.sink.states()[:2] == [FeedState.CONNECTING, FeedState.CONNECTED]
    status = run.feed.status()
    (conn,) = status["connections"].values()  # type: ignore[attr-defined]
    assert conn["state"] == "connected" and conn["events"] == 2 and conn["reconnects"] == 0
    await stop(run)
    assert run.sink.states()[-1] is FeedState.DISCONNECTED


async def test_replay_file_sends_only_subscribed_topics(server: VenueServer, session: aiohttp.ClientSession) -> None:
    run = await start_feed(BINANCE, server, session)
    await server.wait_subscribed(BINANCE)
    pushed = await server.replay_file(BINANCE, DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.liquidations.jsonl")
    skipped = await server.replay_file(BINANCE, DEFAULT_RECORDED_DIR / "BINANCE_FUTURES.klines.jsonl")  # not subscribed
    assert (pushed, skipped) == (1, 0)
    await wait_until(lambda: len(run.sink.liquidations) == 1, what="the recorded liquidation")
    await stop(run)


async def test_drop_mid_stream_reconnects_and_resubscribes(server: VenueServer, session: aiohttp.ClientSession) -> None:
    run = await start_feed(BINANCE, server, session)
    await server.wait_subscribed(BINANCE)
    server.drop_after(BINANCE, 1)
    await server.push(BINANCE, LIQ_BTC)
    await wait_until(lambda: run.sink.count(FeedState.DISCONNECTED) == 1, what="DISCONNECTED")
    await server.push(BINANCE, binance_liq("ETHUSDT", "SELL", "1", "2000"))  # held until resubscribed
    await wait_until(lambda: len(run.sink.liquidations) == 2, what="a liquidation after the reconnect")
    assert server.counters(BINANCE).subscribe_messages == 2
    assert server.counters(BINANCE).connections_accepted == 2
    states = run.sink.states()
    i = states.index(FeedState.DISCONNECTED)
    assert states[i : i + 3] == [FeedState.DISCONNECTED, FeedState.CONNECTING, FeedState.CONNECTED]
    assert run.feed.sockets[0].reconnects == 1
    await stop(run)


async def test_malformed_frame_is_counted_and_socket_stays_up(server: VenueServer, session: aiohttp.ClientSession) -> None:
    run = await start_feed(BINANCE, server, session)
    await server.wait_subscribed(BINANCE)
    assert await server.send_malformed(BINANCE) == 1
    await server.send_malformed(BINANCE, b"\x00\xffnot json")
    await server.push(BINANCE, LIQ_BTC)
    await wait_until(lambda: len(run.sink.liquidations) == 1, what="the good frame")
    counters = run.feed.counters[run.feed.sockets[0].name]
    assert counters.skipped[SKIP_MALFORMED] == 2
    assert run.feed.sockets[0].reconnects == 0
    assert server.counters(BINANCE).connections_accepted == 1
    assert run.sink.count(FeedState.DISCONNECTED) == 0
    await stop(run)


async def test_stall_goes_stale_then_reconnects(server: VenueServer, session: aiohttp.ClientSession) -> None:
    run = await start_feed(BINANCE, server, session, stale_after_s=0.5)
    await server.wait_subscribed(BINANCE)
    server.stall(BINANCE)
    started = time.monotonic()
    await wait_until(lambda: run.sink.count(FeedState.STALE) >= 1, what="STALE")
    assert time.monotonic() - started < 1.5
    server.stall(BINANCE, on=False)
    await wait_until(lambda: server.counters(BINANCE).subscribe_messages >= 2, what="a resubscribe after STALE")
    await server.push(BINANCE, LIQ_BTC)
    await wait_until(lambda: len(run.sink.liquidations) == 1, what="a frame after the reconnect")
    assert run.feed.sockets[0].reconnects >= 1
    await stop(run)


async def test_rest_429_with_retry_after_then_success(server: VenueServer, session: aiohttp.ClientSession) -> None:
    server.fail_rest(BINANCE, 429, count=2, retry_after_s=0.3)
    started = time.monotonic()
    run = await start_feed(BINANCE, server, session)
    await server.wait_subscribed(BINANCE)
    assert time.monotonic() - started >= 0.6  # waited Retry-After twice
    assert run.feed.rest.stats()["rate_limited"] == 2
    assert run.feed.instruments.for_venue(BINANCE)
    await stop(run)


async def test_connection_refused_retries_and_never_raises(server: VenueServer, session: aiohttp.ClientSession) -> None:
    port = free_port()
    run = await start_feed(BINANCE, server, session, ws_url=f"ws://127.0.0.1:{port}/market/stream")
    await wait_until(lambda: run.sink.count(FeedState.DISCONNECTED) >= 3, what="three failed attempts")
    detail = next(s.detail for s in run.sink.statuses if s.state is FeedState.DISCONNECTED)
    assert f"connection refused by 127.0.0.1:{port}" in detail and "retrying in" in detail
    assert not run.task.done()
    await stop(run)


async def test_unknown_symbol_frames_are_held_and_reparsed(server: VenueServer, session: aiohttp.ClientSession) -> None:
    full = InstrumentIndex()
    async with aiohttp.ClientSession() as s:
        body = await (await s.get(f"{server.rest_url(BINANCE)}/fapi/v1/exchangeInfo")).read()
    cached = [i for i in get_venue(BINANCE).parse_instruments(body) if i.symbol != "ETHUSDT"]
    full.update(cached)
    run = await start_feed(BINANCE, server, session, index=full)  # starts from the "cache": no REST round trip
    await server.wait_subscribed(BINANCE)
    assert server.counters(BINANCE).rest_requests == 1  # only the test's own exchangeInfo fetch
    await server.push(BINANCE, binance_liq("ETHUSDT", "SELL", "1", "2000"))
    counters = lambda: run.feed.counters[run.feed.sockets[0].name]  # noqa: E731
    await wait_until(lambda: counters().skipped[SKIP_UNKNOWN_INSTRUMENT] == 1, what="an unknown-instrument skip")
    assert len(run.feed.held) == 1 and not run.sink.liquidations
    await run.feed.load_instruments()
    assert [e.symbol for e in run.sink.liquidations] == ["ETHUSDT"]
    assert not run.feed.held
    await stop(run)


def _require(venue: str) -> None:
    if venue not in VENUES:
        pytest.skip(f"{venue} is not in the venue registry yet")


async def test_bybit_connect_subscribe_push(server: VenueServer, session: aiohttp.ClientSession) -> None:
    _require("bybit")
    run = await start_feed("bybit", server, session, coins=frozenset({"BTC"}))
    await server.wait_subscribed("bybit")
    assert "allLiquidation.BTCUSDT" in server.subscribed_topics("bybit")
    frame = (
        b'{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1740480207578,'
        b'"data":[{"T":1740480207110,"s":"BTCUSDT","S":"Buy","v":"0.5","p":"60000"}]}'
    )
    await server.push("bybit", frame)
    await wait_until(lambda: len(run.sink.liquidations) == 1, what="a Bybit liquidation")
    (liq,) = run.sink.liquidations
    assert (liq.symbol, liq.position_side, liq.notional_usd) == ("BTCUSDT", PositionSide.LONG, 30000.0)
    await stop(run)


async def test_okx_connect_subscribe_push(server: VenueServer, session: aiohttp.ClientSession) -> None:
    _require("okx")
    run = await start_feed("okx", server, session, coins=frozenset({"BTC"}))
    await server.wait_subscribed("okx")
    frame = (
        b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000",'
        b'"ccy":"","posSide":"long","side":"sell","sz":"10","ts":"1680173247614"}],"instFamily":"BTC-USD",'
        b'"instId":"BTC-USD-SWAP","instType":"SWAP","uly":"BTC-USD"}]}'
    )
    await server.push("okx", frame)
    await wait_until(lambda: len(run.sink.liquidations) == 1, what="an OKX liquidation")
    (liq,) = run.sink.liquidations
    assert (liq.symbol, liq.position_side, liq.notional_usd) == ("BTC-USD-SWAP", PositionSide.LONG, 1000.0)
    await stop(run)


def test_recorded_dir_exists() -> None:
    assert Path(DEFAULT_RECORDED_DIR, "BINANCE_FUTURES.rest_instruments.jsonl").exists()
