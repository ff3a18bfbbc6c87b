"""Binance COIN-M: `!markPrice@arr@1s` is not documented for dstream. Refused or silent, the Feed swaps it for the
documented `<pair>@markPrice@1s` streams on the live connection; the liquidation stream, in a SUBSCRIBE of its own
on the same connection, is never interrupted (local exchange on 127.0.0.1 speaking dstream's wire format)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from _local import Sink, wait_until

from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, InstrumentIndex, MarkPrice
from liqwatch.sim import VenueServer
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(30)
VENUE = "binance-coinm"
CONN = f"{VENUE}-0"


def _liquidation(n: int) -> bytes:
    order = {"s": "BTCUSD_PERP", "ps": "BTCUSD", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "3", "p": "9314.5",
             "ap": "9352.7", "X": "FILLED", "l": "3", "z": "3", "T": 1594622954021 + n}
    return json.dumps({"stream": "!forceOrder@arr", "data": {"e": "forceOrder", "E": 1594622954023 + n, "o": order}}).encode()


def _pair_marks() -> bytes:  # the documented per-pair stream: every symbol of the pair in one array
    data = [{"e": "markPriceUpdate", "E": 1596095725000, "s": s, "p": "10934.6", "P": "10962.1", "i": "10933.6", "r": r, "T": t}
            for s, r, t in (("BTCUSD_210924", "", 0), ("BTCUSD_PERP", "0.0001", 1596096000000))]
    return json.dumps({"stream": "btcusd@markPrice@1s", "data": data}).encode()


def _feed(server: VenueServer, session: aiohttp.ClientSession, sink: Sink, silence_s: float | None) -> Feed:
    return Feed(
        get_venue(VENUE), session=session, ws_url=server.ws_url(VENUE), rest_url=server.rest_url(VENUE),
        channels=frozenset({Channel.LIQUIDATIONS, Channel.MARK_PRICE}), instruments=InstrumentIndex(),
        coins=frozenset({"BTC"}), emit=sink, backoff_base_s=0.05, backoff_cap_s=0.2, fallback_silence_s=silence_s,
    )


async def _mark_prices_arrive_and_liquidations_go_on(server: VenueServer, feed: Feed, sink: Sink) -> None:
    await server.push(VENUE, _liquidation(0))
    await wait_until(lambda: len(sink.liquidations) == 1, what="a liquidation before the fallback")
    await wait_until(lambda: "btcusd@markPrice@1s" in server.subscribed_topics(VENUE), what="the per-pair stream")
    await server.push(VENUE, _pair_marks())
    await server.push(VENUE, _liquidation(1))
    await wait_until(lambda: len(sink.liquidations) == 2, what="a liquidation after the fallback")
    marks = [e for e in sink.events if isinstance(e, MarkPrice)]
    assert {(m.symbol, m.mark_price) for m in marks} == {("BTCUSD_210924", 10934.6), ("BTCUSD_PERP", 10934.6)}
    # one connection all along: the swap happened on the live socket, no reconnect
    assert server.counters(VENUE).connections_accepted == 1 and feed.sockets[0].reconnects == 0
    assert sink.count(FeedState.CONNECTED) == 1 and FeedState.STALE not in sink.states()
    assert CONN in feed.status()["subscription_fallbacks"]  # type: ignore[operator]
    # every reconnect after subscribes the per-pair streams instead of the all-market one
    sent = [json.loads(m)["params"] for m in feed.sockets[0].connection.subscribe]
    assert ["!forceOrder@arr"] in sent and ["btcusd@markPrice@1s"] in sent and ["!markPrice@arr@1s"] not in sent


async def test_a_refused_all_market_mark_stream_falls_back_to_per_pair_streams(session: aiohttp.ClientSession) -> None:
    async with VenueServer([VENUE]) as server:
        server.refuse_topics(VENUE, ["!markPrice@arr@1s"])  # Binance's real error reply, for that request only
        sink = Sink()
        feed = _feed(server, session, sink, silence_s=None)  # the venue's 30 s silence bound: the refusal acts first
        task = asyncio.create_task(feed.run())
        try:
            await _mark_prices_arrive_and_liquidations_go_on(server, feed, sink)
            assert feed.counters[CONN].skipped["subscribe_rejected"] == 1
            assert "refused request 2" in feed.fallbacks.applied[CONN]
            await server.drop_connections(VENUE)  # a reconnect subscribes the per-pair streams straight away
            await wait_until(lambda: server.counters(VENUE).connections_accepted == 2, what="reconnect")
            await wait_until(lambda: server.counters(VENUE).subscribe_messages >= 5, what="resubscribed")
            assert feed.counters[CONN].skipped["subscribe_rejected"] == 1  # not asked again
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)


async def test_a_silent_all_market_mark_stream_falls_back_to_per_pair_streams(session: aiohttp.ClientSession) -> None:
    async with VenueServer([VENUE]) as server:  # accepts `!markPrice@arr@1s` and never sends anything on it
        sink = Sink()
        feed = _feed(server, session, sink, silence_s=0.5)
        task = asyncio.create_task(feed.run())
        try:
            await _mark_prices_arrive_and_liquidations_go_on(server, feed, sink)
            assert "no mark_price for 0.5 s" in feed.fallbacks.applied[CONN]
            assert feed.counters[CONN].skipped["subscribe_rejected"] == 0
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)
