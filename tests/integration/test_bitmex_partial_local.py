"""BitMEX's `partial` (orders resting when the subscription starts) is not a new liquidation, on the live path.

A Feed against the local exchange: BitMEX answers each `liquidation:SYMBOL` subscription with a partial listing
the resting liquidation orders; only the `insert` pushed afterwards may reach the emitted (live) events, and after
a reconnect the partial sent again adds nothing either (issue 16).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from _local import Sink, wait_until

from liqwatch.feeds.venue_feed import Feed
from liqwatch.model import Channel, FeedState, InstrumentIndex, PositionSide
from liqwatch.sim import VenueServer
from liqwatch.sim.dialects import bitmex as bitmex_dialect
from liqwatch.venues import get_venue

pytestmark = pytest.mark.timeout(60)

RESTING = [
    {"orderID": "resting-1", "symbol": "XBTUSD", "side": "Sell", "price": 31000, "leavesQty": 5000},
    {"orderID": "resting-2", "symbol": "XBTUSD", "side": "Buy", "price": 33000, "leavesQty": 700},
]
INSERT = {"orderID": "new-1", "symbol": "XBTUSD", "side": "Buy", "price": 32500, "leavesQty": 1200}


def insert_frame(row: dict[str, object]) -> bytes:
    return json.dumps({"table": "liquidation", "action": "insert", "data": [row]}, separators=(",", ":")).encode()


async def test_partial_rows_are_not_published_only_the_insert(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(bitmex_dialect.RESTING_LIQUIDATIONS, "XBTUSD", RESTING)
    sink = Sink()
    async with VenueServer(["bitmex"]) as server, aiohttp.ClientSession() as session:
        feed = Feed(
            get_venue("bitmex"), session=session, ws_url=server.ws_url("bitmex"), rest_url=server.rest_url("bitmex"),
            channels=frozenset({Channel.LIQUIDATIONS}), instruments=InstrumentIndex(), coins=None, emit=sink,
            backoff_base_s=0.05, backoff_cap_s=0.2, stale_after_s=60.0,
        )
        task = asyncio.create_task(feed.run())
        try:
            await wait_until(lambda: "liquidation:XBTUSD" in server.subscribed_topics("bitmex"), what="liquidation:XBTUSD subscribed")
            sent_before = server.counters("bitmex").frames_sent
            await server.push("bitmex", insert_frame(INSERT))
            await wait_until(lambda: server.counters("bitmex").frames_sent > sent_before, what="the insert sent")
            await wait_until(lambda: len(sink.liquidations) >= 1, what="the insert's liquidation")
            await asyncio.sleep(0.1)  # anything the partial produced would be here by now (it was sent first)
            assert [(e.venue_event_id, e.position_side, e.notional_usd) for e in sink.liquidations] == [
                ("new-1", PositionSide.SHORT, 1200.0)
            ]

            # A reconnect: BitMEX sends the partial again (now listing the inserted order too); still nothing new.
            monkeypatch.setitem(bitmex_dialect.RESTING_LIQUIDATIONS, "XBTUSD", [*RESTING, INSERT])
            accepted = server.counters("bitmex").connections_accepted
            assert await server.drop_connections("bitmex") >= 1
            await wait_until(
                lambda: server.counters("bitmex").connections_accepted > accepted and server.connections("bitmex") > 0,
                what="reconnected",
            )
            await wait_until(lambda: sink.count(FeedState.CONNECTED) >= 2, what="connected again")
            await server.push("bitmex", insert_frame({**INSERT, "orderID": "new-2", "side": "Sell", "leavesQty": 300}))
            await wait_until(lambda: len(sink.liquidations) >= 2, what="the second insert's liquidation")
            await asyncio.sleep(0.1)
            assert [e.venue_event_id for e in sink.liquidations] == ["new-1", "new-2"]
            assert sink.liquidations[1].position_side is PositionSide.LONG
        finally:
            feed.stop()
            await asyncio.wait_for(task, 5)
