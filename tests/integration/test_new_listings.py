"""Instruments refresh follows listings on the live connections (local exchange on 127.0.0.1, real DuckDB)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
from _local import Sink, wait_until

from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, InstrumentIndex, PositionSide
from liqwatch.sim import VenueServer
from liqwatch.storage.duckdb_store import DuckDBStore
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(20)


def _with_listing(body: bytes, listing: dict[str, object]) -> bytes:
    obj = json.loads(body)
    obj["result"]["list"].append(listing)
    return json.dumps(obj).encode()


def _without(body: bytes, symbol: str) -> bytes:
    obj = json.loads(body)
    obj["result"]["list"] = [i for i in obj["result"]["list"] if i["symbol"] != symbol]
    return json.dumps(obj).encode()


NEW = {
    "symbol": "NEWUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "NEW",
    "quoteCoin": "USDT", "settleCoin": "USDT", "deliveryTime": "0",
}
NEW_LIQ = (
    b'{"topic":"allLiquidation.NEWUSDT","type":"snapshot","ts":1739502303204,"data":'
    b'[{"T":1739502302929,"s":"NEWUSDT","S":"Buy","v":"200","p":"0.125"}]}'
)


def _feed(server: VenueServer, session: aiohttp.ClientSession, sink: Sink, coins: frozenset[str]) -> Feed:
    return Feed(
        get_venue("bybit"), session=session, ws_url=server.ws_url("bybit"), rest_url=server.rest_url("bybit"),
        channels=frozenset({Channel.LIQUIDATIONS}), instruments=InstrumentIndex(), coins=coins, emit=sink,
        backoff_base_s=0.05, backoff_cap_s=0.2,
    )


async def test_refresh_subscribes_a_new_listing_live_and_its_liquidations_are_stored(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with VenueServer(["bybit"]) as server:
        sink = Sink()
        feed = _feed(server, session, sink, frozenset({"BTC", "NEW"}))
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: "allLiquidation.BTCUSDT" in server.subscribed_topics("bybit"), what="BTC subscribed")
            before_conns = server.counters("bybit").connections_accepted
            assert "allLiquidation.NEWUSDT" not in server.subscribed_topics("bybit")

            linear = server.instruments_body("bybit", category="linear")
            server.set_instruments("bybit", _with_listing(linear, NEW), category="linear")
            await feed.refresh()

            await wait_until(lambda: "allLiquidation.NEWUSDT" in server.subscribed_topics("bybit"), what="NEWUSDT subscribed")
            # on the live connection: nothing reconnected, no extra socket
            assert server.counters("bybit").connections_accepted == before_conns
            assert FeedState.STALE not in sink.states() and sink.count(FeedState.CONNECTING) == len(feed.sockets)
            assert "NEWUSDT" in feed.subscribed and feed.subscription_updates == 1

            await server.push("bybit", NEW_LIQ)
            await wait_until(lambda: any(e.symbol == "NEWUSDT" for e in sink.liquidations), what="NEWUSDT liquidation")
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)

    store = DuckDBStore(tmp_path / "liq.duckdb")
    try:
        store.write(sink.events)
        rows = store.execute("SELECT symbol, market, position_side, quantity, notional_usd FROM liquidations")
    finally:
        store.close()
    assert rows == [("NEWUSDT", "NEW-USDT-PERP", PositionSide.LONG.value, 200.0, 25.0)]


async def test_refresh_after_a_delisting_drops_the_topic_on_reconnect(session: aiohttp.ClientSession) -> None:
    async with VenueServer(["bybit"]) as server:
        sink = Sink()
        feed = _feed(server, session, sink, frozenset({"BTC", "ETH"}))
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: "allLiquidation.ETHUSDT" in server.subscribed_topics("bybit"), what="ETH subscribed")
            linear = server.instruments_body("bybit", category="linear")
            server.set_instruments("bybit", _without(linear, "ETHUSDT"), category="linear")
            added, removed = await asyncio.wait_for(_refresh_counts(feed), 5)
            assert (added, removed) == (0, 1)
            await wait_until(
                lambda: server.connections("bybit") >= 1
                and "allLiquidation.ETHUSDT" not in server.subscribed_topics("bybit")
                and "allLiquidation.BTCUSDT" in server.subscribed_topics("bybit"),
                what="resubscribed without ETHUSDT",
            )
            assert "ETHUSDT" not in feed.subscribed and "BTCUSDT" in feed.subscribed
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)


async def _refresh_counts(feed: Feed) -> tuple[int, int]:
    await feed.load_instruments()
    return await feed.update_subscriptions()
